package module_test

import "testing"

// withLatency turns on latency failover (detection.latency) in the
// compiled configuration: the tracking issue 16 added, whose cost per
// request BenchmarkRequestLatency measures against BenchmarkRequest's.
func withLatency(cfg map[string]any) {
	cfg["detection"].(map[string]any)["latency"] = map[string]any{"p99Ms": 300, "windowMs": 10000, "minRequests": 20, "crossRegionMs": 40}
}

// BenchmarkRequestLatency is BenchmarkRequest's healthy GET with latency
// tracking on (each answer read request.time and the clock and counted in
// the target's window), in the compiled layout (combined) and the split one.
func BenchmarkRequestLatency(b *testing.B) {
	for _, layout := range []string{"", "split"} {
		name := "detour"
		if layout != "" {
			name += "-" + layout
		}
		b.Run(name, func(b *testing.B) {
			w := newWorld(b, edgeAuto, worldOpts{workers: 1, layout: layout, configure: withLatency})
			if w.cfg.Detection.Latency == nil {
				b.Fatal("latency failover is off")
			}
			w.warmUp(b)
			b.ResetTimer()
			done := cpuPerOp(b)
			for range b.N {
				w.one(b)
			}
			done()
			w.noTraps()
		})
	}
}
