// Package exchange runs a proxy-wasm module on a scripted HTTP exchange: the
// engine behind `detour wasm run`. An exchange file (YAML) gives the
// requests, what the upstream and http_call clusters answer, and how far to
// advance the virtual clock; the report says what the upstream received,
// what the client got, and what the plugin logged, counted and called.
package exchange

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/detour-mesh/detour/internal/strictyaml"

	pw "github.com/detour-mesh/detour/harness/proxywasm"
)

// File is an exchange file.
type File struct {
	Plugin Plugin `yaml:"plugin"`
	// Filters is a chain of plugins of the same module, in decoding
	// order, instead of Plugin. Filters with the same vmId share one VM per
	// worker, as in Envoy.
	Filters   []Plugin            `yaml:"filters"`
	Workers   int                 `yaml:"workers"`
	LogLevel  Scalar              `yaml:"logLevel"`
	Node      Node                `yaml:"node"`
	Routes    []Route             `yaml:"routes"`
	Clusters  []string            `yaml:"clusters"`
	Requests  []Request           `yaml:"requests"`
	Upstreams map[string][]Answer `yaml:"upstreams"`
	HTTPCalls map[string][]Answer `yaml:"httpCalls"`
	// Advance is how much virtual time the run covers; by default it runs
	// until every request completed.
	Advance Scalar `yaml:"advance"`

	path string
	root *yaml.Node
}

// Plugin is the filter configuration (Envoy's Wasm filter config).
type Plugin struct {
	Name string `yaml:"name"`
	// RootID is root_id (Istio pluginName); Name if empty.
	RootID string `yaml:"rootId"`
	VMID   string `yaml:"vmId"`
	// Configuration is a string, or any YAML value sent as JSON (as Istio
	// sends pluginConfig).
	Configuration   yaml.Node         `yaml:"configuration"`
	VMConfiguration yaml.Node         `yaml:"vmConfiguration"`
	FailurePolicy   Scalar            `yaml:"failurePolicy"`
	ReloadBackoff   Scalar            `yaml:"reloadBackoff"`
	Env             map[string]string `yaml:"env"`
	Envoy           Envoy             `yaml:"envoy"`
}

// Envoy selects version-dependent behaviour.
type Envoy struct {
	// WASI is "427" (Envoy 1.33–1.37, default) or "533".
	WASI             Scalar `yaml:"wasi"`
	LegacyCopyFrom   bool   `yaml:"legacyCopyFrom"`
	LegacyAttributes bool   `yaml:"legacyAttributes"`
}

// Node is the Envoy node identity.
type Node struct {
	ID       string         `yaml:"id"`
	Cluster  string         `yaml:"cluster"`
	Region   string         `yaml:"region"`
	Zone     string         `yaml:"zone"`
	SubZone  string         `yaml:"subZone"`
	Metadata map[string]any `yaml:"metadata"`
}

// Route is one route; the first whose match holds is used.
type Route struct {
	Name  string `yaml:"name"`
	Match struct {
		Prefix  string            `yaml:"prefix"`
		Headers map[string]string `yaml:"headers"`
	} `yaml:"match"`
	Cluster       string `yaml:"cluster"`
	ClusterHeader string `yaml:"clusterHeader"`
	Timeout       Scalar `yaml:"timeout"`
}

// Request is one downstream request.
type Request struct {
	At      Scalar `yaml:"at"`
	Worker  int    `yaml:"worker"`
	Headers Pairs  `yaml:"headers"`
	Body    string `yaml:"body"`
	// BodyChunks sends the body in several data frames instead.
	BodyChunks []string `yaml:"bodyChunks"`
	Trailers   Pairs    `yaml:"trailers"`
	// Upstream answers this request, overriding upstreams[cluster].
	Upstream *Answer `yaml:"upstream"`
}

// Answer is an upstream's or an http_call cluster's response.
type Answer struct {
	Status   int    `yaml:"status"`
	Headers  Pairs  `yaml:"headers"`
	Body     string `yaml:"body"`
	Trailers Pairs  `yaml:"trailers"`
	Delay    Scalar `yaml:"delay"`
	// Fault is connect_failure, timeout, reset, no_healthy_upstream or
	// overflow.
	Fault    Scalar                    `yaml:"fault"`
	Address  string                    `yaml:"address"`
	Metadata map[string]map[string]any `yaml:"metadata"`
	Locality struct {
		Region  string `yaml:"region"`
		Zone    string `yaml:"zone"`
		SubZone string `yaml:"subZone"`
	} `yaml:"locality"`
}

// Scalar is a string that remembers where it was written, so validation
// errors can point at it.
type Scalar = strictyaml.Scalar

// Pairs is a header list: a mapping (in file order) or a list of
// [name, value] pairs (for repeated names).
type Pairs [][2]string

// StrictYAMLOpaque: Pairs checks its own shape.
func (Pairs) StrictYAMLOpaque() {}

func (p *Pairs) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			*p = append(*p, [2]string{n.Content[i].Value, n.Content[i+1].Value})
		}
		return nil
	case yaml.SequenceNode:
		for _, it := range n.Content {
			if it.Kind != yaml.SequenceNode || len(it.Content) != 2 {
				return strictyaml.At(it, "expected a [name, value] pair")
			}
			*p = append(*p, [2]string{it.Content[0].Value, it.Content[1].Value})
		}
		return nil
	}
	return strictyaml.At(n, "expected a mapping or a list of [name, value] pairs")
}

// Error is a validation error with its position and field path.
type Error = strictyaml.Error

// Load reads and validates an exchange file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse validates an exchange file's bytes; path names it in errors.
func Parse(path string, b []byte) (*File, error) {
	doc, err := strictyaml.Root(path, b, "exchange file")
	if err != nil {
		return nil, err
	}
	f := &File{path: path, root: doc}
	if err := strictyaml.Decode(path, doc, f); err != nil {
		return nil, err
	}
	if err := f.validate(); err != nil {
		return nil, strictyaml.Position(doc, err)
	}
	return f, nil
}

func (f *File) errAt(s Scalar, path, msg string) error {
	return &Error{File: f.path, Line: s.Line, Col: s.Col, Path: path, Msg: msg}
}

func (f *File) duration(s Scalar, path string) (time.Duration, error) {
	if s.Value == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s.Value)
	if err != nil || d < 0 {
		return 0, f.errAt(s, path, fmt.Sprintf("expected a non-negative duration such as 250ms or 2s, got %q", s.Value))
	}
	return d, nil
}

var faults = []string{pw.FaultConnectFailure, pw.FaultTimeout, pw.FaultReset, pw.FaultNoHealthyUpstream, pw.FaultOverflow}

func (f *File) checkAnswer(a *Answer, path string) error {
	if _, err := f.duration(a.Delay, path+".delay"); err != nil {
		return err
	}
	if a.Fault.Value != "" {
		ok := false
		for _, x := range faults {
			ok = ok || x == a.Fault.Value
		}
		if !ok {
			return f.errAt(a.Fault, path+".fault", fmt.Sprintf("unknown fault %q (expected one of %s)", a.Fault.Value, strings.Join(faults, ", ")))
		}
	}
	if a.Status != 0 && (a.Status < 100 || a.Status > 599) {
		return &Error{File: f.path, Path: path + ".status", Msg: fmt.Sprintf("expected an HTTP status 100-599, got %d", a.Status)}
	}
	return nil
}

// plugins returns the filter chain with its field paths.
func (f *File) plugins() ([]Plugin, []string) {
	if len(f.Filters) == 0 {
		return []Plugin{f.Plugin}, []string{"plugin"}
	}
	paths := make([]string, len(f.Filters))
	for i := range f.Filters {
		paths[i] = fmt.Sprintf("filters[%d]", i)
	}
	return f.Filters, paths
}

func (f *File) validatePlugin(pl Plugin, path string) error {
	if _, ok := pw.ParseFailurePolicy(pl.FailurePolicy.Value); !ok {
		return f.errAt(pl.FailurePolicy, path+".failurePolicy", fmt.Sprintf("unknown policy %q (expected FAIL_RELOAD, FAIL_CLOSED or FAIL_OPEN)", pl.FailurePolicy.Value))
	}
	if _, err := f.duration(pl.ReloadBackoff, path+".reloadBackoff"); err != nil {
		return err
	}
	if v := pl.Envoy.WASI.Value; v != "" && v != "427" && v != "533" {
		return f.errAt(pl.Envoy.WASI, path+".envoy.wasi", fmt.Sprintf("expected 427 or 533, got %q", v))
	}
	return nil
}

func (f *File) validate() error {
	if len(f.Filters) > 0 && strictyaml.Locate(f.root, "plugin") != nil {
		return &Error{File: f.path, Path: "filters", Msg: "expected plugin or filters, not both"}
	}
	pls, paths := f.plugins()
	names := map[string]bool{}
	for i, pl := range pls {
		if err := f.validatePlugin(pl, paths[i]); err != nil {
			return err
		}
		n := pl.Name
		if n == "" {
			n = "plugin"
		}
		if names[n] {
			return &Error{File: f.path, Path: paths[i] + ".name", Msg: fmt.Sprintf("duplicate filter name %q", n)}
		}
		names[n] = true
	}
	if v := f.LogLevel.Value; v != "" {
		if _, ok := pw.ParseLogLevel(v); !ok {
			return f.errAt(f.LogLevel, "logLevel", fmt.Sprintf("expected trace, debug, info, warn, error or critical, got %q", v))
		}
	}
	if f.Workers < 0 {
		return &Error{File: f.path, Path: "workers", Msg: "expected a positive number of workers"}
	}
	if _, err := f.duration(f.Advance, "advance"); err != nil {
		return err
	}
	for i, r := range f.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		if r.Cluster == "" && r.ClusterHeader == "" {
			return &Error{File: f.path, Path: p, Msg: "expected cluster or clusterHeader"}
		}
		if _, err := f.duration(r.Timeout, p+".timeout"); err != nil {
			return err
		}
	}
	if len(f.Requests) == 0 {
		return &Error{File: f.path, Path: "requests", Msg: "expected at least one request"}
	}
	for i := range f.Requests {
		r := &f.Requests[i]
		p := fmt.Sprintf("requests[%d]", i)
		if _, err := f.duration(r.At, p+".at"); err != nil {
			return err
		}
		if r.Body != "" && len(r.BodyChunks) > 0 {
			return &Error{File: f.path, Path: p, Msg: "expected body or bodyChunks, not both"}
		}
		has := map[string]bool{}
		for _, h := range r.Headers {
			has[strings.ToLower(h[0])] = true
		}
		for _, k := range []string{":method", ":path", ":authority"} {
			if !has[k] {
				return &Error{File: f.path, Path: p + ".headers", Msg: "expected the pseudo-header " + k}
			}
		}
		if r.Upstream != nil {
			if err := f.checkAnswer(r.Upstream, p+".upstream"); err != nil {
				return err
			}
		}
	}
	for _, m := range []struct {
		name string
		v    map[string][]Answer
	}{{"upstreams", f.Upstreams}, {"httpCalls", f.HTTPCalls}} {
		for c, as := range m.v {
			for i := range as {
				if err := f.checkAnswer(&as[i], fmt.Sprintf("%s.%s[%d]", m.name, c, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// configBytes renders a configuration node: a string as is, anything else
// as JSON.
func configBytes(n *yaml.Node) ([]byte, error) {
	if n.Kind == 0 {
		return nil, nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		return []byte(n.Value), nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
