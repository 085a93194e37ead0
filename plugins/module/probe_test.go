package module_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The outlier filter probes a target that is out through the target's
// probe subset (compiler/lower/probe.go: the same endpoints, no outlier
// detection), never through the subset that carries its traffic, where
// Envoy may have ejected every host; a configuration compiled without
// probe subsets probes through the traffic subset.
func TestProbesGoThroughTheProbeSubset(t *testing.T) {
	for _, tc := range []struct {
		name   string
		subset bool
		want   string
	}{
		{"compiled", true, "outbound|9080|probe-cluster-cluster-1a|productpage.bookinfo.svc.cluster.local"},
		{"without probe subsets", false, "outbound|9080|cluster-cluster-1a|productpage.bookinfo.svc.cluster.local"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, edgeAuto, worldOpts{workers: 2, configure: func(cfg map[string]any) {
				if !tc.subset {
					delete(cfg["detection"].(map[string]any), "probeSubsets")
				}
			}})
			w.dead["cluster-1a"] = true
			w.run(100, 10*time.Millisecond)
			require.Equal(t, int64(1), w.m("target.cluster-1a.ejected"))
			w.calls = nil
			w.clock.Advance(2 * time.Second)
			require.Positive(t, w.m("target.cluster-1a.probes"))
			assert.Contains(t, w.calls, tc.want)
			for _, c := range w.calls {
				if w.target(c) == "cluster-1a" {
					assert.Equal(t, tc.want, c, "every probe of cluster-1a")
				}
			}
			w.noTraps()
		})
	}
}
