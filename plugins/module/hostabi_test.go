package module_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

// The filters read the request headers in one host call and scan the
// pairs themselves (plugins/filters/hostabi.go). A header with an empty
// value is a header like any other: the scan goes past it, so a spoofed
// x-detour-cluster after it is still found and removed, and an empty
// x-detour-cell is found (and removed) too.
func TestEmptyHeaderValueDoesNotHideLaterHeaders(t *testing.T) {
	for _, tc := range []struct {
		name      string
		extra     [][2]string
		wantStrip int64
	}{
		{"spoof after an empty value", [][2]string{{"x-empty", ""}, {"x-detour-cluster", "attacker"}}, 1},
		{"empty cell header", [][2]string{{"x-detour-cell", ""}}, 1},
		{"both after an empty value", [][2]string{{"x-empty", ""}, {"x-detour-cell", ""}, {"x-detour-cluster", "attacker"}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, edgeAuto, worldOpts{workers: 1})
			s := w.request(0, "GET", tc.extra...)
			w.clock.Advance(time.Second)
			require.True(t, s.Complete)
			assert.Equal(t, tc.wantStrip, w.m("router.stripped_headers"))
			v, _ := header(s.Upstream.Headers, "x-detour-cluster")
			assert.Contains(t, []string{"cluster-1a", "cluster-1b", "cluster-2"}, v)
			_, cell := header(s.Upstream.Headers, "x-detour-cell")
			assert.False(t, cell)
			w.noTraps()
		})
	}
}

// An ejection re-evaluates the service's state at once, in the request
// that caused it, not at the next tick: right after the third gateway
// error in a row ejects cluster-1a, the state is FAILED_OVER (the errors
// before it had made it DEGRADED).
func TestEjectionEvaluatesTheStateAtOnce(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1, configure: setThresholds(3, 3, 3)})
	w.status["cluster-1a"] = 503
	// POSTs avoid cluster-1a for outlier.SuspectMs after each failure
	// (router.Suspects): the third failure comes about 2 s in.
	for i := 0; i < 3000 && len(w.logs("ejected cluster-1a")) == 0; i++ {
		s := w.request(0, "POST")
		w.clock.Advance(6 * time.Millisecond)
		require.True(t, s.Complete)
	}
	require.NotEmpty(t, w.logs("ejected cluster-1a"))
	assert.Equal(t, int64(2), w.m("state"), "FAILED_OVER with the ejection")
	w.noTraps()
}

// The retry budget's limit counts the active requests of every worker
// (each VM publishes its count in shared data; totalActive sums them): 40
// requests at once over 4 workers all fail, and max(20 % of 40, 3) = 8
// retries go, where one worker's own 10 would allow max(2, 3) = 3.
func TestRetryBudgetCountsEveryWorkersRequests(t *testing.T) {
	w, streams := allFailingBurst(t)
	for _, s := range streams {
		require.True(t, s.Complete)
	}
	assert.GreaterOrEqual(t, w.m("retry.attempts"), int64(8))
	w.noTraps()
}

// TestModuleABI: the router steers a request by changing a request header
// and relies on Envoy re-selecting the route on that change, which every
// Envoy does for a module of ABI 0.2.0 or 0.2.1 (envoy PR #14318); Envoy
// 1.33 stopped it only above 0.2.1 (PR #36671, changelog 1.33.0). A
// proxy-wasm SDK that exports a later ABI must bring back the
// clear_route_cache call before this passes again.
func TestModuleABI(t *testing.T) {
	require.Contains(t, []string{pw.ABI020, pw.ABI021}, mod.ABI)
}
