package module_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
)

const latencyExample = "latency/out/bookinfo/reviews/clusters/cluster-1.yaml"

// sendN sends n GETs to the service from a sidecar (no edge authority),
// one every gap, and runs the clock until they completed.
func (w *world) sendN(n int, gap time.Duration) []*httpsim.Stream {
	var out []*httpsim.Stream
	for i := range n {
		h := [][2]string{{":method", "GET"}, {":path", "/reviews/0"}, {":scheme", "http"}, {":authority", w.cfg.Service.Host}}
		out = append(out, w.gw.Send(httpsim.Request{Headers: h, Worker: i % w.workers}))
		w.clock.Advance(gap)
	}
	w.clock.Advance(time.Second)
	for _, s := range out {
		require.True(w.t, s.Complete, "stream incomplete")
	}
	return out
}

// TestSlowLocalMovesAndReturns: the compiled latency example (p99 300ms,
// 10s window, 20 answers, 40ms cross-region) in cluster-1. Fast answers
// move nothing; 500ms answers eject cluster-1 with the latency detector
// once 20 of them are in the window; probes slower than the budget keep it
// out; once fast again a probe returns it.
func TestSlowLocalMovesAndReturns(t *testing.T) {
	w := newWorld(t, latencyExample, worldOpts{workers: 1})
	require.NotNil(t, w.cfg.Detection.Latency)
	for _, s := range w.sendN(200, 10*time.Millisecond) {
		assert.Equal(t, "cluster-1", w.target(s.Upstream.Cluster))
	}
	assert.Empty(t, w.logs("ejected"), "fast answers move nothing")

	w.slow["cluster-1"] = 500 * time.Millisecond
	slow := 0
	for _, s := range w.sendN(100, 10*time.Millisecond) {
		assert.Equal(t, 200, s.Response.Status)
		if w.target(s.Upstream.Cluster) == "cluster-1" {
			slow++
		}
	}
	require.NotEmpty(t, w.logs("ejected cluster-1"), "slow answers eject")
	assert.NotEmpty(t, w.logs("detector=latency"))
	assert.NotEmpty(t, w.logs("cluster-1 p99 "))
	assert.Less(t, slow, 60, "the move happens while the first slow answers arrive")
	assert.Equal(t, int64(2), w.m("state"), "FAILED_OVER")
	for _, s := range w.sendN(50, 10*time.Millisecond) {
		assert.Equal(t, "cluster-2", w.target(s.Upstream.Cluster))
	}

	// The ejection (30s) ends while the pods are still slow: the probe fails.
	w.clock.Advance(31 * time.Second)
	require.NotEmpty(t, w.logs("probe of cluster-1 took"))
	assert.Equal(t, int64(1), w.m("target.cluster-1.ejected"))

	// Fast again: the next probe returns cluster-1.
	delete(w.slow, "cluster-1")
	w.clock.Advance(2 * time.Minute)
	back := w.logs("probe of cluster-1 answered 200")
	require.NotEmpty(t, back)
	for _, l := range w.logs("probe of cluster-1 took") {
		assert.False(t, strings.Contains(l, "back in service"))
	}
	assert.Equal(t, int64(0), w.m("target.cluster-1.ejected"))
	w.noTraps()
}

// BenchmarkLatencyTracking is one healthy GET from a cluster-1 sidecar
// with latency failover on (examples/latency) and off (examples/bookinfo,
// the same ladder without detection.latency): the cost of timing every
// answer (request.time, the clock, one histogram increment).
func BenchmarkLatencyTracking(b *testing.B) {
	for name, example := range map[string]string{"on": latencyExample, "off": "bookinfo/out/bookinfo/reviews/clusters/cluster-1.yaml"} {
		b.Run(name, func(b *testing.B) {
			w := newWorld(b, example, worldOpts{workers: 1})
			h := [][2]string{{":method", "GET"}, {":path", "/reviews/0"}, {":scheme", "http"}, {":authority", w.cfg.Service.Host}}
			b.ResetTimer()
			done := cpuPerOp(b)
			for range b.N {
				s := w.gw.Send(httpsim.Request{Headers: h})
				w.clock.Advance(10 * time.Millisecond)
				if !s.Complete || s.Response.Status != 200 {
					b.Fatalf("request failed: %+v", s.Response)
				}
			}
			done()
		})
	}
}
