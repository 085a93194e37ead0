package module_test

import (
	"runtime"
	"testing"
	"time"
)

// warmUpRequests brings a VM to its steady state before timing: a Go
// guest's heap, and so its linear memory, grows over the first ~8k
// requests of a fresh VM (3.4 to 7.9 MiB for the filters, ~0.7 KiB
// allocated per request until the first GC cycle), which a gateway pays
// once at start, not per request; untimed, it made the figures depend on
// -benchtime.
const warmUpRequests = 10_000

func (w *world) warmUp(b *testing.B) {
	for range warmUpRequests {
		w.one(b)
	}
}

// BenchmarkRequestVsTrivial is BenchmarkRequest's healthy GET through
// Detour's filters and through the trivial header-rewriting filter,
// interleaved in blocks of 50 requests on one locked OS thread, each
// block timed in that thread's CPU time. On a shared machine the load
// changes from second to second, and sub-benchmarks run one after the
// other each see a different machine; here both see the same, so the
// ratio (x-trivial) is stable where the absolute figures are not.
// cpu-ns/op is Detour's, trivial-cpu-ns/op the trivial filter's.
func BenchmarkRequestVsTrivial(b *testing.B) {
	for _, tc := range []struct {
		name, layout string
		configure    func(map[string]any)
	}{
		{"detour", "", nil},
		{"detour-split", "split", nil},
		{"detour-latency", "", withLatency},
		{"detour-split-latency", "split", withLatency},
	} {
		b.Run(tc.name, func(b *testing.B) {
			d := newWorld(b, edgeAuto, worldOpts{workers: 1, layout: tc.layout, configure: tc.configure})
			r := rewriteWorld(b)
			d.warmUp(b)
			r.warmUp(b)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if _, ok := threadCPUTime(); !ok {
				b.Skip("no per-thread CPU time on this platform")
			}
			var td, tr time.Duration
			b.ResetTimer()
			const block = 50
			for i := 0; i < b.N; i += block {
				n := min(block, b.N-i)
				t0, _ := threadCPUTime()
				for range n {
					d.one(b)
				}
				t1, _ := threadCPUTime()
				for range n {
					r.one(b)
				}
				t2, _ := threadCPUTime()
				td += t1 - t0
				tr += t2 - t1
			}
			b.StopTimer()
			b.ReportMetric(float64(td)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(tr)/float64(b.N), "trivial-cpu-ns/op")
			b.ReportMetric(float64(td)/float64(tr), "x-trivial")
			d.noTraps()
		})
	}
}
