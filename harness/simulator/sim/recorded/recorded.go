// Package recorded replays the xDS Istio's generator produced, keyed by the
// generator's input, so that the simulator's run loop (harness/simulator/sim)
// is tested on Istio's own output without linking Istio: the Envoy model
// still reads only what the generator gave, never a hand-written reading.
//
// A recording is one generation: the input (as JSON) and the snapshot (the
// protos in wire form), gzipped, in a file named after the input's hash.
// Replay answers an input only from its recording; an input nobody
// recorded is an error, so a change to what the run asks the generator
// (another pod set, another proxy, another configuration) fails the tests
// that replay it rather than passing on a stale answer.
//
// Runs lists the runs the replaying tests make; harness/simulator/drills
// makes them over Istio's generator with a Recorder, rewrites the
// recordings with -update, and otherwise fails when a recording differs
// from what the generator gives now.
package recorded

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/detour-mesh/detour/harness/simulator/xds"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen/input"
)

// Ext is the file name suffix of a recording.
const Ext = ".xds.gz"

// Recording is one generation: what the generator was asked and what it
// answered.
type Recording struct {
	Input    input.Input
	Snapshot *xds.Snapshot
}

// Name is the recording's file name: the proxy's name and the first 16
// hex digits of the SHA-256 of the input's JSON (encoding/json sorts map
// keys, so equal inputs have equal names).
func Name(in input.Input) (string, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	proxy := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ' ' {
			return '_'
		}
		return r
	}, in.Proxy.Name)
	if proxy == "" {
		proxy = "proxy"
	}
	return proxy + "." + hex.EncodeToString(sum[:8]) + Ext, nil
}

// The fields of an encoded recording (protobuf wire format, so that each
// resource keeps its own deterministic proto encoding).
const (
	fieldInput protowire.Number = iota + 1
	fieldNode
	fieldListener
	fieldRoute
	fieldCluster
	fieldEndpoints
	fieldExtension
)

// Encode gzips the recording: the input's JSON, then the node and every
// resource in the snapshot's order.
func Encode(r Recording) ([]byte, error) {
	in, err := json.Marshal(r.Input)
	if err != nil {
		return nil, err
	}
	b := protowire.AppendTag(nil, fieldInput, protowire.BytesType)
	b = protowire.AppendBytes(b, in)
	b = protowire.AppendTag(b, fieldNode, protowire.BytesType)
	b = protowire.AppendString(b, r.Snapshot.Node)
	det := proto.MarshalOptions{Deterministic: true}
	add := func(f protowire.Number, m proto.Message) error {
		mb, err := det.Marshal(m)
		if err != nil {
			return err
		}
		b = protowire.AppendTag(b, f, protowire.BytesType)
		b = protowire.AppendBytes(b, mb)
		return nil
	}
	var errs []error
	for _, m := range r.Snapshot.Listeners {
		errs = append(errs, add(fieldListener, m))
	}
	for _, m := range r.Snapshot.Routes {
		errs = append(errs, add(fieldRoute, m))
	}
	for _, m := range r.Snapshot.Clusters {
		errs = append(errs, add(fieldCluster, m))
	}
	for _, m := range r.Snapshot.Endpoints {
		errs = append(errs, add(fieldEndpoints, m))
	}
	for _, m := range r.Snapshot.Extensions {
		errs = append(errs, add(fieldExtension, m))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return z.Bytes(), nil
}

// Decode reads what Encode wrote.
func Decode(data []byte) (Recording, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return Recording{}, err
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return Recording{}, err
	}
	var r Recording
	r.Snapshot = &xds.Snapshot{}
	s := r.Snapshot
	for len(b) > 0 {
		f, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			return Recording{}, fmt.Errorf("recording: bad field tag at %d bytes from the end", len(b))
		}
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return Recording{}, fmt.Errorf("recording: field %d: %w", f, protowire.ParseError(n))
		}
		b = b[n:]
		var m proto.Message
		switch f {
		case fieldInput:
			if err := json.Unmarshal(v, &r.Input); err != nil {
				return Recording{}, fmt.Errorf("recording: input: %w", err)
			}
			continue
		case fieldNode:
			s.Node = string(v)
			continue
		case fieldListener:
			l := &listenerv3.Listener{}
			s.Listeners, m = append(s.Listeners, l), l
		case fieldRoute:
			rt := &routev3.RouteConfiguration{}
			s.Routes, m = append(s.Routes, rt), rt
		case fieldCluster:
			c := &clusterv3.Cluster{}
			s.Clusters, m = append(s.Clusters, c), c
		case fieldEndpoints:
			e := &endpointv3.ClusterLoadAssignment{}
			s.Endpoints, m = append(s.Endpoints, e), e
		case fieldExtension:
			e := &corev3.TypedExtensionConfig{}
			s.Extensions, m = append(s.Extensions, e), e
		default:
			return Recording{}, fmt.Errorf("recording: unknown field %d", f)
		}
		if err := proto.Unmarshal(v, m); err != nil {
			return Recording{}, fmt.Errorf("recording: field %d: %w", f, err)
		}
	}
	return r, nil
}

// Replay answers the generator's inputs from the recordings in a directory.
type Replay struct {
	Dir string
}

// Generate is an input.Generator: the snapshot recorded for in, decoded
// afresh for each call (the caller owns it). No recording is an error
// naming the input's proxy and how to record it.
func (r Replay) Generate(_ context.Context, in input.Input) (*xds.Snapshot, error) {
	name, err := Name(in)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(r.Dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no recording %s of this input (proxy %s in %s, configuration %s): add the run to recorded.Runs and record it with go test ./harness/simulator/drills -run TestRecordings -update",
			name, in.Proxy.Name, in.Proxy.Cluster, in.ControlPlane.ConfigName)
	}
	if err != nil {
		return nil, err
	}
	rec, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return rec.Snapshot, nil
}

// Recorder wraps a generator and keeps each generation, encoded when it
// happens (the caller may change the snapshot afterwards).
type Recorder struct {
	Gen input.Generator

	mu   sync.Mutex
	recs map[string][]byte
}

// Generate is an input.Generator: Gen's answer, recorded.
func (r *Recorder) Generate(ctx context.Context, in input.Input) (*xds.Snapshot, error) {
	snap, err := r.Gen(ctx, in)
	if err != nil {
		return nil, err
	}
	name, err := Name(in)
	if err != nil {
		return nil, err
	}
	data, err := Encode(Recording{Input: in, Snapshot: snap})
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recs == nil {
		r.recs = map[string][]byte{}
	}
	r.recs[name] = data
	return snap, nil
}

// Recorded is every generation so far, by file name.
func (r *Recorder) Recorded() map[string][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]byte, len(r.recs))
	for k, v := range r.recs {
		out[k] = v
	}
	return out
}

// Files lists the recordings in dir by name.
func Files(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), Ext) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}
