package sim

import (
	"context"
	"testing"
	"time"
)

// BenchmarkDrill10MinNoGenerator is harness/simulator/drills'
// BenchmarkDrill10Min (the bookinfo drill stretched to 10 minutes at 200
// rps on its entry sidecar) with Istio's answers replayed from the
// recordings instead of generated: the runner, the Envoy model, the
// network and the report alone, on the same xDS.
func BenchmarkDrill10MinNoGenerator(b *testing.B) {
	sc, err := Load("../../../examples/bookinfo/drills/local-scaled-to-zero.yaml")
	if err != nil {
		b.Fatal(err)
	}
	sc.Traffic.Fleet, sc.Traffic.Sources = false, nil
	sc.Traffic.Rate, sc.Traffic.Duration = 200, 10*time.Minute
	sc.Faults[0].Start, sc.Faults[0].End = 2*time.Minute, 6*time.Minute
	b.ReportAllocs()
	requests := 0
	for b.Loop() {
		rep, err := Run(context.Background(), sc, Options{Generate: replay})
		if err != nil {
			b.Fatal(err)
		}
		requests += rep.Runs[0].Requests
	}
	b.ReportMetric(float64(requests)/b.Elapsed().Seconds(), "req/s")
}
