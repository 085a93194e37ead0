package report

import (
	"fmt"

	"github.com/detour-mesh/detour/harness/simulator/timeline"
)

// Plot is the report as a timeline (harness/simulator/timeline): one panel per run,
// stacked, with the traffic share per cluster, the errors and the latency
// (p50, p99) per second, the faults as spans, the filters' state
// transitions as marks and, in a fleet drill, every other source's share.
func (r *Report) Plot() timeline.Plot {
	p := timeline.Plot{
		Title:    r.Scenario,
		Subtitle: fmt.Sprintf("seed %d · %gs · entry %s", r.Seed, r.DurationS, r.Entry),
		Step:     1,
		Duration: r.DurationS,
	}
	var spans []timeline.Span
	for _, f := range r.Faults {
		end := -1.0
		if f.EndS != nil {
			end = *f.EndS
		}
		spans = append(spans, timeline.Span{Label: f.Name, Start: f.StartS, End: end})
	}
	for _, run := range r.Runs {
		pn := timeline.Panel{Title: run.Name, Faults: spans,
			Note: fmt.Sprintf("%d user-visible %s of %d requests", run.UserVisibleErrors, plural(run.UserVisibleErrors, "error", "errors"), run.Requests)}
		for j, c := range run.Clusters {
			s := timeline.Series{Name: c, Muted: c == "none", Share: make([]float64, len(run.Seconds))}
			for i, sec := range run.Seconds {
				s.Share[i] = sec.Share[j]
			}
			pn.Series = append(pn.Series, s)
		}
		pn.Errors = make([]float64, len(run.Seconds))
		pn.LatencyP50, pn.LatencyP99 = make([]float64, len(run.Seconds)), make([]float64, len(run.Seconds))
		for i, sec := range run.Seconds {
			pn.Errors[i] = float64(sec.Errors)
			pn.LatencyP50[i], pn.LatencyP99[i] = sec.P50Ms, sec.P99Ms
		}
		pn.Sources = fleetSources(run)
		for _, f := range run.Failbacks {
			fb := timeline.Failback{Label: f.Target, Start: f.StartS, HoldEnd: f.HoldDownEndS, End: f.EndS}
			for _, s := range f.Steps {
				fb.Steps = append(fb.Steps, timeline.Step{At: s.AtS, Percent: s.Percent})
			}
			pn.Failbacks = append(pn.Failbacks, fb)
		}
		for _, t := range run.Transitions {
			pn.Marks = append(pn.Marks, timeline.Mark{At: t.AtS, Label: t.To})
		}
		p.Panels = append(p.Panels, pn)
	}
	return p
}

// plural is one or many by n ("1 user-visible error", "2 … errors").
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// fleetSources are a fleet run's sources other than the entry proxy, each
// as a share chart over the run's clusters.
func fleetSources(run RunReport) []timeline.Source {
	if run.Fleet == nil {
		return nil
	}
	var out []timeline.Source
	for _, src := range run.Fleet.Sources {
		if src.Seconds == nil {
			continue
		}
		ts := timeline.Source{Title: "from " + src.Cluster,
			Note: fmt.Sprintf("%g rps · %d user-visible %s", src.Rate, src.UserVisibleErrors, plural(src.UserVisibleErrors, "error", "errors"))}
		for j, c := range run.Clusters {
			s := timeline.Series{Name: c, Muted: c == "none", Share: make([]float64, len(run.Seconds))}
			for i := range s.Share {
				if i < len(src.Seconds) && j < len(src.Seconds[i].Share) {
					s.Share[i] = src.Seconds[i].Share[j]
				}
			}
			ts.Series = append(ts.Series, s)
		}
		out = append(out, ts)
	}
	return out
}
