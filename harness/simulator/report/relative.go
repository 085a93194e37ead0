// Expectations relative to the runs without the filters: "never worse
// than the Envoy the filters run in" (README.md, "Never worse than the
// baseline").

package report

import "fmt"

// LatencySlackMs is added to a latency limit: a factor of a few
// milliseconds is within the jitter of one draw of the latency model, and a
// 1.1× bound on a 5 ms p50 would otherwise fail on half a millisecond.
const LatencySlackMs = 2

// checkRelative checks run (with the filters) against base (a run without
// them in the same report, same seed). Detour wins on errors when it has
// strictly fewer user-visible errors; then the latency limits are waived,
// and the summary states what it paid. Otherwise it must have no more
// errors than factor × base and p50, p99 within factor × base + 2 ms.
func checkRelative(e Expect, run, base *RunReport) []Expectation {
	var out []Expectation
	fewer := run.UserVisibleErrors < base.UserVisibleErrors
	if f := e.MaxErrorsVsBaseline; f != nil {
		limit := *f * float64(base.UserVisibleErrors)
		out = append(out, Expectation{Name: "maxErrorsVsBaseline", Limit: round(limit), Measured: ptr(float64(run.UserVisibleErrors)),
			Unit: "requests", Against: base.Name, Factor: *f, OK: float64(run.UserVisibleErrors) <= limit})
	}
	for _, l := range []struct {
		name         string
		f            *float64
		mine, theirs float64
	}{
		{"maxLatencyP50VsBaseline", e.MaxLatencyP50VsBaseline, run.LatencyMs.P50, base.LatencyMs.P50},
		{"maxLatencyP99VsBaseline", e.MaxLatencyP99VsBaseline, run.LatencyMs.P99, base.LatencyMs.P99},
	} {
		if l.f == nil {
			continue
		}
		limit := round(*l.f*l.theirs + LatencySlackMs)
		x := Expectation{Name: l.name, Limit: limit, Measured: ptr(l.mine), Unit: "ms", Against: base.Name, Factor: *l.f, SlackMs: LatencySlackMs,
			OK: l.mine <= limit}
		if !x.OK && fewer {
			x.OK = true
			x.Waived = fmt.Sprintf("fewer user-visible errors than %s (%d < %d)", base.Name, run.UserVisibleErrors, base.UserVisibleErrors)
		}
		out = append(out, x)
	}
	return out
}

// ApplyRelative adds the relative expectations to the run with the
// filters, once against each run without them (istio, and baseline when
// given). Without a run on each side there is nothing to compare.
func ApplyRelative(rep *Report, e Expect) {
	d := -1
	for i := range rep.Runs {
		if rep.Runs[i].Name == RunDetour {
			d = i
		}
	}
	if d < 0 {
		return
	}
	run := &rep.Runs[d]
	for i := range rep.Runs {
		if i == d {
			continue
		}
		for _, x := range checkRelative(e, run, &rep.Runs[i]) {
			run.Expectations = append(run.Expectations, x)
			run.Passed = run.Passed && x.OK
		}
	}
}
