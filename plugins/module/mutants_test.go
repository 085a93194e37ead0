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
)

// Decisions of the filter glue found by mutation testing (issue 19,
// BENCHMARKS.md "Mutation testing"), each observed on a few requests.

// Envoy before 1.33 has no clear_route_cache foreign function (NOT_FOUND)
// and re-selects the route on the header change alone: the router filter
// steers every request there and raises no internal error.
func TestRoutingOnAHostWithoutClearRouteCache(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1, compat: pw.Compat{NoClearRouteCache: true}})
	w.status["cluster-2"] = 500 // a request the filter did not steer would not reach cluster-2
	var routed int
	for _, s := range w.run(20, 10*time.Millisecond) {
		v, ok := header(s.Upstream.Headers, "x-detour-cluster")
		require.True(t, ok)
		if v == "cluster-2" {
			assert.Equal(t, 500, s.Response.Status)
			routed++
		}
	}
	assert.Zero(t, w.m("internal_errors"))
	assert.Equal(t, int64(20), w.m("target.cluster-1a.requests")+w.m("target.cluster-1b.requests")+w.m("target.cluster-2.requests"))
	assert.Equal(t, int64(routed), w.m("target.cluster-2.requests"))
	w.noTraps()
}

// Per-host failure counters are bounded: a target whose failures come
// from 300 different upstream hosts defines 256 of them, no more (a
// misbehaving upstream must not grow the stats without end).
func TestHostFailureMetricsCapped(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1, configure: setThresholds(1000, 1000, 1000)})
	n := 0
	w.gw.Upstream = func(req *httpsim.UpstreamRequest) httpsim.UpstreamResponse {
		r := w.upstream(req)
		r.Status, r.Address = 500, fmt.Sprintf("10.1.%d.%d:8080", n/200, n%200)
		n++
		return r
	}
	for range 300 {
		s := w.request(0, "POST") // not retried: one failure each
		w.clock.Advance(10 * time.Millisecond)
		require.True(t, s.Complete)
	}
	require.Equal(t, 300, n)
	defined := 0
	for _, m := range w.proc.Stats.Snapshot() {
		if strings.Contains(m.Name, ".host.10.1.") && strings.HasSuffix(m.Name, ".failures") {
			defined++
		}
	}
	assert.Equal(t, 256, defined)
	w.noTraps()
}

// A probe in flight holds its claim for as long as it may take (the
// probe's timeout and a second): while an ejected target takes 900 ms to
// answer, the ticks in between (every 500 ms here) send no second probe.
func TestProbeClaimHoldsUntilTheProbeAnswers(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 2})
	require.Equal(t, uint32(1000), w.cfg.Retry.PerTryTimeoutMs, "the probe's timeout")
	w.dead["cluster-1a"] = true
	w.run(100, 10*time.Millisecond)
	require.Equal(t, int64(1), w.m("target.cluster-1a.ejected"))
	w.dead["cluster-1a"] = false
	w.slow["cluster-1a"] = 900 * time.Millisecond
	before := w.m("target.cluster-1a.probes")
	for i := 0; i < 1000 && w.m("target.cluster-1a.probes") == before; i++ {
		w.clock.Advance(10 * time.Millisecond)
	}
	require.Equal(t, before+1, w.m("target.cluster-1a.probes"), "a probe was sent")
	w.clock.Advance(850 * time.Millisecond)
	assert.Equal(t, before+1, w.m("target.cluster-1a.probes"), "no second probe while the first is out")
	assert.Equal(t, int64(1), w.m("target.cluster-1a.ejected"), "not answered yet")
	w.clock.Advance(200 * time.Millisecond)
	assert.Equal(t, int64(0), w.m("target.cluster-1a.ejected"), "the probe answered: back")
	w.noTraps()
}

// The failure-percentage window restarts one interval after it opened
// (Envoy's outlier detector resets its success-rate buckets each
// interval), so the window's clock is the time of each counted outcome:
// four failures, an interval of quiet, then six more make no window of
// ten (the request volume) and nothing is ejected; ten within one
// interval eject.
func TestFailurePercentageWindowRestartsAfterTheInterval(t *testing.T) {
	for _, tc := range []struct {
		name    string
		quiet   time.Duration
		ejected bool
	}{{"one window", 0, true}, {"two windows", 6 * time.Second, false}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, edgeAuto, worldOpts{workers: 1, configure: func(cfg map[string]any) {
				setThresholds(0, 0, 0)(cfg)
				d := cfg["detection"].(map[string]any)
				d["failurePercentage"], d["failureRequestVolume"] = 50, 10
			}})
			require.Equal(t, uint32(5000), w.cfg.Detection.IntervalMs)
			w.status["cluster-1a"] = 500
			send := func(upTo int) {
				for i := 0; i < 2000 && w.served["cluster-1a"] < upTo; i++ {
					s := w.request(0, "GET")
					w.clock.Advance(10 * time.Millisecond)
					require.True(t, s.Complete)
				}
				require.Equal(t, upTo, w.served["cluster-1a"])
			}
			send(4)
			w.clock.Advance(tc.quiet)
			send(10)
			assert.Equal(t, tc.ejected, len(w.logs("ejected cluster-1a")) > 0, "%v", w.logs("cluster-1a"))
			w.noTraps()
		})
	}
}

// A finished request leaves the retry budget's active count: after 100
// requests one after the other, a burst of 10 failing requests is judged
// on its own 10 (max(20 % of 10, 3) = 3 retries in flight), exactly as
// the same burst on a fresh proxy; an active count that never went down
// would allow 20 % of 110 and shed none.
func TestRetryBudgetForgetsFinishedRequests(t *testing.T) {
	burst := func(warm int) (shed int64) {
		w := newWorld(t, edgeAuto, worldOpts{workers: 1})
		for range warm {
			w.one(t)
		}
		for _, tg := range w.cfg.Targets {
			w.status[tg.Cluster] = 504
		}
		var streams []*httpsim.Stream
		for range 10 {
			streams = append(streams, w.request(0, "GET"))
		}
		w.clock.Advance(5 * time.Second)
		n := 0
		for _, s := range streams {
			require.True(t, s.Complete)
			if _, ok := header(s.Response.Headers, config.HeaderShed); ok {
				n++
			}
		}
		assert.Equal(t, int64(n), w.m("retry.budget_exhausted"))
		w.noTraps()
		return int64(n)
	}
	cold := burst(0)
	assert.Positive(t, cold)
	assert.Equal(t, cold, burst(100))
}

// The grpc-status of a gRPC response's headers counts only when it is a
// status: an unparsable one is none, so the status the trailers bring
// decides (UNAVAILABLE, 14: the third in a row ejects), not a status
// made up from the bad header.
func TestUnparsableGrpcStatusHeaderIsNone(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 2, configure: setThresholds(3, 3, 3)})
	w.gw.Upstream = func(req *httpsim.UpstreamRequest) httpsim.UpstreamResponse {
		r := w.upstream(req)
		if w.target(req.Cluster) == "cluster-2" {
			r.Headers = [][2]string{{"content-type", "application/grpc"}, {"grpc-status", "unavailable"}}
			r.Trailers = [][2]string{{"grpc-status", "14"}}
		}
		return r
	}
	for i := 0; i < 3000 && len(w.logs("ejected cluster-2")) == 0; i++ {
		s := w.request(i%2, "POST")
		w.clock.Advance(10 * time.Millisecond)
		require.True(t, s.Complete)
	}
	assert.NotEmpty(t, w.logs("ejected cluster-2"))
	assert.Equal(t, 3, w.served["cluster-2"], "ejected on the third failure in a row")
	w.noTraps()
}

// A steady, healthy service writes no shared health from its ticks: the
// host counts each tick compares have not moved, so no generation bump
// makes every worker re-read every target (a bump on each tick would
// cost every worker a full refresh twice a second).
func TestSteadyTicksWriteNoSharedHealth(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 2})
	for range 100 {
		w.one(t)
	}
	writes, ticks := 0, 0
	var callback string
	w.proc.Trace = func(_ string, _ int, cb string, _ uint32) {
		callback = cb
		if cb == "proxy_on_tick" {
			ticks++
		}
	}
	w.proc.HostCall = func(_ string, _ int, fn string) {
		if callback == "proxy_on_tick" && fn == "env.proxy_set_shared_data" {
			writes++
		}
	}
	for range 500 {
		w.one(t)
	}
	w.proc.Trace, w.proc.HostCall = nil, nil
	assert.GreaterOrEqual(t, ticks, 10, "5 s of traffic")
	assert.Zero(t, writes)
	w.noTraps()
}

// The retry filter buffers a body up to retry.maxBodyBytes inclusive: a
// PUT body of exactly 64 KiB is retried with the body, one byte more is
// not retried.
func TestRetryBodyLimitInclusive(t *testing.T) {
	for _, tc := range []struct {
		size    int
		retried bool
	}{{config.DefaultMaxBodyBytes, true}, {config.DefaultMaxBodyBytes + 1, false}} {
		w := newWorld(t, "online-banking/out/transaction-service/web-portal/edge.yaml", worldOpts{workers: 1})
		require.Zero(t, w.cfg.Retry.MaxBodyBytes, "the default limit")
		w.status["west"] = 503
		body := make([]byte, tc.size)
		h := [][2]string{{":method", "PUT"}, {":path", "/accounts/1"}, {":scheme", "http"}, {":authority", "bank.example.com"}}
		s := w.gw.Send(httpsim.Request{Headers: h, Body: [][]byte{body[:tc.size/2], body[tc.size/2:]}})
		w.clock.Advance(time.Second)
		require.True(t, s.Complete)
		if tc.retried {
			assert.Equal(t, 200, s.Response.Status, "size %d", tc.size)
			require.Len(t, w.bodies, 1)
			assert.Len(t, w.bodies[0], tc.size)
		} else {
			assert.Equal(t, 503, s.Response.Status, "size %d", tc.size)
			assert.Empty(t, w.bodies)
		}
		w.noTraps()
	}
}

// A request whose retry the budget refused is answered with the
// failure's own 5xx status: under retryOn 5xx, a burst of 500s is shed
// with 500, not with the 503 kept for failures outside 5xx, and a burst
// of 599s with 599 (the class ends there, inclusive).
func TestShedReplyKeepsTheFailuresStatus(t *testing.T) {
	for _, status := range []int{500, 599} {
		w := newWorld(t, edgeAuto, worldOpts{workers: 4, configure: func(cfg map[string]any) {
			cfg["retry"].(map[string]any)["retryOn"] = []string{"5xx"}
		}})
		for _, tg := range w.cfg.Targets {
			w.status[tg.Cluster] = status
		}
		var streams []*httpsim.Stream
		for i := range 40 {
			streams = append(streams, w.request(i%4, "GET"))
		}
		w.clock.Advance(5 * time.Second)
		shed := 0
		for _, s := range streams {
			require.True(t, s.Complete)
			assert.Equal(t, status, s.Response.Status)
			if _, ok := header(s.Response.Headers, config.HeaderShed); ok {
				shed++
			}
		}
		assert.Positive(t, shed, "status %d", status)
		assert.Zero(t, w.m("internal_errors"), "each shed reply was sent once")
		w.noTraps()
	}
}

// A request a Detour hop kept in a region goes to that region's target
// even while it is back from an ejection in its hold-down (the region's
// restriction holds while one of its targets is not out): here the
// region's target is the first of the ladder, cluster-1, in its hold-down
// after its second ejection.
func TestCellRegionTargetInHoldDownKeepsTheRequest(t *testing.T) {
	w := newWorld(t, meshReviews, worldOpts{workers: 1, env: keyEnv(cellKey)})
	require.Equal(t, "cluster-1", w.cfg.Targets[0].Cluster)
	// The first recovery in the flap half-life returns at once; the second
	// is held down.
	for round := range 2 {
		w.dead["cluster-1"] = true
		for i := 0; i < 50 && w.m("target.cluster-1.ejected") == 0; i++ {
			w.sendReviews()
		}
		require.Equal(t, int64(1), w.m("target.cluster-1.ejected"), "round %d", round)
		w.dead["cluster-1"] = false
		for i := 0; i < 1000 && w.m("target.cluster-1.ejected") == 1; i++ {
			w.clock.Advance(10 * time.Millisecond)
		}
		require.Equal(t, int64(0), w.m("target.cluster-1.ejected"), "round %d: the probe brought cluster-1 back", round)
	}
	const rid = "0f9e8d7c-6b5a-4938-2716-050403020101"
	route := func(cellHeader bool) string {
		h := [][2]string{{":method", "GET"}, {":path", "/reviews/1"}, {":scheme", "http"}, {":authority", "reviews.bookinfo.svc.cluster.local:9080"},
			{"x-request-id", rid}}
		if cellHeader {
			h = append(h, [2]string{"x-detour-cell", signCell(t, cellKey, "us-east1", w.clock.Now(), rid)})
		}
		s := w.gw.Send(httpsim.Request{Headers: h})
		w.clock.Advance(20 * time.Millisecond)
		require.NotNil(t, s.Upstream)
		v, _ := header(s.Upstream.Headers, "x-detour-cluster")
		return v
	}
	assert.Equal(t, "cluster-2", route(false), "in its hold-down cluster-1 takes no traffic of its own")
	assert.Equal(t, "cluster-1", route(true))
	assert.Zero(t, w.m("router.cell_forged")+w.m("router.cell_stale"))
	w.clock.Advance(time.Second)
	w.noTraps()
}

// emptyBodies answers every http_call (a retry) without a body.
type emptyBodies struct{ *world }

func (e emptyBodies) HTTPCall(req *pw.HTTPCallRequest) pw.HTTPCallResult {
	r := e.world.HTTPCall(req)
	r.Body = nil
	return r
}

// A retry whose answer has no body is passed on as it is (no body read,
// no internal error): the retried GET gets the 200 with an empty body.
func TestRetriedAnswerWithoutABody(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1})
	w.proc.HTTPCalls = emptyBodies{w}
	w.status["cluster-1a"], w.status["cluster-1b"] = 503, 503
	retried := 0
	for _, s := range w.run(20, 10*time.Millisecond) {
		if s.Response.Status == 200 && s.Response.Body == "" {
			retried++
		}
	}
	assert.Positive(t, retried)
	assert.Zero(t, w.m("internal_errors"))
	w.noTraps()
}
