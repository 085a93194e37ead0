package module_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/plugins/config"
	"github.com/detour-mesh/detour/plugins/router"
)

// Decisions of the filter glue that the full mutation run of
// plugins/filters (BENCHMARKS.md) found no test observing.

// zone1a: a proxy in region-1a, so every edge-auto pick is cluster-1a
// while it is healthy (locality tiers) and its retries go to cluster-1b.
var zone1a = pw.Node{Region: "region-1", Zone: "region-1a"}

// asyncAnswers makes the world's upstream answer through the router's
// asynchronous path, so an answer can carry the response flags Envoy's
// router adds to a forwarded response; edit may change each answer.
func asyncAnswers(w *world, edit func(target string, r *httpsim.AsyncResponse)) {
	w.gw.AsyncUpstream = func(req *httpsim.UpstreamRequest, respond func(httpsim.AsyncResponse)) {
		r := httpsim.AsyncResponse{UpstreamResponse: w.upstream(req), Attempts: 1}
		edit(w.target(req.Cluster), &r)
		w.clock.After(r.Delay, func() { respond(r) })
	}
}

// An upstream's 500 that Envoy forwards with UO (its router refused its own
// retry of the 500 for the retry circuit breaker: router.cc,
// Filter::onUpstreamHeaders, RetryStatus::NoOverflow sets
// UpstreamOverflow) is the host's failure for outlier detection (the flag
// says nothing of the host: envoyproxy/envoy#25487 is about overflow
// replies, not forwarded answers), and the retry filter does not retry it
// either (Envoy's breaker refused that retry). Under retryOn 5xx and
// consecutive5xx 3: three such 500s reach the client as they are, no
// http_call is dispatched, and cluster-1a is ejected on the third. In the
// combined layout the retry part reads the outlier part's facts, in the
// modules layout it reads the flags itself.
func TestUpstream500WithOverflowFlag(t *testing.T) {
	for _, layout := range []string{"", "modules"} {
		t.Run("layout="+layout, func(t *testing.T) {
			w := newWorld(t, edgeAuto, worldOpts{workers: 1, layout: layout, node: zone1a, configure: func(cfg map[string]any) {
				setThresholds(3, 3, 3)(cfg)
				cfg["retry"].(map[string]any)["retryOn"] = []string{"5xx"}
			}})
			asyncAnswers(w, func(target string, r *httpsim.AsyncResponse) {
				if target == "cluster-1a" {
					r.Status, r.Flags = 500, httpsim.FlagUO
				}
			})
			for range 3 {
				s := w.request(0, "GET")
				w.clock.Advance(50 * time.Millisecond)
				require.True(t, s.Complete)
				assert.Equal(t, "cluster-1a", w.target(s.Upstream.Cluster))
				assert.Equal(t, 500, s.Response.Status)
			}
			assert.Empty(t, w.calls, "not retried")
			assert.NotEmpty(t, w.logs("ejected cluster-1a"), "counted as cluster-1a's 5xx")
			w.noTraps()
		})
	}
}

// A request Envoy will not retry (POST is outside the retry methods)
// avoids a target whose host just failed (router.Suspects), for
// outlier.SuspectMs; a GET still goes there. One POST gets cluster-1a's
// 503; the next POSTs within the second go to cluster-1b, GETs to
// cluster-1a.
func TestPostAvoidsASuspectTarget(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1, node: zone1a})
	w.status["cluster-1a"] = 503
	s := w.request(0, "POST")
	w.clock.Advance(20 * time.Millisecond)
	require.True(t, s.Complete)
	require.Equal(t, 503, s.Response.Status)
	delete(w.status, "cluster-1a")
	for range 10 {
		post, get := w.request(0, "POST"), w.request(0, "GET")
		w.clock.Advance(20 * time.Millisecond)
		require.True(t, post.Complete)
		require.True(t, get.Complete)
		assert.Equal(t, "cluster-1b", w.target(post.Upstream.Cluster))
		assert.Equal(t, "cluster-1a", w.target(get.Upstream.Cluster))
	}
	w.noTraps()
}

// A success Envoy's own retry saved (upstream.request_attempt_count 2:
// an earlier attempt failed on another host of the target, unseen here)
// makes the target suspect too: the POSTs right after it avoid cluster-1a,
// every one of them (the host table's change re-reads the health at once,
// not within the generation bound).
func TestRetrySavedSuccessMakesTheTargetSuspect(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1, node: zone1a})
	saved := true
	asyncAnswers(w, func(target string, r *httpsim.AsyncResponse) {
		if target == "cluster-1a" && saved {
			r.Attempts, saved = 2, false
		}
	})
	s := w.request(0, "GET")
	w.clock.Advance(20 * time.Millisecond)
	require.True(t, s.Complete)
	require.Equal(t, 200, s.Response.Status)
	require.Equal(t, "cluster-1a", w.target(s.Upstream.Cluster))
	for range 10 {
		post := w.request(0, "POST")
		w.clock.Advance(20 * time.Millisecond)
		require.True(t, post.Complete)
		assert.Equal(t, "cluster-1b", w.target(post.Upstream.Cluster))
	}
	w.noTraps()
}

// attempts 1 is one retry, though untried targets are left (with
// attempts 2 and three targets the tried mask alone would stop a third).
func TestOneRetryAttempt(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1, configure: func(cfg map[string]any) {
		cfg["retry"].(map[string]any)["attempts"] = 1
	}})
	for _, tg := range w.cfg.Targets {
		w.status[tg.Cluster] = 503
	}
	s := w.request(0, "GET")
	w.clock.Advance(5 * time.Second)
	require.True(t, s.Complete)
	assert.Equal(t, 503, s.Response.Status)
	assert.Len(t, w.calls, 1)
	assert.Equal(t, int64(1), w.m("retry.attempts"))
	w.noTraps()
}

// A retry never goes back to a target the request already tried, even one
// outlier detection does not count as failing: cluster-1a answers 409
// (retried under retriable-4xx, a success for outlier detection), and the
// retry goes to cluster-1b, the next tier, not to cluster-1a again.
func TestRetryLeavesTheTriedTarget(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1, node: zone1a, configure: func(cfg map[string]any) {
		cfg["retry"].(map[string]any)["retryOn"] = []string{"retriable-4xx"}
	}})
	w.status["cluster-1a"] = 409
	for range 5 {
		w.calls = nil
		s := w.request(0, "GET")
		w.clock.Advance(time.Second)
		require.True(t, s.Complete)
		assert.Equal(t, 200, s.Response.Status)
		require.Len(t, w.calls, 1)
		assert.Equal(t, "cluster-1b", w.target(w.calls[0]))
	}
	w.noTraps()
}

// noCalls: the cluster manager knows no http_call cluster, so a retry's
// dispatch fails (Envoy's dispatch_http_call returns BadArgument for an
// unknown cluster).
type noCalls struct{ *world }

func (noCalls) HasCluster(string) bool { return false }

// A host error is counted in internal_errors and the request fails open:
// every retry's dispatch fails, the 503 passes as it came.
func TestInternalErrorsAreCounted(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1})
	w.proc.HTTPCalls = noCalls{w}
	for _, tg := range w.cfg.Targets {
		w.status[tg.Cluster] = 503
	}
	s := w.request(0, "GET")
	w.clock.Advance(time.Second)
	require.True(t, s.Complete)
	assert.Equal(t, 503, s.Response.Status)
	assert.Positive(t, w.m("internal_errors"))
	assert.NotEmpty(t, w.logs("internal error, failing open"))
	w.noTraps()
}

// A failover that sets the cell header raises no internal error (and
// counts the request on its target), in the combined and the split
// layouts: the router root loads the cell keys in both.
func TestFailedOverCellHeaderInEveryLayout(t *testing.T) {
	for _, layout := range []string{"", "split"} {
		t.Run("layout="+layout, func(t *testing.T) {
			w := newWorld(t, meshReviews, worldOpts{workers: 1, layout: layout, env: keyEnv(cellKey)})
			w.dead["cluster-1"] = true
			var s *httpsim.Stream
			for range 20 {
				s = w.sendReviews()
			}
			assert.Equal(t, "cluster-2", w.target(s.Upstream.Cluster))
			v, ok := header(s.Upstream.Headers, "x-detour-cell")
			assert.True(t, ok, "cell header set on failover")
			assert.Equal(t, "us-west1", cellRegion(v))
			assert.Zero(t, w.m("internal_errors"))
			w.noTraps()
		})
	}
}

// A configuration with router.MaxTargets targets starts and routes (the
// masks of plugins/router are 64 bits; one more is refused).
func TestMaxTargetsStart(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1, configure: func(cfg map[string]any) {
		tgs := cfg["targets"].([]any)
		for i := len(tgs); i < router.MaxTargets; i++ {
			tg := map[string]any{}
			for k, v := range tgs[2].(map[string]any) {
				tg[k] = v
			}
			tg["cluster"] = fmt.Sprintf("cluster-x%d", i)
			tgs = append(tgs, tg)
		}
		cfg["targets"] = tgs
	}})
	require.Len(t, w.cfg.Targets, router.MaxTargets)
	s := w.request(0, "GET")
	w.clock.Advance(time.Second)
	require.True(t, s.Complete)
	_, routed := header(s.Upstream.Headers, w.cfg.Headers.Cluster)
	assert.True(t, routed)
	w.noTraps()
}

// A request with a header block larger than the hot-path scratch block
// (16 KiB; Envoy accepts 60 KiB by default) is read from Go memory and
// routed as any other, and so is one that leaves the block too little
// room for the reads after it in the same callback (the sweep puts the
// block's end at every 8-byte boundary near 16 KiB).
func TestLargeRequestHeaders(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1})
	sizes := []int{100, 15 << 10, 20 << 10, 40 << 10}
	for n := 16<<10 - 1024; n <= 16<<10; n += 4 {
		sizes = append(sizes, n)
	}
	for _, size := range sizes {
		s := w.request(0, "GET", [2]string{"x-large", strings.Repeat("a", size)})
		w.clock.Advance(10 * time.Millisecond)
		require.True(t, s.Complete)
		require.Equal(t, 200, s.Response.Status, "size %d", size)
		_, routed := header(s.Upstream.Headers, w.cfg.Headers.Cluster)
		require.True(t, routed, "size %d", size)
	}
	assert.Zero(t, w.m("internal_errors"))
	w.noTraps()
}

// A failure the router cannot lay on a target (no such cluster: Envoy's
// 503 with NC and no xds.cluster_name) marks no target tried: the retry
// (outside the budget: it never reached a server) takes the best target,
// here cluster-1b, the proxy's own zone, whose subset cluster the
// gateway's router does not know but an http_call reaches.
func TestUnknownClusterMarksNoTargetTried(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1, node: pw.Node{Region: "region-1", Zone: "region-1b"}})
	w.gw.Clusters = func(name string) bool { return w.target(name) != "cluster-1b" }
	for range 3 {
		w.calls = nil
		s := w.request(0, "GET")
		w.clock.Advance(time.Second)
		require.True(t, s.Complete)
		require.Len(t, w.calls, 1)
		assert.Equal(t, "cluster-1b", w.target(w.calls[0]))
		assert.Equal(t, 200, s.Response.Status)
	}
	w.noTraps()
}

// resetCalls: every http_call is reset before an answer (no headers).
type resetCalls struct{ *world }

func (r resetCalls) HTTPCall(req *pw.HTTPCallRequest) pw.HTTPCallResult {
	r.calls = append(r.calls, req.Cluster)
	return pw.HTTPCallResult{Fault: pw.FaultReset, Delay: 5 * time.Millisecond}
}

// A retry reset before it answered has no headers to read: the next
// target is tried, and then the first failure passes, without an internal
// error.
func TestResetRetryReadsNoHeaders(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1})
	w.proc.HTTPCalls = resetCalls{w}
	w.status["cluster-1a"], w.status["cluster-1b"], w.status["cluster-2"] = 503, 503, 503
	s := w.request(0, "GET")
	w.clock.Advance(5 * time.Second)
	require.True(t, s.Complete)
	assert.Equal(t, 503, s.Response.Status)
	assert.Len(t, w.calls, int(w.cfg.Retry.Attempts))
	assert.Zero(t, w.m("internal_errors"))
	w.noTraps()
}

// A retried answer reaches the client with one :status, the call's: the
// call's pseudo-headers are not handed to the local reply (Envoy's
// sendLocalReply would append a second :status to its own).
func TestRetriedAnswerHasOneStatus(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1, node: zone1a})
	w.status["cluster-1a"] = 503
	s := w.request(0, "GET")
	w.clock.Advance(time.Second)
	require.True(t, s.Complete)
	require.Len(t, w.calls, 1)
	assert.Equal(t, 200, s.Response.Status)
	n := 0
	for _, kv := range s.Response.Headers {
		if kv[0] == ":status" {
			n++
			assert.Equal(t, "200", kv[1])
		}
	}
	assert.LessOrEqual(t, n, 1, "%v", s.Response.Headers)
	w.noTraps()
}

// A probe answered 500 fails (without a configured probe status, a probe
// succeeds below 500): the target stays out.
func TestProbeAnswer500KeepsTheTargetOut(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1, node: zone1a})
	require.Zero(t, w.cfg.Detection.ProbeStatus)
	w.dead["cluster-1a"] = true
	w.run(50, 10*time.Millisecond)
	require.NotEmpty(t, w.logs("ejected cluster-1a"))
	w.dead["cluster-1a"] = false
	w.status["cluster-1a"] = 500
	w.clock.Advance(40 * time.Second)
	assert.Empty(t, w.logs("back in service"))
	assert.Equal(t, int64(1), w.m("target.cluster-1a.ejected"))
	assert.Positive(t, w.m("target.cluster-1a.probe_failures"))
	w.noTraps()
}

// Probes during a hold-down: a slow one (cold pods) holds the target down
// longer and says so, without an internal error; a fast one changes
// nothing and logs nothing.
func TestProbesInHoldDown(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1, node: zone1a})
	w.dead["cluster-1a"] = true
	w.run(50, 10*time.Millisecond)
	require.NotEmpty(t, w.logs("ejected cluster-1a"))
	w.dead["cluster-1a"] = false
	w.slow["cluster-1a"] = 150 * time.Millisecond
	for i := 0; i < 100 && len(w.logs("held down")) == 0; i++ {
		w.clock.Advance(100 * time.Millisecond)
	}
	require.NotEmpty(t, w.logs("back in service, hold-down"))
	require.NotEmpty(t, w.logs("in hold-down: held down"), "a slow probe extends the hold-down")
	extended := len(w.logs("held down"))
	delete(w.slow, "cluster-1a")
	w.clock.Advance(5 * time.Second)
	assert.Len(t, w.logs("held down"), extended, "fast probes extend nothing")
	assert.Zero(t, w.m("internal_errors"))
	w.noTraps()
}

// Latency failover (the compiled latency example: p99 300 ms, 40 ms
// cross-region): cluster-2, without answers of its own, is expected at
// the budget plus the cross-region hop (340 ms), so cluster-1 answering
// at 305 ms (p99 read as 319 ms, its histogram bucket's top) breaches the
// budget but stays; at 505 ms it is ejected
// (without an internal error). A probe answered in exactly the budget is
// not too slow: it returns the target.
func TestLatencyCrossRegionExpectation(t *testing.T) {
	w := newWorld(t, latencyExample, worldOpts{workers: 1})
	w.slow["cluster-1"] = 300 * time.Millisecond
	for _, s := range w.sendN(100, 10*time.Millisecond) {
		assert.Equal(t, "cluster-1", w.target(s.Upstream.Cluster))
	}
	assert.Empty(t, w.logs("ejected"), "319 ms: cluster-2 is expected at 340 ms")
	w.slow["cluster-1"] = 500 * time.Millisecond
	w.sendN(100, 10*time.Millisecond)
	require.NotEmpty(t, w.logs("ejected cluster-1"))
	assert.Zero(t, w.m("internal_errors"))
	w.slow["cluster-1"] = 295 * time.Millisecond // the probe: 5 ms + 295 ms
	w.clock.Advance(40 * time.Second)
	assert.Empty(t, w.logs("took 300ms, over"), "%v", w.logs("probe of cluster-1"))
	assert.NotEmpty(t, w.logs("probe of cluster-1 answered 200"))
	w.noTraps()
}

// A worker that learns of an ejection from a record it updates re-reads
// the health at its next request, inside the bound on generation reads
// (one read in eight requests in the combined layout, and every tick):
// worker 1 reads the health (calm: it may skip the next seven reads) and
// sends a slow GET to cluster-1a; meanwhile worker 0's three gateway
// errors eject cluster-1a; the slow GET's 200 reaches worker 1's outlier
// part, which finds the record ejected, and worker 1's next requests,
// before any tick, go to cluster-1b.
func TestEjectionSeenInARecordIsReadAtOnce(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 2, node: zone1a, configure: setThresholds(3, 3, 3)})
	for range 10 { // every worker knows cluster-1a's host
		w.request(0, "GET")
		w.request(1, "GET")
		w.clock.Advance(10 * time.Millisecond)
	}
	// Just past a tick (every 500 ms from the start).
	w.clock.Advance(time.Duration(500-w.clock.Since().Milliseconds()%500+1) * time.Millisecond)
	start := w.clock.Now()
	// cluster-1a's next answer (worker 1's) is a slow 200, the three
	// after it (worker 0's) 503s.
	n := 0
	w.gw.Upstream = func(req *httpsim.UpstreamRequest) httpsim.UpstreamResponse {
		r := w.upstream(req)
		if w.target(req.Cluster) == "cluster-1a" {
			n++
			switch {
			case n == 1:
				r.Delay = 100 * time.Millisecond
			case n <= 4:
				r.Status = 503
			}
		}
		return r
	}
	slow := w.request(1, "GET")
	w.clock.Advance(time.Millisecond)
	for range 3 {
		w.request(0, "GET")
		w.clock.Advance(10 * time.Millisecond)
	}
	require.NotEmpty(t, w.logs("ejected cluster-1a"))
	w.clock.Advance(start.Add(110 * time.Millisecond).Sub(w.clock.Now()))
	require.True(t, slow.Complete)
	assert.Equal(t, 200, slow.Response.Status)
	for range 5 {
		s := w.request(1, "GET")
		w.clock.Advance(10 * time.Millisecond)
		require.True(t, s.Complete)
		assert.Equal(t, "cluster-1b", w.target(s.Upstream.Cluster))
	}
	require.Less(t, w.clock.Now().Sub(start), 400*time.Millisecond, "no tick in between")
	w.noTraps()
}

// The retry filter never retries a gRPC request, so the retry budget never
// sheds one, even when plain requests have spent it: 40 plain GETs and 10
// gRPC ones at once, every target answering 504; the plain requests'
// retries use the budget up and some plain requests are shed, while every
// gRPC request gets the upstream's 504 as it came.
func TestGrpcRequestsNeverShedAmongPlainOnes(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 4})
	for _, tg := range w.cfg.Targets {
		w.status[tg.Cluster] = 504
	}
	var plain, grpc []*httpsim.Stream
	for i := range 40 {
		plain = append(plain, w.request(i%4, "GET"))
	}
	for i := range 10 {
		grpc = append(grpc, w.request(i%4, "GET", [2]string{"content-type", "application/grpc"}))
	}
	w.clock.Advance(5 * time.Second)
	shed := 0
	for _, s := range plain {
		require.True(t, s.Complete)
		if _, ok := header(s.Response.Headers, config.HeaderShed); ok {
			shed++
		}
	}
	require.Positive(t, shed, "the plain requests spent the budget")
	for _, s := range grpc {
		require.True(t, s.Complete)
		_, ok := header(s.Response.Headers, config.HeaderShed)
		assert.False(t, ok, "a gRPC request shed")
		assert.Equal(t, 504, s.Response.Status)
	}
	assert.Equal(t, int64(shed), w.m("retry.budget_exhausted"), "only the plain requests' refusals")
	w.noTraps()
}

// A worker that finds a failing streak in a record it updates re-reads
// the health at its next request, inside the bound on generation reads:
// worker 1 reads the health (calm); worker 0's POST fails on cluster-1a
// (its streak opens, its host is suspect); worker 1's next POST still goes
// there on the health it holds and fails too, and its outlier part finds
// the streak in the record; its POSTs after that avoid the suspect target.
func TestStreakSeenInARecordIsReadAtOnce(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 2, node: zone1a, configure: setThresholds(5, 5, 5)})
	for range 10 {
		w.request(0, "GET")
		w.request(1, "GET")
		w.clock.Advance(10 * time.Millisecond)
	}
	w.clock.Advance(time.Duration(500-w.clock.Since().Milliseconds()%500+1) * time.Millisecond)
	start := w.clock.Now()
	send := func(worker int, method string) *httpsim.Stream {
		s := w.request(worker, method)
		w.clock.Advance(10 * time.Millisecond)
		require.True(t, s.Complete)
		return s
	}
	send(1, "GET") // worker 1 reads the health: calm
	w.status["cluster-1a"] = 503
	require.Equal(t, 503, send(0, "POST").Response.Status)
	s := send(1, "POST")
	require.Equal(t, "cluster-1a", w.target(s.Upstream.Cluster), "the health worker 1 holds")
	require.Equal(t, 503, s.Response.Status)
	delete(w.status, "cluster-1a")
	for range 3 {
		assert.Equal(t, "cluster-1b", w.target(send(1, "POST").Upstream.Cluster))
	}
	require.Less(t, w.clock.Now().Sub(start), 400*time.Millisecond, "no tick in between")
	assert.Empty(t, w.logs("ejected"))
	w.noTraps()
}

// A response's status costs the same host calls whatever its digits, and
// every upstream 5xx the same: the status is parsed from the response
// headers (response.code is read only when it cannot be), and a failure
// reads the answering cluster (xds.cluster_name) rather than trusting the
// router part's pick. Each status is one request on a fresh, warmed
// world; the host calls of that request are counted.
func TestResponseStatusHostCallsAlike(t *testing.T) {
	calls := func(status int) int {
		w := newWorld(t, edgeAuto, worldOpts{workers: 1, node: zone1a})
		for range 20 {
			w.one(t)
		}
		n := 0
		var callback string
		w.proc.Trace = func(_ string, _ int, cb string, _ uint32) { callback = cb }
		w.proc.HostCall = func(string, int, string) {
			if callback != "proxy_on_tick" {
				n++
			}
		}
		w.status["cluster-1a"] = status
		s := w.request(0, "GET")
		w.clock.Advance(10 * time.Millisecond)
		require.True(t, s.Complete)
		require.Equal(t, status, s.Response.Status)
		w.proc.Trace, w.proc.HostCall = nil, nil
		w.noTraps()
		return n
	}
	for _, pair := range [][2]int{{211, 219}, {500, 501}} {
		assert.Equal(t, calls(pair[0]), calls(pair[1]), "%d and %d", pair[0], pair[1])
	}
}
