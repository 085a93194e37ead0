package drills

import (
	"context"
	"testing"
	"time"

	"github.com/detour-mesh/detour/harness/simulator/sim"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen"
)

// BenchmarkDrill10Min: the bookinfo drill (local reviews scaled to zero
// and restored) stretched to 10 minutes at 200 rps, end to end: compiling
// the intent, Istio's generator for the sidecar (once, plus once per EDS
// push), the Envoy model and the network for 120 000 requests, the report.
// harness/simulator/sim's BenchmarkDrill10MinNoGenerator replays the
// generator's recorded answers instead.
func BenchmarkDrill10Min(b *testing.B) {
	benchDrill10Min(b)
}

// benchDrill10Min runs the bookinfo drill stretched to 10 minutes at 200 rps.
func benchDrill10Min(b *testing.B) {
	sc := singleProxy10Min(b)
	b.ReportAllocs()
	requests := 0
	for b.Loop() {
		rep, err := sim.Run(context.Background(), sc, sim.Options{Generate: xdsgen.Generate})
		if err != nil {
			b.Fatal(err)
		}
		requests += rep.Runs[0].Requests
	}
	b.ReportMetric(float64(requests)/b.Elapsed().Seconds(), "req/s")
}

// singleProxy10Min is the bookinfo drill as the single-proxy benchmarks
// measure it: the entry sidecar alone (the file runs as a fleet; its
// fleet variant is BenchmarkSideBySide10MinFleet's), 200 rps for 10
// minutes, the local reviews scaled to zero from 2 to 6 minutes.
func singleProxy10Min(b *testing.B) *sim.Scenario {
	sc, err := sim.Load("../../../examples/bookinfo/drills/local-scaled-to-zero.yaml")
	if err != nil {
		b.Fatal(err)
	}
	sc.Traffic.Fleet, sc.Traffic.Sources = false, nil
	sc.Traffic.Rate, sc.Traffic.Duration = 200, 10*time.Minute
	sc.Faults[0].Start, sc.Faults[0].End = 2*time.Minute, 6*time.Minute
	return sc
}
