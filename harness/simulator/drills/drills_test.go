package drills

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/report"
	"github.com/detour-mesh/detour/harness/simulator/sim"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen"
)

// The bookinfo drill (the README's demo) shows the seed's story second by
// second: local, then cluster-2 while the local reviews are scaled to
// zero, then local again. It runs as a fleet, both clusters' sidecars at
// their intent load, and shows what detour explain says of cluster-1's
// loss: cluster-2 serves about 550 of its 600 rps, absorbed.
func TestBookinfoDrillStory(t *testing.T) {
	sc, err := sim.Load("../../../examples/bookinfo/drills/local-scaled-to-zero.yaml")
	require.NoError(t, err)
	rep, err := sim.Run(context.Background(), sc, sim.Options{Generate: xdsgen.Generate})
	require.NoError(t, err)
	run := rep.Runs[0]
	assert.Equal(t, []string{"cluster-1", "cluster-2", "none"}, run.Clusters)
	assert.Equal(t, []float64{1, 0, 0}, run.Seconds[20].Share)
	assert.Equal(t, []float64{0, 1, 0}, run.Seconds[60].Share)
	assert.Equal(t, []float64{1, 0, 0}, run.Seconds[100].Share)
	assert.Less(t, run.ErrorRate, 0.01)

	require.NotNil(t, run.Fleet, "the demo drill runs as a fleet")
	var sources []string
	for _, s := range run.Fleet.Sources {
		sources = append(sources, fmt.Sprintf("%s %g", s.Cluster, s.Rate))
	}
	assert.Equal(t, []string{"cluster-1 250", "cluster-2 300"}, sources)
	require.Len(t, run.Fleet.Faults, 1)
	down := run.Fleet.Faults[0]
	load := map[string]report.ClusterLoad{}
	for _, c := range down.Clusters {
		load[c.Cluster] = c
	}
	assert.InDelta(t, 0, load["cluster-1"].RPS, 1, "cluster-1's reviews are down")
	assert.InDelta(t, 550, load["cluster-2"].RPS, 15, "cluster-2 serves both clusters' callers")
	assert.Equal(t, 600.0, load["cluster-2"].Capacity)
	assert.Zero(t, down.OverflowErrors, "absorbed, as detour explain says")

	// cluster-2's own callers stay home throughout; the SVG draws them
	// under the entry's charts.
	other := run.Fleet.Sources[1]
	assert.Nil(t, run.Fleet.Sources[0].Seconds, "the entry's seconds are the run's")
	require.Len(t, other.Seconds, len(run.Seconds))
	for _, sec := range []int{20, 60, 100} {
		assert.Equal(t, []float64{0, 1, 0}, other.Seconds[sec].Share, "second %d", sec)
		assert.InDelta(t, 300, other.Seconds[sec].Requests, 60, "second %d", sec)
	}
	p := rep.Plot()
	require.Len(t, p.Panels[0].Sources, 1)
	assert.Equal(t, "from cluster-2", p.Panels[0].Sources[0].Title)
	assert.Equal(t, 1.0, p.Panels[0].Sources[0].Series[1].Share[60])
}

// Every seed drill runs as detour simulate runs it: side by side, its
// expect: block checked on the detour run and expectBaseline: on the plain
// Istio run; a seed on hand-written Istio YAML (no WasmPlugins) runs
// without the filters, and both blocks apply to that run. The drills run in
// parallel (each is one goroutine's work).
func TestSeedDrillsRun(t *testing.T) {
	files, err := filepath.Glob("../sim/testdata/seeds/*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 19)
	f := mustFilters(t)
	checked := 0
	for _, file := range files {
		sc, err := sim.Load(file)
		require.NoError(t, err)
		if sc.Expect != (sim.Expect{}) {
			checked++
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			opts, want := sim.Options{Generate: xdsgen.Generate, Filters: f}, []int{countExpect(sc.ExpectBaseline), countExpect(sc.Expect)}
			if sc.Istio != "" {
				opts, want = sim.Options{Generate: xdsgen.Generate}, []int{countExpect(sc.ExpectBaseline) + countExpect(sc.Expect)}
			}
			rep, err := sim.Run(context.Background(), sc, opts)
			require.NoError(t, err)
			require.Len(t, rep.Runs, len(want))
			for i, run := range rep.Runs {
				assert.Positive(t, run.Requests)
				assert.Len(t, run.Faults, len(sc.Faults))
				assert.Len(t, run.Expectations, want[i], "%s run: every expectation is checked", run.Name)
				for _, x := range run.Expectations {
					assert.True(t, x.OK, "%s run: %s %s %g, measured %s", run.Name, x.Name, x.Op(), x.Limit, fmtMeasured(x.Measured))
				}
			}
			if t.Failed() {
				t.Log("\n" + rep.Summary())
			}
		})
	}
	assert.GreaterOrEqual(t, checked, 4, "the seeds that state expectations")
}

// countExpect is the number of expectations set in e.
func countExpect(e sim.Expect) int {
	n := 0
	v := reflect.ValueOf(e)
	for i := range v.NumField() {
		if !v.Field(i).IsNil() {
			n++
		}
	}
	return n
}

// Two runs with one seed give byte-identical JSON, on Istio's generator.
func TestDrillDeterministic(t *testing.T) {
	sc, err := sim.Load("../../../examples/bookinfo/drills/local-scaled-to-zero.yaml")
	require.NoError(t, err)
	var out [2][]byte
	for i := range out {
		rep, err := sim.Run(context.Background(), sc, sim.Options{Generate: xdsgen.Generate})
		require.NoError(t, err)
		out[i], err = rep.JSON()
		require.NoError(t, err)
	}
	assert.Equal(t, string(out[0]), string(out[1]))
}

// A broken hand-written Istio file is reported by Istio's generator with
// the file's name.
func TestIstioDirErrorNamesFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "cluster-1.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: bookinfo}\nspec:\n  host: reviews.bookinfo.svc.cluster.local\n  trafficPolicy: {outlierDetection: {consecutive5xxErrors: many}}\n"), 0o644))
	sc, err := sim.Load("../../../examples/bookinfo/drills/local-scaled-to-zero.yaml")
	require.NoError(t, err)
	_, err = sim.Run(context.Background(), sc, sim.Options{Generate: xdsgen.Generate, Istio: dir})
	require.Error(t, err)
	assert.Contains(t, err.Error(), bad)
}

// fmtMeasured is a measured value in a failure message ("never": none).
func fmtMeasured(p *float64) string {
	if p == nil {
		return "never"
	}
	return fmt.Sprint(*p)
}
