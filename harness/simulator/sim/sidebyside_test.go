package sim

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/timeline"
	"github.com/detour-mesh/detour/harness/simulator/timeline/timelinetest"
	"github.com/detour-mesh/detour/internal/golden"
	"github.com/detour-mesh/detour/plugins/module"
)

// filters is the Detour module, built and compiled once per test binary.
var filters = sync.OnceValues(func() (*Filters, error) {
	b, err := module.Bytes()
	if err != nil {
		return nil, err
	}
	return LoadFilters(context.Background(), b, module.Package)
})

func mustFilters(t testing.TB) *Filters {
	t.Helper()
	f, err := filters()
	require.NoError(t, err)
	return f
}

func svgOf(t testing.TB, rep *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, timeline.Render(&b, rep.Plot()))
	return b.Bytes()
}

// wellFormed parses the whole document as XML.
func wellFormed(t testing.TB, svg []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		require.NoError(t, err, "the SVG is not well-formed XML")
	}
}

// Every drill in examples/*/drills runs side by side: the detour run meets
// the drill's expectations; the plain Istio run meets expectBaseline (the
// errors the seeds describe), and where the drill says Istio shows errors
// Detour shows fewer. Each drill's timeline is well-formed XML and renders
// in the browser with every series it should show. The drills run in
// parallel.
func TestExampleDrillsSideBySide(t *testing.T) {
	files, err := filepath.Glob("../../../examples/*/drills/*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 17)
	f := mustFilters(t)
	for _, file := range files {
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(file)))+"/"+filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			sc, err := Load(file)
			require.NoError(t, err)
			rep, err := Run(context.Background(), sc, Options{Filters: f})
			require.NoError(t, err)
			require.Len(t, rep.Runs, 2)
			istio, detour := rep.Runs[0], rep.Runs[1]
			require.Equal(t, RunIstio, istio.Name)
			require.Equal(t, RunDetour, detour.Name)
			t.Log("\n" + rep.Summary())
			for _, run := range rep.Runs {
				for _, x := range run.Expectations {
					assert.True(t, x.OK, "%s run: %s %s %g, measured %v", run.Name, x.Name, x.Op(), x.Limit, fmtMeasured(x.Measured))
				}
			}
			assert.NotEmpty(t, detour.Expectations, "a drill states what Detour must show")
			if sc.ExpectBaseline.MinUserVisibleErrors != nil {
				assert.Greater(t, istio.UserVisibleErrors, detour.UserVisibleErrors, "the seed's errors: plain Istio must show more than Detour")
			}
			// A subset's pods failing is Envoy's to handle (the filters steer
			// clusters, not subsets), so no transition is required there.
			if sc.Expect.MaxTimeToDetect != nil && sc.Faults[0].Target.Subset == "" {
				assert.NotEmpty(t, detour.Transitions, "the filters' state machine moved")
			}
			svg := svgOf(t, rep)
			wellFormed(t, svg)
			seen := timelinetest.Check(t, svg, rep.Plot())
			assert.Positive(t, seen["light"])
		})
	}
}

// shortDrill is the bookinfo outage drill cut to 40 s: enough for a
// failover and a transition, cheap enough to run several times.
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
		rep, err := Run(context.Background(), sc, Options{Filters: f})
		require.NoError(t, err)
		js[i], err = rep.JSON()
		require.NoError(t, err)
		svgs[i] = svgOf(t, rep)
	}
	assert.Equal(t, string(js[0]), string(js[1]))
	assert.Equal(t, string(svgs[0]), string(svgs[1]))
}

// The summary and the JSON of the short drill are golden files
// (go test ./harness/simulator/sim -run Golden -update).
func TestSideBySideGolden(t *testing.T) {
	rep, err := Run(context.Background(), shortDrill(t), Options{Filters: mustFilters(t)})
	require.NoError(t, err)
	b, err := rep.JSON()
	require.NoError(t, err)
	golden.Check(t, "testdata/golden/side-by-side.json", b)
	golden.Check(t, "testdata/golden/side-by-side.txt", []byte(rep.Summary()))
}

// --only and --baseline: one run each, named for what ran.
func TestOnlyAndBaseline(t *testing.T) {
	sc := shortDrill(t)
	f := mustFilters(t)
	rep, err := Run(context.Background(), sc, Options{Filters: f, Only: RunDetour})
	require.NoError(t, err)
	require.Len(t, rep.Runs, 1)
	assert.Equal(t, RunDetour, rep.Runs[0].Name)
	assert.NotEmpty(t, rep.Runs[0].Transitions)

	rep, err = Run(context.Background(), sc, Options{Only: RunIstio, Baseline: "../../../examples/bookinfo/out"})
	require.NoError(t, err)
	require.Len(t, rep.Runs, 1)
	assert.Equal(t, RunBaseline, rep.Runs[0].Name)
	assert.Equal(t, "istio ../../../examples/bookinfo/out", rep.Runs[0].Config)
	assert.Empty(t, rep.Runs[0].Transitions)

	_, err = Run(context.Background(), sc, Options{Only: RunDetour})
	assert.ErrorContains(t, err, "the detour run needs the filter module")
	_, err = Run(context.Background(), sc, Options{Only: "envoy"})
	assert.ErrorContains(t, err, `"envoy" is not a run`)
}

// BenchmarkSideBySide10Min: the bookinfo drill stretched to 10 minutes at
// 200 rps, both runs (plain Istio, then Detour with its three filters in
// the chain on wazero), end to end.
func BenchmarkSideBySide10Min(b *testing.B) {
	sc, err := Load("../../../examples/bookinfo/drills/local-scaled-to-zero.yaml")
	if err != nil {
		b.Fatal(err)
	}
	sc.Traffic.Rate, sc.Traffic.Duration = 200, 10*time.Minute
	sc.Faults[0].Start, sc.Faults[0].End = 2*time.Minute, 6*time.Minute
	f := mustFilters(b)
	b.ReportAllocs()
	requests := 0
	for b.Loop() {
		rep, err := Run(context.Background(), sc, Options{Filters: f})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rep.Runs {
			requests += r.Requests
		}
	}
	b.ReportMetric(float64(requests)/b.Elapsed().Seconds(), "req/s")
}
