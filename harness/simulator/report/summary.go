// The report as text: the one-screen side-by-side summary.

package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

func fmtS(p *float64) string {
	if p == nil {
		return "never"
	}
	return fmt.Sprintf("%.1fs", *p)
}

// Summary is the one-screen text for people: the runs in columns.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  (seed %d, %gs, entry %s)\n", r.Scenario, r.Seed, r.DurationS, r.Entry)
	for _, f := range r.Faults {
		end := "no recovery"
		if f.EndS != nil {
			end = fmt.Sprintf("until %gs", *f.EndS)
		}
		fmt.Fprintf(&b, "  fault %-18s %s %s from %gs %s\n", f.Name, f.Kind, f.Target, f.StartS, end)
	}
	b.WriteString("\n")
	width := 28
	for _, f := range r.Faults {
		width = max(width, len(f.Name)+len(" failback cost")+1)
	}
	// With two runs or more, a last column says what the last (detour)
	// changes from the one before it (istio).
	diff := len(r.Runs) >= 2
	row := func(label string, cell func(RunReport) string, delta func(a, b RunReport) string) {
		fmt.Fprintf(&b, "  %-*s", width, label)
		for _, run := range r.Runs {
			fmt.Fprintf(&b, " %-16s", cell(run))
		}
		if diff && delta != nil {
			b.WriteString(" " + delta(r.Runs[len(r.Runs)-2], r.Runs[len(r.Runs)-1]))
		}
		b.WriteString("\n")
	}
	count := func(get func(RunReport) int) func(a, b RunReport) string {
		return func(a, b RunReport) string { return fmt.Sprintf("%+d", get(b)-get(a)) }
	}
	times := func(get func(RunReport) *float64) func(a, b RunReport) string {
		return func(a, b RunReport) string {
			x, y := get(a), get(b)
			switch {
			case x == nil && y == nil:
				return ""
			case x == nil:
				return "now happens"
			case y == nil:
				return "no longer happens"
			}
			d := math.Round((*y-*x)*10) / 10
			if d == 0 {
				return "same"
			}
			return fmt.Sprintf("%+.1fs", d)
		}
	}
	if diff {
		row("", func(run RunReport) string { return run.Name }, func(a, b RunReport) string { return b.Name + " - " + a.Name })
	} else {
		row("", func(run RunReport) string { return run.Name }, nil)
	}
	row("requests", func(run RunReport) string { return fmt.Sprint(run.Requests) }, nil)
	row("user-visible errors", func(run RunReport) string {
		return fmt.Sprintf("%d (%.2f%%)", run.UserVisibleErrors, 100*run.ErrorRate)
	}, count(func(r RunReport) int { return r.UserVisibleErrors }))
	row("  of idempotent requests", func(run RunReport) string { return fmt.Sprint(run.IdempotentErrors) },
		count(func(r RunReport) int { return r.IdempotentErrors }))
	row("retries / amplification", func(run RunReport) string {
		return fmt.Sprintf("%d / %.2fx", run.Retries, run.RetryAmplification)
	}, count(func(r RunReport) int { return r.Retries }))
	row("peak amplification", func(run RunReport) string { return fmt.Sprintf("%.2fx", run.PeakRetryAmplification) }, nil)
	row("latency p50/p90/p99 ms", func(run RunReport) string {
		return fmt.Sprintf("%.0f/%.0f/%.0f", run.LatencyMs.P50, run.LatencyMs.P90, run.LatencyMs.P99)
	}, nil)
	row("cross-region outside faults", func(run RunReport) string { return fmt.Sprintf("%.1f%%", 100*run.CrossRegionShare) }, nil)
	if len(r.Runs) > 0 {
		for i, f := range r.Runs[0].Faults {
			row(f.Name+" detect", func(run RunReport) string { return fmtS(run.Faults[i].DetectS) }, times(func(r RunReport) *float64 { return r.Faults[i].DetectS }))
			row(f.Name+" fail over", func(run RunReport) string { return fmtS(run.Faults[i].FailOverS) }, times(func(r RunReport) *float64 { return r.Faults[i].FailOverS }))
			row(f.Name+" fail back", func(run RunReport) string { return fmtS(run.Faults[i].FailBackS) }, times(func(r RunReport) *float64 { return r.Faults[i].FailBackS }))
			if slices.ContainsFunc(r.Runs, func(run RunReport) bool { return run.Faults[i].FailBackCost != nil }) {
				row(f.Name+" failback cost", func(run RunReport) string { return fmtCost(run.Faults[i].FailBackCost) }, nil)
			}
		}
	}
	fleetRows(r.Runs, row)
	b.WriteString(paid(r.Runs))
	for _, run := range r.Runs {
		if len(run.Transitions) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s: filter transitions\n", run.Name)
		for i, t := range run.Transitions {
			if i == 6 {
				fmt.Fprintf(&b, "  ... %d more in the JSON report\n", len(run.Transitions)-6)
				break
			}
			fmt.Fprintf(&b, "  %7.2fs %s -> %s (%s)\n", t.AtS, t.From, t.To, t.Trigger)
		}
	}
	for _, run := range r.Runs {
		fmt.Fprintf(&b, "\n%s: errors by cause\n", run.Name)
		if len(run.Errors) == 0 {
			b.WriteString("  none\n")
		}
		for i, e := range run.Errors {
			if i == 5 {
				fmt.Fprintf(&b, "  ... %d more causes in the JSON report\n", len(run.Errors)-5)
				break
			}
			flags := e.Flags
			if flags == "" {
				flags = "-"
			}
			fmt.Fprintf(&b, "  %6d  %3d %-8s %s\n", e.Count, e.Status, flags, e.Cause)
		}
		for i, w := range run.Warnings {
			if i == 3 {
				fmt.Fprintf(&b, "  ... %d more model warnings in the JSON report\n", len(run.Warnings)-3)
				break
			}
			fmt.Fprintf(&b, "  model warning: %s\n", w)
		}
		fmt.Fprintf(&b, "%s: traffic share (%s)\n", run.Name, strings.Join(run.Clusters, " / "))
		b.WriteString(shareLine(run))
		for _, x := range run.Expectations {
			verdict := "ok"
			if !x.OK {
				verdict = "FAILED"
			}
			against := ""
			if x.Against != "" {
				against = fmt.Sprintf(" (%g x %s", x.Factor, x.Against)
				if x.SlackMs != 0 {
					against += fmt.Sprintf(" + %g ms", x.SlackMs)
				}
				against += ")"
			}
			if x.Waived != "" {
				verdict = "waived: " + x.Waived
			}
			fmt.Fprintf(&b, "  expect %-22s %s %g %s%s: measured %s  %s\n", x.Name, x.Op(), x.Limit, x.Unit, against, fmtMeasured(x.Measured), verdict)
		}
	}
	return b.String()
}

// fmtCost is a failback cost in a column: requests answered cross-region
// / added latency in request-seconds; "(open)" when the share never came
// back within the run.
func fmtCost(c *FailBackCost) string {
	if c == nil {
		return "-"
	}
	s := fmt.Sprintf("%d / %.1f", c.CrossRegionRequests, c.AddedLatencyRequestS)
	if !c.Recovered {
		s += " (open)"
	}
	return s
}

// paid: where the run with the filters (the last) has fewer user-visible
// errors than a run without them, what it paid for them.
func paid(runs []RunReport) string {
	if len(runs) < 2 || runs[len(runs)-1].Name != RunDetour {
		return ""
	}
	var b strings.Builder
	d := runs[len(runs)-1]
	for _, base := range runs[:len(runs)-1] {
		if d.UserVisibleErrors >= base.UserVisibleErrors {
			continue
		}
		cost := ""
		for i, f := range d.Faults {
			if c := f.FailBackCost; c != nil {
				cost += fmt.Sprintf("; failing back after %s, %d requests cross-region and %.1f request-s of added latency (%s: %s)", f.Name,
					c.CrossRegionRequests, c.AddedLatencyRequestS, base.Name, fmtCost(base.Faults[i].FailBackCost))
			}
		}
		fmt.Fprintf(&b, "\n  %s: %d fewer user-visible errors than %s; paid p50 %+.0f ms, p99 %+.0f ms, cross-region outside faults %.1f%% (%s %.1f%%)%s\n",
			d.Name, base.UserVisibleErrors-d.UserVisibleErrors, base.Name, d.LatencyMs.P50-base.LatencyMs.P50, d.LatencyMs.P99-base.LatencyMs.P99,
			100*d.CrossRegionShare, base.Name, 100*base.CrossRegionShare, cost)
	}
	return b.String()
}

func fmtMeasured(p *float64) string {
	if p == nil {
		return "never"
	}
	return fmt.Sprint(*p)
}

// shareLine prints the timeline in one screen: per phase (between fault
// starts and ends) the average share of each cluster and the errors, then
// one sparkline per cluster and one for errors, a column per slice of
// seconds (the JSON has every second).
func shareLine(run RunReport) string {
	var b strings.Builder
	n := len(run.Seconds)
	if n == 0 {
		return ""
	}
	for _, p := range run.Phases {
		parts := make([]string, len(run.Clusters))
		req := 0
		shares := make([]float64, len(run.Clusters))
		for _, sec := range run.Seconds[min(int(p.FromS), n):min(int(math.Ceil(p.ToS)), n)] {
			req += sec.Requests
			for j, x := range sec.Share {
				shares[j] += x * float64(sec.Requests)
			}
		}
		for j, x := range shares {
			if req > 0 {
				x /= float64(req)
			}
			parts[j] = fmt.Sprintf("%3.0f%%", 100*x)
		}
		fmt.Fprintf(&b, "  %10s %s  errors %d, p50/p99 %.0f/%.0f ms, cross-region %.0f%%  %s\n", fmt.Sprintf("%gs-%gs", p.FromS, p.ToS),
			strings.Join(parts, " "), p.Errors, p.LatencyMs.P50, p.LatencyMs.P99, 100*p.CrossRegionShare, p.Label)
	}
	const width = 60
	per := (n + width - 1) / width
	cols := (n + per - 1) / per
	levels := []rune(" ▁▂▃▄▅▆▇█")
	name := len("errors")
	for _, c := range run.Clusters {
		name = max(name, len(c))
	}
	line := func(label string, val func(from, to int) float64) {
		fmt.Fprintf(&b, "  %-*s |", name, label)
		for c := 0; c < cols; c++ {
			v := val(c*per, min((c+1)*per, n))
			k := int(math.Round(v * float64(len(levels)-1)))
			if v > 0 && k == 0 {
				k = 1 // something is not nothing
			}
			b.WriteRune(levels[k])
		}
		b.WriteString("|\n")
	}
	fmt.Fprintf(&b, "  over time, one column per %ds:\n", per)
	for j, c := range run.Clusters {
		line(c, func(from, to int) float64 {
			req, hit := 0.0, 0.0
			for _, sec := range run.Seconds[from:to] {
				req += float64(sec.Requests)
				hit += sec.Share[j] * float64(sec.Requests)
			}
			if req == 0 {
				return 0
			}
			return hit / req
		})
	}
	// Errors are scaled to the worst column, whose count per second the
	// caption gives.
	errAt := func(from, to int) float64 {
		e := 0
		for _, sec := range run.Seconds[from:to] {
			e += sec.Errors
		}
		return float64(e) / float64(to-from)
	}
	peak := 0.0
	for c := 0; c < cols; c++ {
		peak = max(peak, errAt(c*per, min((c+1)*per, n)))
	}
	line("errors", func(from, to int) float64 {
		if peak == 0 {
			return 0
		}
		return errAt(from, to) / peak
	})
	// A column is a mean over its seconds: one error in a 5 s column is
	// 0.2/s, which %.0f would print as the "0/s" of an empty chart.
	caption := "errors: none"
	if peak > 0 {
		caption = "errors: full height = " + strconv.FormatFloat(peak, 'g', 3, 64) + "/s"
		if peak >= 1000 {
			caption = fmt.Sprintf("errors: full height = %.0f/s", peak)
		}
	}
	fmt.Fprintf(&b, "  %-*s  (%s)\n", name, "", caption)
	return b.String()
}
