package module_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
)

// A retry counts itself and the retries in flight among the budget's
// active requests (Envoy counts a retry as an upstream request of its
// own): 40 requests sent at once all fail at 5 ms, before any retry
// answers. With budgetPercent 20 and 40 watched requests, the r-th retry
// is allowed while r < 20 % of (40 + r) rounded down: 8 at r = 8 (48),
// 9 at r = 9 (49), so 9 retries and 31 shed. Without the retries in the
// count 8 would go; with them subtracted, 6 (20 % of 34).
func TestRetryBudgetCountsRetriesActive(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1})
	for _, tg := range w.cfg.Targets {
		w.status[tg.Cluster] = 504
	}
	var streams []*httpsim.Stream
	for range 40 {
		streams = append(streams, w.request(0, "GET"))
	}
	w.clock.Advance(5 * time.Millisecond)
	assert.Equal(t, int64(9), w.m("retry.attempts"))
	assert.Equal(t, int64(31), w.m("retry.budget_exhausted"))
	w.clock.Advance(5 * time.Second)
	for _, s := range streams {
		require.True(t, s.Complete)
	}
	w.noTraps()
}
