package module_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/plugins/config"
)

// TestRetryBudgetSameInEveryLayout: the retry budget counts the active
// requests of every worker, whether the filters run as three root IDs or
// as the combined one; each layout's retry filter claims its worker's
// slot, so the same load sheds the same requests, each shed reply naming
// the target that failed.
func TestRetryBudgetSameInEveryLayout(t *testing.T) {
	run := func(layout string) (attempts, exhausted int64) {
		w := newWorld(t, edgeAuto, worldOpts{workers: 4, layout: layout})
		for _, tg := range w.cfg.Targets {
			w.status[tg.Cluster] = 504
		}
		var streams []*httpsim.Stream
		for i := range 40 {
			streams = append(streams, w.request(i%4, "GET"))
		}
		w.clock.Advance(5 * time.Second)
		targets := map[string]bool{}
		for _, tg := range w.cfg.Targets {
			targets[tg.Cluster] = true
		}
		for _, s := range streams {
			require.True(t, s.Complete)
			if _, ok := header(s.Response.Headers, config.HeaderShed); ok {
				// The shed reply names the target whose failure was not retried.
				var target string
				_, err := fmt.Sscanf(s.Response.Body, "detour: the request failed on %s and", &target)
				require.NoError(t, err, s.Response.Body)
				assert.True(t, targets[target], "%q names a target", s.Response.Body)
			}
		}
		w.noTraps()
		return w.m("retry.attempts"), w.m("retry.budget_exhausted")
	}
	attempts, exhausted := run("split")
	require.Positive(t, exhausted, "the load exhausts the budget")
	cAttempts, cExhausted := run("")
	assert.Equal(t, attempts, cAttempts, "attempts")
	assert.Equal(t, exhausted, cExhausted, "budget refusals")
}

// TestProbesInEveryLayout: the outlier filter's tick probes an ejected
// target and returns it once it answers, whether it runs as its own root
// ID or inside the combined one.
func TestProbesInEveryLayout(t *testing.T) {
	for _, layout := range []string{"", "split"} {
		t.Run("layout="+layout, func(t *testing.T) {
			w := newWorld(t, edgeAuto, worldOpts{workers: 2, layout: layout})
			w.dead["cluster-1a"] = true
			w.run(100, 10*time.Millisecond)
			require.Equal(t, int64(2), w.m("state"), "failed over")
			w.clock.Advance(3 * time.Second)
			assert.GreaterOrEqual(t, w.m("target.cluster-1a.probe_failures"), int64(4), "probed every 500 ms")
			w.dead["cluster-1a"] = false
			w.clock.Advance(2 * time.Second)
			assert.NotEmpty(t, w.logs("probe of cluster-1a answered 200"))
			assert.NotEmpty(t, w.logs("back in service at once (first recovery)"))
			assert.Equal(t, int64(0), w.m("state"), "PRIMARY: a clean first recovery returns at once")
			w.noTraps()
		})
	}
}

// TestNoInternalErrorWithoutClearRouteCache: routing on a host with or
// without the clear_route_cache function (Envoy 1.33+, before 1.33)
// raises no internal error.
func TestNoInternalErrorWithoutClearRouteCache(t *testing.T) {
	for name, c := range map[string]pw.Compat{"envoy-1.33+": {}, "envoy-1.32": {NoClearRouteCache: true}} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, edgeAuto, worldOpts{workers: 1, compat: c})
			for _, s := range w.run(5, 10*time.Millisecond) {
				require.Equal(t, 200, s.Response.Status)
			}
			assert.Zero(t, w.m("internal_errors"))
			assert.Positive(t, w.m("target.cluster-1a.requests")+w.m("target.cluster-1b.requests")+w.m("target.cluster-2.requests"),
				"the metrics are read")
		})
	}
}

// TestRetriesUpToAttempts: a request every target fails is retried exactly
// retries.attempts times (one retry filter call per retry), then its last
// failure passes.
func TestRetriesUpToAttempts(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1})
	require.GreaterOrEqual(t, w.cfg.Retry.Attempts, uint32(2), "the example retries more than once")
	for _, tg := range w.cfg.Targets {
		w.status[tg.Cluster] = 503
	}
	s := w.request(0, "GET")
	w.clock.Advance(5 * time.Second)
	require.True(t, s.Complete)
	assert.Equal(t, 503, s.Response.Status)
	assert.Equal(t, int64(w.cfg.Retry.Attempts), w.m("retry.attempts"))
	assert.Len(t, w.calls, int(w.cfg.Retry.Attempts), "one dispatched call per retry")
	w.noTraps()
}
