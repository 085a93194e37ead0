package module_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
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

// A target's streak closing reaches every worker: retries steer around
// targets whose last answer failed (router.Next), and a worker must learn
// when that is over. Worker 0 sees cluster-1b answer 503 once; the streak
// stays open for the detection interval (5 s: the window's failure keeps
// the record failing). After the host table's suspicion has lapsed (1 s,
// so it writes no news of its own later), worker 1 reads the open streak.
// Past the interval worker 0 sees cluster-1b answer 200, which closes it.
// Then worker 1's requests fail on connect at cluster-1a and cluster-2
// (no host answers, so only the target records change) and are retried:
// some retry must go to cluster-1b, which a worker still holding the open
// streak would never try first.
func TestClosedStreakReachesTheOtherWorker(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 2, configure: setThresholds(50, 50, 50)})
	for i := range 20 { // every target's host known in each worker
		w.request(i%2, "GET")
		w.clock.Advance(10 * time.Millisecond)
	}
	firstOn := func(worker int, target string) bool {
		for range 100 {
			s := w.request(worker, "GET")
			w.clock.Advance(10 * time.Millisecond)
			require.True(t, s.Complete)
			if s.Upstream != nil && w.target(s.Upstream.Cluster) == target {
				return true
			}
		}
		return false
	}
	w.status["cluster-1b"] = 503
	require.True(t, firstOn(0, "cluster-1b"), "worker 0 sees cluster-1b fail")
	w.clock.Advance(1500 * time.Millisecond)
	delete(w.status, "cluster-1b")
	w.dead["cluster-1b"] = true // answers nothing the streak or host table would change on
	w.request(1, "GET")         // worker 1 reads the open streak
	w.clock.Advance(4 * time.Second)
	delete(w.dead, "cluster-1b")
	require.True(t, firstOn(0, "cluster-1b"), "worker 0 sees cluster-1b answer")
	w.dead["cluster-1a"], w.dead["cluster-2"] = true, true
	var first []string
	for range 10 {
		n := len(w.calls)
		s := w.request(1, "GET")
		w.clock.Advance(30 * time.Millisecond)
		require.True(t, s.Complete)
		if len(w.calls) > n {
			first = append(first, w.target(w.calls[n]))
		}
	}
	require.NotEmpty(t, first)
	assert.Contains(t, first, "cluster-1b", "first retries of worker 1")
	w.noTraps()
}

// The router gives a target with hosts out of its table only its
// priority-load share (router.HostShare: 1.4 × the healthy fraction):
// cluster-1a's two hosts answer in turn, the first fails three times in a
// row (the host's own consecutive count ejects it; the target's count is
// reset by the other host's successes in between), and then of 200
// requests cluster-1a keeps about 1.4 × 1/2 = 70 %.
func TestHostOutShrinksTheTargetsShare(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1, configure: setThresholds(3, 3, 3),
		node: pw.Node{Region: "region-1", Zone: "region-1a"}})
	turn, failing := 0, true
	w.gw.Upstream = func(req *httpsim.UpstreamRequest) httpsim.UpstreamResponse {
		r := w.upstream(req)
		if w.target(req.Cluster) == "cluster-1a" {
			turn++
			r.Address = []string{"10.0.0.2:15443", "10.0.0.3:15443"}[turn%2]
			if failing && turn%2 == 1 {
				r.Status = 503
			}
		}
		return r
	}
	for i := 0; i < 20 && len(w.logs("1 of 2 hosts out")) == 0; i++ {
		w.request(0, "GET")
		w.clock.Advance(10 * time.Millisecond)
	}
	require.NotEmpty(t, w.logs("1 of 2 hosts out"))
	require.Empty(t, w.logs("ejected cluster-1a"))
	failing = false
	clear(w.served)
	w.run(200, 10*time.Millisecond)
	assert.InDelta(t, 140, w.served["cluster-1a"], 20, "%v", w.served)
	w.noTraps()
}

// A target's host table starts empty when the target returns from an
// ejection: the hosts out before (here one out of rotation: Envoy stopped
// sending it requests) say nothing about the target after. cluster-1a's
// two hosts answer in turn, then only the second (the first is out of
// rotation after 24 answers without it, with a failure on record), the
// target is ejected on five failures in a row and returns after 30 s; then
// the second host alone answers and the target takes all the traffic. A
// table kept from before would still count the first host out (and the
// second, ejected by its own five failures), shrinking the target's share.
func TestReturnedTargetForgetsItsHosts(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1, configure: setThresholds(5, 5, 5),
		node: pw.Node{Region: "region-1", Zone: "region-1a"}})
	up := twoHosts(w)
	w.run(10, 10*time.Millisecond)
	up.both, up.failing = false, 1
	w.run(40, 10*time.Millisecond)
	require.NotEmpty(t, w.logs("1 of 2 hosts out"), "the first host out of rotation")
	w.status["cluster-1a"] = 503
	for i := 0; i < 50 && len(w.logs("ejected cluster-1a")) == 0; i++ {
		w.request(0, "GET")
		w.clock.Advance(10 * time.Millisecond)
	}
	require.NotEmpty(t, w.logs("ejected cluster-1a"))
	delete(w.status, "cluster-1a")
	for i := 0; i < 60 && len(w.logs("back in service")) == 0; i++ {
		w.clock.Advance(time.Second)
	}
	require.NotEmpty(t, w.logs("back in service"))
	clear(w.served)
	w.run(100, 10*time.Millisecond)
	assert.Equal(t, 100, w.served["cluster-1a"], "%v", w.served)
	// The probe's return evaluated the state machine without an error
	// (an internal error would leave the filters failing open).
	assert.Zero(t, w.m("internal_errors"))
	w.noTraps()
}

// twoHostUpstream: cluster-1a's answers come from two hosts in turn while
// both is set, from the second alone otherwise; the next failing answers
// are 503s.
type twoHostUpstream struct {
	turn, failing int
	both          bool
}

func twoHosts(w *world) *twoHostUpstream {
	u := &twoHostUpstream{both: true}
	w.gw.Upstream = func(req *httpsim.UpstreamRequest) httpsim.UpstreamResponse {
		r := w.upstream(req)
		if w.target(req.Cluster) == "cluster-1a" {
			u.turn++
			r.Address = "10.0.0.3:15443"
			if u.both && u.turn%2 == 1 {
				r.Address = "10.0.0.2:15443"
			}
			if u.failing > 0 {
				u.failing--
				r.Status = 503 // a failure seen: a silence is an ejection, not a removal
			}
		}
		return r
	}
	return u
}
