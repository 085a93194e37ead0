package timeline_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/timeline"
	"github.com/detour-mesh/detour/harness/simulator/timeline/timelinetest"
	"github.com/detour-mesh/detour/internal/golden"
)

func TestGolden(t *testing.T) {
	golden.Check(t, "testdata/synthetic.svg", timelinetest.Render(t, synthetic()))
}

func TestDeterministic(t *testing.T) {
	for _, p := range []timeline.Plot{synthetic(), tenMinutes()} {
		assert.Equal(t, timelinetest.Render(t, p), timelinetest.Render(t, p))
	}
}

// element is what the structure tests look at in the SVG.
type element struct {
	name  string
	attrs map[string]string
	panel string // data-panel of the enclosing group
}

// parse decodes the whole document with encoding/xml: an error is a
// document that is not well-formed.
func parse(t *testing.T, svg []byte) []element {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	dec.Strict = true
	var out []element
	var panels []string
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "not well-formed XML")
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				require.Equal(t, "svg", tok.Name.Local)
				require.Equal(t, "http://www.w3.org/2000/svg", tok.Name.Space)
			}
			depth++
			e := element{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			if p, ok := e.attrs["data-panel"]; ok {
				panels = append(panels, p)
			} else {
				panels = append(panels, "")
			}
			for i := len(panels) - 1; i >= 0; i-- {
				if panels[i] != "" {
					e.panel = panels[i]
					break
				}
			}
			out = append(out, e)
		case xml.EndElement:
			depth--
			panels = panels[:len(panels)-1]
		}
	}
	require.Zero(t, depth)
	return out
}

func TestWellFormedAndSelfContained(t *testing.T) {
	for name, p := range map[string]timeline.Plot{"synthetic": synthetic(), "ten minutes": tenMinutes(), "escaping": {
		Title:  `a <b> & "c"`,
		Panels: []timeline.Panel{{Title: "x<y", Note: "&", Series: []timeline.Series{{Name: `"q"`, Share: []float64{1}}}, Marks: []timeline.Mark{{At: 0, Label: "<>"}}}},
	}} {
		t.Run(name, func(t *testing.T) {
			svg := timelinetest.Render(t, p)
			els := parse(t, svg)
			for _, e := range els {
				assert.NotEqual(t, "script", e.name)
				assert.NotEqual(t, "image", e.name)
				assert.NotContains(t, e.attrs, "href", "no external references")
			}
			assert.NotContains(t, string(svg), "@import")
			assert.NotContains(t, string(svg), "@font-face")
			assert.NotContains(t, string(svg), "http://www.w3.org/1999/xlink")
		})
	}
}

// TestSeriesElements: each panel has one element per input series (named
// by data-series), one errors element, one group per fault, and a ticks
// path counting every mark.
func TestSeriesElements(t *testing.T) {
	p := synthetic()
	els := parse(t, timelinetest.Render(t, p))
	for _, pn := range p.Panels {
		var series, faults, latency []string
		errs, marks := 0, 0
		for _, e := range els {
			if e.panel != pn.Title {
				continue
			}
			if s, ok := e.attrs["data-series"]; ok {
				series = append(series, s)
			}
			if _, ok := e.attrs["data-errors"]; ok {
				errs++
			}
			if l, ok := e.attrs["data-latency"]; ok {
				latency = append(latency, l)
			}
			if f, ok := e.attrs["data-fault"]; ok {
				faults = append(faults, f)
			}
			if m, ok := e.attrs["data-marks"]; ok {
				n, err := strconv.Atoi(m)
				require.NoError(t, err)
				marks += n
			}
		}
		var want []string
		for _, s := range pn.Series {
			want = append(want, s.Name)
		}
		assert.ElementsMatch(t, want, series, pn.Title)
		var sources, sourceSeries []string
		for _, e := range els {
			if e.panel != pn.Title {
				continue
			}
			if s, ok := e.attrs["data-source"]; ok {
				sources = append(sources, s)
			}
			if s, ok := e.attrs["data-source-series"]; ok {
				sourceSeries = append(sourceSeries, s)
			}
		}
		want, wantSeries := []string{}, []string{}
		for _, src := range pn.Sources {
			want = append(want, src.Title)
			for _, s := range src.Series {
				wantSeries = append(wantSeries, s.Name)
			}
		}
		assert.Equal(t, want, sources, pn.Title+": one group per source")
		failbacks, ramps := 0, 0
		for _, e := range els {
			if _, ok := e.attrs["data-failback"]; ok && e.panel == pn.Title {
				failbacks++
			}
			if n, ok := e.attrs["data-ramp"]; ok && e.panel == pn.Title {
				k, err := strconv.Atoi(n)
				require.NoError(t, err)
				ramps += k
			}
		}
		steps := 0
		for _, f := range pn.Failbacks {
			steps += len(f.Steps)
		}
		assert.Equal(t, len(pn.Failbacks), failbacks, pn.Title+": one group per failback")
		assert.Equal(t, steps, ramps, pn.Title+": the ramp's staircase has every step")
		assert.ElementsMatch(t, wantSeries, sourceSeries, pn.Title+": one band per source series")
		assert.Equal(t, 1, errs, pn.Title)
		assert.Equal(t, []string{"p99", "p50"}, latency, pn.Title+": the p50 is drawn over the p99 band")
		assert.Len(t, faults, len(pn.Faults), pn.Title)
		assert.Equal(t, len(pn.Marks), marks, pn.Title)
	}
	// The legend names every series once, plus errors, latency, faults,
	// transitions.
	var legend []string
	for _, e := range els {
		if k, ok := e.attrs["data-legend"]; ok {
			legend = append(legend, k)
		}
	}
	assert.Equal(t, []string{"cluster-1", "cluster-2", "cluster-3", "no cluster", "user-visible errors/s", "latency p50", "p99", "fault", "state transition"}, legend)
}

func TestColorsFollowNames(t *testing.T) {
	p := synthetic()
	// The second panel lists its series in another order: colours stay.
	s := p.Panels[1].Series
	s[0], s[2] = s[2], s[0]
	assert.Equal(t, map[string]int{"cluster-1": 0, "cluster-2": 1, "cluster-3": 2, "no cluster": -1}, p.Colors())
	els := parse(t, timelinetest.Render(t, p))
	class := map[string]map[string]bool{}
	for _, e := range els {
		if n, ok := e.attrs["data-series"]; ok {
			if class[n] == nil {
				class[n] = map[string]bool{}
			}
			class[n][e.attrs["class"]] = true
		}
	}
	assert.Equal(t, map[string]map[string]bool{
		"cluster-1": {"c0": true}, "cluster-2": {"c1": true}, "cluster-3": {"c2": true}, "no cluster": {"none": true},
	}, class)
}

func TestBadInput(t *testing.T) {
	ok := func() timeline.Plot { return synthetic() }
	for _, tc := range []struct {
		name string
		edit func(p *timeline.Plot)
		want string
	}{
		{"no panels", func(p *timeline.Plot) { p.Panels = nil }, "panels: empty"},
		{"negative step", func(p *timeline.Plot) { p.Step = -1 }, "step: -1"},
		{"short series", func(p *timeline.Plot) { p.Panels[1].Series[2].Share = p.Panels[1].Series[2].Share[:3] },
			"panels[1].series[2].share: 3 samples, want 180"},
		{"share above 1", func(p *timeline.Plot) { p.Panels[0].Series[1].Share[7] = 1.5 }, "panels[0].series[1].share[7]: 1.5, want a fraction 0..1"},
		{"NaN share", func(p *timeline.Plot) { p.Panels[0].Series[0].Share[0] = math.NaN() }, "panels[0].series[0].share[0]: NaN"},
		{"repeated name", func(p *timeline.Plot) { p.Panels[0].Series[1].Name = "cluster-1" }, `panels[0].series[1].name: "cluster-1" repeated`},
		{"errors length", func(p *timeline.Plot) { p.Panels[1].Errors = []float64{1} }, "panels[1].errors: 1 samples, want 180"},
		{"negative errors", func(p *timeline.Plot) { p.Panels[1].Errors[4] = -2 }, "panels[1].errors[4]: -2"},
		{"short source", func(p *timeline.Plot) { p.Panels[1].Sources[0].Series[1].Share = nil },
			"panels[1].sources[0].series[1].share: 0 samples, want 180"},
		{"failback order", func(p *timeline.Plot) { p.Panels[1].Failbacks[0].HoldEnd = 200 }, "panels[1].failbacks[0]: start 121, hold-down end 200, end 141, want 0 <= start <= hold-down end <= end"},
		{"ramp step", func(p *timeline.Plot) { p.Panels[1].Failbacks[0].Steps[1].Percent = 150 }, "panels[1].failbacks[0].steps[1]: 150% at 136, want steps in time order"},
		{"source share", func(p *timeline.Plot) { p.Panels[0].Sources[0].Series[0].Share[3] = 2 }, "panels[0].sources[0].series[0].share[3]: 2, want a fraction 0..1"},
		{"fault ends before it starts", func(p *timeline.Plot) { p.Panels[0].Faults = []timeline.Span{{Start: 9, End: 3}} }, "panels[0].faults[0]: [9, 3)"},
		{"latency length", func(p *timeline.Plot) { p.Panels[0].LatencyP99 = p.Panels[0].LatencyP99[:5] }, "panels[0].latencyP99: 5 samples, want 180"},
		{"latency without p50", func(p *timeline.Plot) { p.Panels[1].LatencyP50 = nil }, "panels[1].latencyP50: 0 samples, want 180"},
		{"negative latency", func(p *timeline.Plot) { p.Panels[1].LatencyP50[3] = -1 }, "panels[1].latencyP50[3]: -1, want ms >= 0"},
		{"mark at infinity", func(p *timeline.Plot) { p.Panels[1].Marks[2].At = math.Inf(1) }, "panels[1].marks[2].at: +Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ok()
			tc.edit(&p)
			var b bytes.Buffer
			err := timeline.Render(&b, p)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Zero(t, b.Len(), "nothing written on bad input")
		})
	}
}

// tenMinutes is the size case: 600 samples per series, the shares and
// errors changing every second (the worst case for the path encoding).
func tenMinutes() timeline.Plot {
	p := timeline.Plot{Title: "ten minutes"}
	for _, name := range []string{"istio", "detour"} {
		pn := panel(name, 600, func(t int) (c1, c2, c3, none, errs float64) {
			w := 0.1 * math.Sin(float64(t)/5)
			return .4 + w, .3 - w/2, .2 - w/2, .1, float64(t % 17)
		})
		for i := 0; i < 40; i++ {
			pn.Marks = append(pn.Marks, timeline.Mark{At: float64(i * 15), Label: "healthy → failing"})
		}
		pn.Faults = []timeline.Span{{Label: "outage", Start: 100, End: 400}}
		p.Panels = append(p.Panels, pn)
	}
	return p
}

// TestSize: a noisy 10-minute run at 1 s stays small enough to attach to
// a pull request (one path per band, not one element per point).
func TestSize(t *testing.T) {
	svg := timelinetest.Render(t, tenMinutes())
	assert.Less(t, len(svg), 128<<10, "bytes")
	assert.Less(t, strings.Count(string(svg), "<"), 300, "elements")
}

// TestBrowser renders the synthetic plot in chromium in both themes and
// checks the picture: the theme's background, every series' colour and
// the errors' colour painted over a real area, and no other palette
// colour: the count of series seen equals the count drawn.
func TestBrowser(t *testing.T) {
	p := synthetic()
	areas := p.Areas()
	for name, a := range areas {
		assert.Greater(t, a, float64(timelinetest.ExpectedPixels), "series %q is large enough to be checked", name)
	}
	seen := timelinetest.Check(t, timelinetest.Render(t, p), p)
	assert.Equal(t, map[string]int{"light": 4, "dark": 4}, seen)
}

// TestBrowserMissingSeries: a series with no traffic is not seen, and
// the count says so (the check does not count legend swatches).
func TestBrowserMissingSeries(t *testing.T) {
	p := synthetic()
	for i := range p.Panels {
		s := p.Panels[i].Series
		for k := range s[2].Share { // cluster-3's traffic goes to cluster-2
			s[1].Share[k] += s[2].Share[k]
			s[2].Share[k] = 0
		}
		for _, src := range p.Panels[i].Sources { // in the fleet's sources too
			for k := range src.Series[1].Share {
				src.Series[0].Share[k] += src.Series[1].Share[k]
				src.Series[1].Share[k] = 0
			}
		}
	}
	assert.Zero(t, p.Areas()["cluster-3"])
	seen := timelinetest.Check(t, timelinetest.Render(t, p), p)
	assert.Equal(t, map[string]int{"light": 3, "dark": 3}, seen)
}

func TestAreas(t *testing.T) {
	p := timeline.Plot{Duration: 10, Panels: []timeline.Panel{{
		Series: []timeline.Series{{Name: "a", Share: []float64{1, .5, .5, 0}}, {Name: "b", Share: []float64{.5, .5, .5, 1}}},
		Errors: []float64{0, 0, 10, 0},
	}}}
	a := p.Areas()
	px := 872.0 / 10 * 150 // one second of a full share chart (872 px wide, 150 high)
	assert.InDelta(t, 2*px, a["a"], 1e-6)
	assert.InDelta(t, 2*px, a["b"], 1e-6, "b is cut at 100 % in the first second")
	assert.InDelta(t, 872.0/10*52, a[""], 1e-6, "errors: one full bar (scale 10/s)")
	_, ok := a[timeline.LatencyP50Key]
	assert.False(t, ok, "no latency strip")

	// Latency: scale 100 ms (the largest, 80, rounded up); p50 10, 10, 20,
	// 50 ms and p99 20, 80, 20, 50: p50 covers 0.9 s of the strip's
	// height, the p99 band above it 0.1 + 0.7 s.
	p.Panels[0].LatencyP50 = []float64{10, 10, 20, 50}
	p.Panels[0].LatencyP99 = []float64{20, 80, 20, 50}
	a = p.Areas()
	strip := 872.0 / 10 * 52
	assert.InDelta(t, 0.9*strip, a[timeline.LatencyP50Key], 1e-6)
	assert.InDelta(t, 0.8*strip, a[timeline.LatencyP99Key], 1e-6)
}

// BenchmarkRenderTenMinutes: rendering a noisy 10-minute, two-run plot.
func BenchmarkRenderTenMinutes(b *testing.B) {
	p := tenMinutes()
	var n int
	for b.Loop() {
		var buf bytes.Buffer
		if err := timeline.Render(&buf, p); err != nil {
			b.Fatal(err)
		}
		n = buf.Len()
	}
	b.ReportMetric(float64(n), "svg-bytes")
}
