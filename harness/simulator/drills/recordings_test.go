package drills

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/detour-mesh/detour/harness/simulator/sim"
	"github.com/detour-mesh/detour/harness/simulator/sim/recorded"
	"github.com/detour-mesh/detour/harness/simulator/xds"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen"
	"github.com/detour-mesh/detour/internal/golden"
)

const root = "../../.."

// TestRecordings makes recorded.Runs over Istio's generator and holds
// harness/simulator/sim's recordings to what it gives now: every
// generation recorded, each equal to Istio's answer, and no recording that
// no run asks for. `-update` rewrites them. Each run stops after its first
// simulated 10 s: the run asks the generator everything (the entry, every
// Kubernetes change, the fleet's sidecars) before its clock starts.
func TestRecordings(t *testing.T) {
	rec := &recorded.Recorder{Gen: xdsgen.Generate}
	path := func(p string) string {
		if p == "" {
			return ""
		}
		return filepath.Join(root, p)
	}
	for _, r := range recorded.Runs {
		sc, err := sim.Load(path(r.Scenario))
		require.NoError(t, err)
		cols := []string{sim.RunIstio}
		if r.Filters {
			cols = append(cols, sim.RunDetour)
		}
		if r.Baseline != "" {
			cols = append(cols, sim.RunBaseline)
		}
		for _, col := range cols {
			ctx, cancel := context.WithCancel(context.Background())
			opts := sim.Options{Generate: rec.Generate, Only: col, Istio: path(r.Istio), Baseline: path(r.Baseline),
				Progress: func(string, float64) { cancel() }}
			if col == sim.RunDetour {
				opts.Filters = mustFilters(t)
			}
			_, err := sim.Run(ctx, sc, opts)
			cancel()
			if err != nil {
				require.ErrorIs(t, err, context.Canceled, "%s (%s)", r.Scenario, col)
			}
		}
	}
	got := rec.Recorded()
	dir := path(recorded.Dir)
	files, err := recorded.Files(dir)
	if !*golden.Update {
		require.NoError(t, err)
	}
	for _, f := range files {
		if _, ok := got[f]; ok {
			continue
		}
		if *golden.Update {
			require.NoError(t, os.Remove(filepath.Join(dir, f)))
		} else {
			t.Errorf("%s: no run of recorded.Runs asks for it (go test ./harness/simulator/drills -run TestRecordings -update removes it)", f)
		}
	}
	total := 0
	for name, data := range got {
		total += len(data)
		p := filepath.Join(dir, name)
		old, err := os.ReadFile(p)
		if *golden.Update {
			// An unchanged answer keeps its file: Istio's own noise (below)
			// would otherwise rewrite every recording.
			if err != nil || sameSnapshot(t, name, old, data) != "" {
				require.NoError(t, os.MkdirAll(dir, 0o755))
				require.NoError(t, os.WriteFile(p, data, 0o644))
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: not recorded (go test ./harness/simulator/drills -run TestRecordings -update): %v", name, err)
			continue
		}
		if d := sameSnapshot(t, name, old, data); d != "" {
			t.Errorf("%s differs from Istio's answer now (go test ./harness/simulator/drills -run TestRecordings -update): %s", name, d)
		}
	}
	t.Logf("%d recordings, %d KB", len(got), total/1024)
}

// sameSnapshot compares a recording with Istio's answer now, resource by
// resource as protojson (Any fields expanded, maps sorted: Istio marshals
// the maps inside an Any in no fixed order), less what Istio varies from
// one generation to the next without meaning: the WasmPlugin's resource
// version (a wall-clock time) and the order of the endpoints within a
// locality (WorkloadEntries come in no fixed order; the Envoy model's
// reports do not depend on it, TestDrillDeterministic). It returns the
// first difference, or "".
func sameSnapshot(t *testing.T, name string, old, now []byte) string {
	t.Helper()
	if string(old) == string(now) {
		return ""
	}
	a, err := recorded.Decode(old)
	require.NoError(t, err, name)
	b, err := recorded.Decode(now)
	require.NoError(t, err, name)
	ja, jb := snapshotJSON(t, a.Snapshot), snapshotJSON(t, b.Snapshot)
	if len(ja) != len(jb) {
		return fmt.Sprintf("%d resources recorded, %d now", len(ja), len(jb))
	}
	for i := range ja {
		if ja[i] != jb[i] {
			return fmt.Sprintf("resource %d:\nrecorded: %.3000s\nnow:      %.3000s", i, ja[i], jb[i])
		}
	}
	return ""
}

// resourceVersion is the WasmPlugin's resource version in an ECDS
// resource's protojson.
var resourceVersion = regexp.MustCompile(`"ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION":"[^"]*"`)

func snapshotJSON(t *testing.T, s *xds.Snapshot) []string {
	t.Helper()
	out := []string{s.Node}
	var ms []proto.Message
	for _, m := range s.Listeners {
		ms = append(ms, m)
	}
	for _, m := range s.Routes {
		ms = append(ms, m)
	}
	for _, m := range s.Clusters {
		ms = append(ms, m)
	}
	for _, m := range s.Endpoints {
		m = proto.Clone(m).(*endpointv3.ClusterLoadAssignment)
		for _, l := range m.GetEndpoints() {
			key := func(e *endpointv3.LbEndpoint) string {
				b, err := protojson.Marshal(e)
				require.NoError(t, err)
				return string(b)
			}
			slices.SortFunc(l.LbEndpoints, func(x, y *endpointv3.LbEndpoint) int { return strings.Compare(key(x), key(y)) })
		}
		ms = append(ms, m)
	}
	for _, m := range s.Extensions {
		ms = append(ms, m)
	}
	for _, m := range ms {
		b, err := protojson.Marshal(m)
		require.NoError(t, err)
		out = append(out, resourceVersion.ReplaceAllString(string(b), `"ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION":""`))
	}
	return out
}
