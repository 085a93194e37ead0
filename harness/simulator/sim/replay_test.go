package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/sim/recorded"
	"github.com/detour-mesh/detour/harness/simulator/sim/scenario"
	"github.com/detour-mesh/detour/harness/simulator/timeline/timelinetest"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/internal/golden"
	"github.com/detour-mesh/detour/plugins/module"
)

// replay is Istio's generator as recorded for recorded.Runs (testdata/xds;
// harness/simulator/drills records them and checks they are what Istio
// gives now). An input nobody recorded fails the run: a change to what the
// run asks the generator cannot pass on a stale answer.
var replay = recorded.Replay{Dir: "testdata/xds"}.Generate

// filters is the Detour module, built and compiled once per test binary.
// The compiled code is also kept in wazero's on-disk compilation cache, so
// the many short test processes of a mutation run (tools/mutants/each runs
// one per mutant) load the compiled module instead of compiling it again,
// about 1.5 s each. wazero keys an entry by the module's hash and the CPU,
// and by its own version, which a test binary does not know ("dev"): the
// directory carries the go.mod version instead, so a wazero upgrade never
// loads code the old one compiled. A cache that fails (a damaged entry)
// is removed, and the module compiled without it.
var filters = sync.OnceValues(func() (*Filters, error) {
	b, err := module.Bytes()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if dir, ok := wazeroCacheDir(); ok {
		if f, err := loadFilters(ctx, b, module.Package, pw.EngineConfig{CacheDir: dir}); err == nil {
			return f, nil
		}
		_ = os.RemoveAll(dir) // the next process fills it again
	}
	return LoadFilters(ctx, b, module.Package)
})

// wazeroCacheDir is the compilation cache's directory for the wazero
// version go.mod requires; false when go.mod does not name one.
func wazeroCacheDir() (string, bool) {
	mod, err := os.ReadFile("../../../go.mod")
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/tetratelabs/wazero" {
			return filepath.Join(os.TempDir(), "detour-wazero-cache", f[1]), true
		}
	}
	return "", false
}

func mustFilters(t testing.TB) *Filters {
	t.Helper()
	f, err := filters()
	require.NoError(t, err)
	return f
}

// The recorded example drills, side by side over Istio's recorded xDS:
// the detour run meets every expectation, the relative ones included, and
// the summary is the one harness/simulator/drills' drill table gets from
// Istio's generator (the same golden file, checked there too), so any
// change to what the run decides (routing, faults, timing, the fleet, the
// filters' start) shows here without linking Istio.
func TestRecordedDrills(t *testing.T) {
	f := mustFilters(t)
	done := map[string]bool{}
	for _, r := range recorded.Runs {
		if !recorded.Summarised(r.Scenario) || done[r.Scenario] {
			continue
		}
		done[r.Scenario] = true
		t.Run(r.Scenario, func(t *testing.T) {
			t.Parallel()
			sc, err := Load(filepath.Join("../../..", r.Scenario))
			require.NoError(t, err)
			rep, err := Run(context.Background(), sc, Options{Generate: replay, Filters: f})
			require.NoError(t, err)
			require.Len(t, rep.Runs, 2)
			relative := 0
			for _, x := range rep.Runs[1].Expectations {
				if x.Against != "" {
					relative++
				}
				assert.True(t, x.OK, "detour run: %s %s %g, measured %v", x.Name, x.Op(), x.Limit, x.Measured)
			}
			assert.Equal(t, 3, relative)
			golden.Check(t, filepath.Join("../../..", recorded.Summary(r.Scenario)), []byte(rep.Summary()))
			svg := timelinetest.Render(t, rep.Plot())
			timelinetest.WellFormed(t, svg)
			timelinetest.Check(t, svg, rep.Plot())
		})
	}
}

// shortDrill is the bookinfo outage drill (a fleet: both clusters'
// sidecars) cut to 40 s: enough for a failover and a transition, cheap
// enough to run several times.
func shortDrill(t testing.TB) *Scenario {
	t.Helper()
	sc, err := Load("../../../examples/bookinfo/drills/local-scaled-to-zero.yaml")
	require.NoError(t, err)
	sc.Traffic.Duration = 40 * time.Second
	sc.Faults[0].Start, sc.Faults[0].End = 10*time.Second, 25*time.Second
	sc.Expect.MaxTimeToFailBack = nil // the hold-down is longer than the drill
	return sc
}

// One seed, one report: the side-by-side JSON and SVG are byte-identical
// across runs.
func TestSideBySideDeterministic(t *testing.T) {
	sc := shortDrill(t)
	f := mustFilters(t)
	var js, svgs [2][]byte
	for i := range js {
		rep, err := Run(context.Background(), sc, Options{Generate: replay, Filters: f})
		require.NoError(t, err)
		js[i], err = rep.JSON()
		require.NoError(t, err)
		svgs[i] = timelinetest.Render(t, rep.Plot())
	}
	assert.Equal(t, string(js[0]), string(js[1]))
	assert.Equal(t, string(svgs[0]), string(svgs[1]))
}

// The summary and the JSON of the short drill are golden files
// (go test ./harness/simulator/sim -run Golden -update; harness/simulator/drills
// checks them on Istio's generator).
func TestSideBySideGolden(t *testing.T) {
	rep, err := Run(context.Background(), shortDrill(t), Options{Generate: replay, Filters: mustFilters(t)})
	require.NoError(t, err)
	b, err := rep.JSON()
	require.NoError(t, err)
	golden.Check(t, "testdata/golden/side-by-side.json", b)
	golden.Check(t, "testdata/golden/side-by-side.txt", []byte(rep.Summary()))
}

// The filters' return of cluster-1 after the short drill's fault when the
// pods come back slow (a warm-up: the probe answers after its 100 ms
// "warm" limit, so this recovery is not returned at once): a good probe,
// a hold-down past the next probe's answer (two 500 ms probe periods and
// the slow probe's own time, under the warm-up's 300 ms), then the ramp
// 10 -> 50 -> 100 % in 500 ms steps, as the report and the timeline's
// failback lane show it.
func TestFailbackSteps(t *testing.T) {
	sc := shortDrill(t)
	sc.Faults[0].WarmUp = &scenario.WarmUp{Duration: 3 * time.Second, Capacity: 1, Latency: 300 * time.Millisecond}
	rep, err := Run(context.Background(), sc, Options{Generate: replay, Filters: mustFilters(t), Only: RunDetour})
	require.NoError(t, err)
	run := rep.Runs[0]
	require.Len(t, run.Failbacks, 1)
	fb := run.Failbacks[0]
	assert.Equal(t, "cluster-1", fb.Target)
	assert.Equal(t, "reviews.bookinfo.svc.cluster.local", fb.Service)
	var back float64
	for _, tr := range run.Transitions {
		if tr.To == "FAILING_BACK" {
			back = tr.AtS
		}
	}
	assert.Equal(t, back, fb.StartS, "the FAILING_BACK transition is the good probe")
	hold := fb.HoldDownEndS - fb.StartS
	assert.Greater(t, hold, 1.1, "two probe periods and a slow probe's 100+ ms")
	assert.Less(t, hold, 1.3, "the probe took less than the warm-up's 300 ms")
	require.Len(t, fb.Steps, 3)
	for k, pct := range []float64{10, 50, 100} {
		assert.Equal(t, pct, fb.Steps[k].Percent)
		assert.InDelta(t, fb.HoldDownEndS+0.5*float64(k), fb.Steps[k].AtS, 1e-9)
	}
	assert.Equal(t, fb.Steps[2].AtS, fb.EndS)
	p := rep.Plot()
	require.Len(t, p.Panels[0].Failbacks, 1)
	assert.Contains(t, string(timelinetest.Render(t, rep.Plot())), `data-failback="cluster-1"`)
}

// --only: one run, named for what ran; --baseline: a third column, first.
func TestOnlyAndBaseline(t *testing.T) {
	sc := shortDrill(t)
	f := mustFilters(t)
	rep, err := Run(context.Background(), sc, Options{Generate: replay, Filters: f, Only: RunDetour})
	require.NoError(t, err)
	require.Len(t, rep.Runs, 1)
	assert.Equal(t, RunDetour, rep.Runs[0].Name)
	assert.NotEmpty(t, rep.Runs[0].Transitions)

	rep, err = Run(context.Background(), sc, Options{Generate: replay, Only: RunBaseline, Baseline: "../../../examples/bookinfo/out"})
	require.NoError(t, err)
	require.Len(t, rep.Runs, 1)
	assert.Equal(t, RunBaseline, rep.Runs[0].Name)
	assert.Equal(t, "istio ../../../examples/bookinfo/out", rep.Runs[0].Config)
	assert.Empty(t, rep.Runs[0].Transitions)
	assert.Empty(t, rep.Runs[0].Expectations, "the baseline is a reference column")

	_, err = Run(context.Background(), sc, Options{Generate: replay, Only: RunDetour})
	assert.ErrorContains(t, err, "the detour run needs the filter module")
	_, err = Run(context.Background(), sc, Options{Generate: replay, Only: "envoy"})
	assert.ErrorContains(t, err, `"envoy" is not a run`)
	_, err = Run(context.Background(), sc, Options{Generate: replay, Only: RunBaseline})
	assert.ErrorContains(t, err, "the baseline run needs a baseline directory")
}

// With --baseline, three columns: the baseline (here Istio as its
// documentation configures it), the compiled resources, the filters; the
// detour run's relative expectations are checked against both others.
func TestThreeColumns(t *testing.T) {
	sc := shortDrill(t)
	one := 1.0
	sc.Expect = Expect{MaxErrorsVsBaseline: &one}
	rep, err := Run(context.Background(), sc, Options{Generate: replay, Filters: mustFilters(t), Baseline: "../../../examples/bookinfo/baseline-istio-docs"})
	require.NoError(t, err)
	require.Len(t, rep.Runs, 3)
	assert.Equal(t, []string{RunBaseline, RunIstio, RunDetour}, []string{rep.Runs[0].Name, rep.Runs[1].Name, rep.Runs[2].Name})
	var against []string
	for _, x := range rep.Runs[2].Expectations {
		against = append(against, x.Against)
	}
	assert.Equal(t, []string{RunBaseline, RunIstio}, against)
	sum := rep.Summary()
	assert.Contains(t, sum, "detour - istio")
	t.Log("\n" + sum)
	svg := timelinetest.Render(t, rep.Plot())
	timelinetest.WellFormed(t, svg)
}

// --istio on the compiled output directory runs what compiling on the fly
// runs: the same report but for where the configuration came from.
func TestIstioDirMatchesCompiledIntent(t *testing.T) {
	sc, err := Load("../../../examples/bookinfo/drills/local-scaled-to-zero.yaml")
	require.NoError(t, err)
	compiled, err := Run(context.Background(), sc, Options{Generate: replay})
	require.NoError(t, err)
	dir, err := Run(context.Background(), sc, Options{Generate: replay, Istio: "../../../examples/bookinfo/out"})
	require.NoError(t, err)
	assert.Equal(t, "istio ../../../examples/bookinfo/out", dir.Runs[0].Config)
	dir.Runs[0].Config = compiled.Runs[0].Config
	a, err := compiled.JSON()
	require.NoError(t, err)
	b, err := dir.JSON()
	require.NoError(t, err)
	assert.Equal(t, string(a), string(b))
}

// Cold pods (issue 16's done-when): recovering into pods that warm up,
// the filters have fewer errors and a lower p99 than both Istio's snap
// back (the compiled resources) and Envoy's slow start (the
// warmupDurationSecs baseline).
func TestColdRecoveryBeatsSnapBackAndSlowStart(t *testing.T) {
	sc, err := Load("../../../examples/bookinfo/drills/cold-recovery.yaml")
	require.NoError(t, err)
	rep, err := Run(context.Background(), sc, Options{Generate: replay, Filters: mustFilters(t), Baseline: "../../../examples/bookinfo/baseline-slow-start"})
	require.NoError(t, err)
	require.Len(t, rep.Runs, 3)
	detour := rep.Runs[2]
	require.Equal(t, RunDetour, detour.Name)
	for _, other := range rep.Runs[:2] {
		assert.Less(t, detour.UserVisibleErrors, other.UserVisibleErrors, "errors against %s", other.Name)
		assert.Less(t, detour.LatencyMs.P99, other.LatencyMs.P99, "p99 against %s", other.Name)
	}
}

// The detour run of a configuration without WasmPlugins for the entry
// proxy is an error, not a run without filters that would pass for one
// with them.
func TestDetourRunNeedsWasmPlugins(t *testing.T) {
	sc, err := Load("../../../examples/bookinfo/drills/local-scaled-to-zero.yaml")
	require.NoError(t, err)
	_, err = Run(context.Background(), sc, Options{Generate: replay, Filters: mustFilters(t), Only: RunDetour,
		Istio: "../../../examples/bookinfo/baseline-istio-docs"})
	assert.ErrorContains(t, err, "detour run: the listener on port 9080 has no Wasm filter")
}

// A fleet at the edge: the edge gateway gets the intent's loads (700 rps)
// unless the traffic gives a rate, the sidecars what traffic.sources
// gives them; their configuration has no WasmPlugin, so in the detour run
// they run without filters rather than failing the run.
func TestEdgeFleet(t *testing.T) {
	f := mustFilters(t)
	for _, rate := range []float64{0, 100} {
		sc, err := Load("testdata/runs/edge-fleet.yaml")
		require.NoError(t, err)
		edge := 700.0
		if rate > 0 {
			sc.Traffic.Rate, sc.Traffic.RateSet, edge = rate, true, rate
		}
		rep, err := Run(context.Background(), sc, Options{Generate: replay, Filters: f})
		require.NoError(t, err)
		require.Len(t, rep.Runs, 2)
		for _, run := range rep.Runs {
			require.NotNil(t, run.Fleet, run.Name)
			var got []string
			for _, src := range run.Fleet.Sources {
				got = append(got, fmt.Sprintf("%s %g", src.Cluster, src.Rate))
			}
			assert.Equal(t, []string{fmt.Sprintf("edge %g", edge), "cluster-1b 20", "cluster-2 30"}, got, run.Name)
			assert.Equal(t, run.Requests, run.Fleet.Sources[0].Requests, "the edge is the entry")
			assert.InDelta(t, 10*edge, run.Requests, 10*edge*0.15, "Poisson arrivals at the edge's rate")
			for _, src := range run.Fleet.Sources[1:] {
				assert.InDelta(t, 10*src.Rate, src.Requests, 10*src.Rate*0.5, "%s: %s", run.Name, src.Cluster)
			}
		}
		assert.NotEmpty(t, rep.Runs[1].Transitions, "the edge's filters ran")
	}
}
