// Package timeline draws a scenario's timeline as a self-contained SVG:
// one panel per run, each with the traffic share per cluster (stacked, 0 to
// 100 %), the user-visible errors per second, the faults as spans and the
// filters' state transitions as ticks.
//
// The package knows nothing of the simulator: a caller converts its report
// into a Plot. It uses the standard library only, so that anything may
// import it without linking the simulator's dependencies.
//
// Output is deterministic: the same Plot always renders the same bytes.
package timeline

import (
	"fmt"
	"math"
)

// Plot is a whole picture: a title and one or more panels stacked
// vertically, sharing the x axis (seconds) and the errors scale, so that
// runs compare at a glance.
type Plot struct {
	Title string
	// Subtitle is one line under the title (seed, duration, entry point).
	Subtitle string
	// Step is the seconds each sample covers; 0 means 1.
	Step float64
	// Duration is the x axis' extent in seconds; 0 means the longest
	// panel (samples × Step).
	Duration float64
	Panels   []Panel
}

// Panel is one run.
type Panel struct {
	// Title names the run ("istio", "detour").
	Title string
	// Note is shown right-aligned on the title row ("412 user-visible errors").
	Note string
	// Series are stacked from the bottom up, in this order. Each sample i
	// covers [i×Step, (i+1)×Step). A series' colour follows its name: the
	// same name has the same colour in every panel.
	Series []Series
	// Errors is the user-visible errors per second, one per sample; nil
	// draws an empty errors strip.
	Errors []float64
	// Faults are drawn as spans in a lane above the share chart, with
	// dashed lines at their start and end through the panel.
	Faults []Span
	// Marks are drawn as ticks with a short label (state transitions).
	Marks []Mark
	// LatencyP50 and LatencyP99 are the requests' latency percentiles in
	// ms, one per sample, drawn in a strip under the errors on a scale
	// shared by every panel (p99 as a light band, p50 over it): latency is
	// where a run can hurt users without a single error. Both nil: no
	// strip.
	LatencyP50, LatencyP99 []float64
	// Sources are a fleet drill's other sources of traffic (sources.go),
	// one thin share chart each under the panel's strips; nil: none.
	Sources []Source
	// Failbacks are the filters' returns of recovered targets: the
	// hold-down and the ramp's steps, in a lane above the share chart
	// (failback.go); nil: none.
	Failbacks []Failback
}

// Series is one stacked band of the share chart.
type Series struct {
	Name string
	// Share is the fraction of the sample's traffic, 0..1, per sample.
	Share []float64
	// Muted draws the band in neutral grey outside the palette: traffic
	// answered by no cluster (the proxy's own replies, resets).
	Muted bool
}

// Span is a fault: [Start, End) seconds; End < 0 means until the end of
// the run (the fault never recovers).
type Span struct {
	Label      string
	Start, End float64
}

// Mark is an instant (a state transition).
type Mark struct {
	At    float64
	Label string
}

// Palette is the series colours in light and dark themes: Okabe and Ito's
// colour-blind-safe set without black (invisible on a dark background) and
// vermillion (kept for errors). The dark variants are the same hues,
// lightened where the light one is too dark to read on #0d1117. Series take
// them in order of first appearance; beyond six, colours repeat.
var Palette = []struct{ Light, Dark string }{
	{"#0072b2", "#3d9be0"}, // blue
	{"#e69f00", "#e69f00"}, // orange
	{"#009e73", "#16b88c"}, // bluish green
	{"#56b4e9", "#56b4e9"}, // sky blue
	{"#cc79a7", "#d68ab4"}, // reddish purple
	{"#f0e442", "#f0e442"}, // yellow
}

// Fixed colours outside the palette.
var (
	ErrorColor = struct{ Light, Dark string }{"#d55e00", "#ff7b3a"} // vermillion
	MutedColor = struct{ Light, Dark string }{"#b7bdc5", "#59616b"}
	// Latency strip: p99 band and p50 over it, a purple away from the
	// palette's reddish purple.
	LatencyP99Color = struct{ Light, Dark string }{"#c8b6f0", "#4b3a78"}
	LatencyP50Color = struct{ Light, Dark string }{"#6639ba", "#b392f0"}
	Background      = struct{ Light, Dark string }{"#ffffff", "#0d1117"}
)

// Colors maps each series name to its palette index (-1 for muted
// series), in order of first appearance over the panels.
func (p *Plot) Colors() map[string]int {
	idx := map[string]int{}
	n := 0
	for _, pn := range p.Panels {
		for _, s := range pn.allSeries() {
			if _, ok := idx[s.Name]; ok {
				continue
			}
			if s.Muted {
				idx[s.Name] = -1
				continue
			}
			idx[s.Name] = n % len(Palette)
			n++
		}
	}
	return idx
}

func (p *Plot) step() float64 {
	if p.Step > 0 {
		return p.Step
	}
	return 1
}

// duration is the x extent: Duration, else the longest panel.
func (p *Plot) duration() float64 {
	if p.Duration > 0 {
		return p.Duration
	}
	d := 0.0
	for _, pn := range p.Panels {
		d = max(d, float64(pn.samples())*p.step())
	}
	if d == 0 {
		d = 1
	}
	return d
}

// allSeries is the panel's series, then its sources' (names repeat).
func (pn *Panel) allSeries() []Series {
	out := pn.Series
	for _, src := range pn.Sources {
		out = append(out[:len(out):len(out)], src.Series...)
	}
	return out
}

// hasLatency: the panel draws a latency strip.
func (pn *Panel) hasLatency() bool { return pn.LatencyP50 != nil || pn.LatencyP99 != nil }

func (pn *Panel) samples() int {
	n := max(len(pn.Errors), len(pn.LatencyP50), len(pn.LatencyP99))
	for _, s := range pn.Series {
		n = max(n, len(s.Share))
	}
	return n
}

// validate names the first bad field by its path in the Plot.
func (p *Plot) validate() error {
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	if len(p.Panels) == 0 {
		return fmt.Errorf("timeline: panels: empty, want at least one panel")
	}
	if p.Step < 0 || bad(p.Step) {
		return fmt.Errorf("timeline: step: %v, want seconds > 0 (or 0 for 1 s)", p.Step)
	}
	if p.Duration < 0 || bad(p.Duration) {
		return fmt.Errorf("timeline: duration: %v, want seconds > 0 (or 0 for the longest panel)", p.Duration)
	}
	for i, pn := range p.Panels {
		n := pn.samples()
		seen := map[string]bool{}
		for j, s := range pn.Series {
			if seen[s.Name] {
				return fmt.Errorf("timeline: panels[%d].series[%d].name: %q repeated, want one series per name", i, j, s.Name)
			}
			seen[s.Name] = true
			if len(s.Share) != n {
				return fmt.Errorf("timeline: panels[%d].series[%d].share: %d samples, want %d like the panel's other series and errors", i, j, len(s.Share), n)
			}
			for k, v := range s.Share {
				if bad(v) || v < 0 || v > 1.0001 {
					return fmt.Errorf("timeline: panels[%d].series[%d].share[%d]: %v, want a fraction 0..1", i, j, k, v)
				}
			}
		}
		if pn.Errors != nil && len(pn.Errors) != n {
			return fmt.Errorf("timeline: panels[%d].errors: %d samples, want %d like the panel's series", i, len(pn.Errors), n)
		}
		for k, v := range pn.Errors {
			if bad(v) || v < 0 {
				return fmt.Errorf("timeline: panels[%d].errors[%d]: %v, want a count >= 0", i, k, v)
			}
		}
		for _, l := range []struct {
			name string
			v    []float64
		}{{"latencyP50", pn.LatencyP50}, {"latencyP99", pn.LatencyP99}} {
			if pn.hasLatency() && len(l.v) != n {
				return fmt.Errorf("timeline: panels[%d].%s: %d samples, want %d like the panel's series", i, l.name, len(l.v), n)
			}
			for k, v := range l.v {
				if bad(v) || v < 0 {
					return fmt.Errorf("timeline: panels[%d].%s[%d]: %v, want ms >= 0", i, l.name, k, v)
				}
			}
		}
		if err := pn.validateSources(i, n); err != nil {
			return err
		}
		if err := pn.validateFailbacks(i); err != nil {
			return err
		}
		for j, f := range pn.Faults {
			if bad(f.Start) || bad(f.End) || f.Start < 0 || (f.End >= 0 && f.End < f.Start) {
				return fmt.Errorf("timeline: panels[%d].faults[%d]: [%v, %v), want 0 <= start <= end (end < 0: never ends)", i, j, f.Start, f.End)
			}
		}
		for j, m := range pn.Marks {
			if bad(m.At) || m.At < 0 {
				return fmt.Errorf("timeline: panels[%d].marks[%d].at: %v, want seconds >= 0", i, j, m.At)
			}
		}
	}
	return nil
}

// Areas is the painted area, in px² at 100 % zoom, of each series (by
// name, summed over the panels), of the errors bars (key "") and of the
// latency strip's p50 and visible p99 band (keys LatencyP50Key,
// LatencyP99Key, when a panel has one): what a test looking at the
// rendered picture can expect to see of each colour.
// Input that Render rejects gives nil.
func (p *Plot) Areas() map[string]float64 {
	if p.validate() != nil {
		return nil
	}
	dur, step := p.duration(), p.step()
	errScale := 0.0
	for _, pn := range p.Panels {
		for _, v := range pn.Errors {
			errScale = max(errScale, v)
		}
	}
	errScale = niceCeil(errScale)
	latScale := p.latencyScale()
	out := map[string]float64{"": 0}
	for _, pn := range p.Panels {
		n := pn.samples()
		// Samples past the x extent are not drawn; the last one is cut.
		width := func(i int) float64 {
			from, to := float64(i)*step, min(float64(i+1)*step, dur)
			return max(0, to-from) * plotWidth / dur
		}
		acc := make([]float64, n)
		for _, s := range pn.Series {
			for i, v := range s.Share {
				next := min(acc[i]+v, 1)
				out[s.Name] += (next - acc[i]) * width(i) * shareHeight
				acc[i] = next
			}
		}
		pn.sourceAreas(out, width)
		for i, v := range pn.Errors {
			out[""] += min(v/errScale, 1) * width(i) * errorsHeight
		}
		if pn.hasLatency() {
			for i := 0; i < n; i++ {
				p50, p99 := min(at(pn.LatencyP50, i)/latScale, 1), min(at(pn.LatencyP99, i)/latScale, 1)
				out[LatencyP50Key] += p50 * width(i) * latencyHeight
				out[LatencyP99Key] += max(0, p99-p50) * width(i) * latencyHeight
			}
		}
	}
	return out
}

// Keys of the latency strip in Areas (not series names: those never
// start with a space).
const (
	LatencyP50Key = " latency p50"
	LatencyP99Key = " latency p99"
)

func at(v []float64, i int) float64 {
	if i < len(v) {
		return v[i]
	}
	return 0
}

// latencyScale is the latency strip's full height in ms, shared by every
// panel.
func (p *Plot) latencyScale() float64 {
	m := 0.0
	for _, pn := range p.Panels {
		for _, v := range pn.LatencyP50 {
			m = max(m, v)
		}
		for _, v := range pn.LatencyP99 {
			m = max(m, v)
		}
	}
	return niceCeil(m)
}
