package drills

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/detour-mesh/detour/harness/simulator/sim"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen"
)

// BenchmarkSideBySide10MinFleet: a 10-minute fleet drill with three
// source proxies on examples/edge-auto (the edge gateway with the filters,
// and the sidecars of cluster-1b and cluster-2, plain Istio: the intent's
// WasmPlugins select the edge), each at 200 rps, so each proxy carries
// what BenchmarkSideBySide10Min's one does; cluster-1a's pods down from 2
// to 6 minutes, both runs.
func BenchmarkSideBySide10MinFleet(b *testing.B) {
	abs, err := filepath.Abs("../../../examples/edge-auto/intent.yaml")
	if err != nil {
		b.Fatal(err)
	}
	sc, err := sim.Parse(filepath.Join(filepath.Dir(abs), "bench.yaml"), []byte(`intent: intent.yaml
traffic:
  entry: edge
  rate: 200
  duration: 10m
  seed: 1
  sources: {cluster-1b: 200, cluster-2: 200}
  methods: {GET: 9, POST: 1}
faults:
  - {name: down, kind: serviceScaledToZero, start: 2m, end: 6m, target: {cluster: cluster-1a}}
`))
	if err != nil {
		b.Fatal(err)
	}
	f := mustFilters(b)
	b.ReportAllocs()
	requests := 0
	for b.Loop() {
		rep, err := sim.Run(context.Background(), sc, sim.Options{Generate: xdsgen.Generate, Filters: f})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rep.Runs {
			requests += r.Fleet.Total.Requests
		}
	}
	b.ReportMetric(float64(requests)/b.Elapsed().Seconds(), "req/s")
}
