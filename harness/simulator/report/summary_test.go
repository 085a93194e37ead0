package report

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// sumRow is a row of the summary's table as the summary defines it: the
// label in a column of width, each run's cell in 16, then the difference
// (" " + it) when there is one.
func sumRow(width int, label string, cells []string, delta ...string) string {
	s := "  " + label + strings.Repeat(" ", max(0, width-len(label)))
	for _, c := range cells {
		s += " " + c + strings.Repeat(" ", max(0, 16-len(c)))
	}
	for _, d := range delta {
		s += " " + d
	}
	return s + "\n"
}

// twoRuns is a report of istio and detour written by hand: two faults
// (one with a 19-character name, one that never ends), a fleet, seven
// transitions, six error causes, four warnings, and expectations of each
// kind.
func twoRuns() *Report {
	f := func(x float64) *float64 { return &x }
	return &Report{Scenario: "s", Seed: 3, DurationS: 20, Entry: "sidecar in c1",
		Faults: []FaultReport{
			{Name: "f", Kind: "clusterOutage", Target: "cluster c1", StartS: 5, EndS: f(12)},
			{Name: "longer-fault-name-g", Kind: "partition", Target: "r1 | r2", StartS: 8.5},
		},
		Runs: []RunReport{
			{Name: "istio", Requests: 200, UserVisibleErrors: 10, ErrorRate: 0.05, IdempotentErrors: 8, Retries: 12,
				RetryAmplification: 1.06, PeakRetryAmplification: 2, LatencyMs: Latency{P50: 5, P90: 9, P99: 10}, CrossRegionShare: 0.0769,
				Clusters: []string{"c1", "c2", "none"},
				Faults: []FaultResult{
					{Name: "f", DetectS: f(0.3), FailBackS: f(2), FailBackCost: &FailBackCost{Recovered: true, CrossRegionRequests: 12, AddedLatencyRequestS: 0.44}},
					{Name: "longer-fault-name-g", DetectS: f(1)},
				},
				Errors: []ErrorKind{
					{Cause: "c1 down", Status: 503, Flags: "UF,URX", Count: 4},
					{Cause: "no_healthy_upstream", Status: 503, Flags: "UH", Count: 2},
					{Cause: "reset", Status: 0, Count: 1},
					{Cause: "b", Status: 500, Count: 1},
					{Cause: "c", Status: 404, Flags: "NR", Count: 1},
					{Cause: "d", Status: 502, Count: 1},
				},
				Fleet: &FleetReport{
					Sources: []SourceReport{{Cluster: "c1", Rate: 10, UserVisibleErrors: 10}, {Cluster: "c2", Rate: 20.5, UserVisibleErrors: 3, OverflowErrors: 2}},
					Total:   SourceReport{Rate: 30.5, Requests: 610, UserVisibleErrors: 13, OverflowErrors: 2},
					Faults:  []FleetFault{{Fault: "f", Clusters: []ClusterLoad{{Cluster: "c1", RPS: 0}, {Cluster: "c2", RPS: 30.4, Capacity: 25}}, OverflowErrors: 2}},
				},
				Expectations: []Expectation{
					{Name: "minUserVisibleErrors", Limit: 1, Measured: f(10), Unit: "requests", OK: true},
					{Name: "maxTimeToFailBack", Limit: 60, Unit: "s", OK: false},
				}},
			{Name: "detour", Requests: 200, UserVisibleErrors: 4, ErrorRate: 0.02, IdempotentErrors: 4, Retries: 30,
				RetryAmplification: 1.15, PeakRetryAmplification: 1.5, LatencyMs: Latency{P50: 6, P90: 12, P99: 40}, CrossRegionShare: 0.1,
				Clusters: []string{"c1", "c2", "none"},
				Faults: []FaultResult{
					{Name: "f", DetectS: f(0.3), FailOverS: f(0.5), FailBackCost: &FailBackCost{CrossRegionRequests: 3, AddedLatencyRequestS: 1.26}},
					{Name: "longer-fault-name-g", DetectS: f(0.4)},
				},
				Errors: []ErrorKind{{Cause: "c1 down", Status: 503, Flags: "UF", Count: 4}},
				Transitions: []Transition{
					{AtS: 5.1, From: "PRIMARY", To: "DEGRADED", Trigger: "a"}, {AtS: 5.25, From: "DEGRADED", To: "FAILED_OVER", Trigger: "b"},
					{AtS: 12, From: "FAILED_OVER", To: "FAILING_BACK", Trigger: "c"}, {AtS: 13, From: "FAILING_BACK", To: "PRIMARY", Trigger: "d"},
					{AtS: 14, From: "PRIMARY", To: "DEGRADED", Trigger: "e"}, {AtS: 15, From: "DEGRADED", To: "PRIMARY", Trigger: "f"},
					{AtS: 16, From: "PRIMARY", To: "DEGRADED", Trigger: "g"},
				},
				Warnings: []string{"w1", "w2", "w3", "w4"},
				Fleet: &FleetReport{
					Sources: []SourceReport{{Cluster: "c1", Rate: 10, UserVisibleErrors: 4}, {Cluster: "c2", Rate: 20.5}},
					Total:   SourceReport{Rate: 30.5, Requests: 610, UserVisibleErrors: 4},
					Faults:  []FleetFault{{Fault: "f", Clusters: []ClusterLoad{{Cluster: "c1", RPS: 0}, {Cluster: "c2", RPS: 24.6, Capacity: 25}}}},
				},
				Expectations: []Expectation{
					{Name: "maxUserVisibleErrors", Limit: 0, Measured: f(4), Unit: "requests", OK: false},
					{Name: "maxErrorsVsBaseline", Limit: 10, Measured: f(4), Unit: "requests", Against: "istio", Factor: 1, OK: true},
					{Name: "maxLatencyP99VsBaseline", Limit: 13, Measured: f(40), Unit: "ms", Against: "istio", Factor: 1.1, SlackMs: 2, OK: true,
						Waived: "fewer user-visible errors than istio (4 < 10)"},
				}},
		}}
}

// The summary of two runs, line by line: the table's label column fits
// the longest fault name with " failback cost" and a space (19 + 14 + 1 =
// 34), the last column says what detour changes from istio (counts
// signed, times as "same", "now happens", "no longer happens" or a signed
// difference to 0.1 s, nothing when neither run has the time), a failback
// cost only for a fault where some run has one ("(open)" when not
// recovered), the fleet's rows, what detour paid for fewer errors, at most
// six transitions, five causes and three warnings, and each expectation.
func TestSummaryOfTwoRuns(t *testing.T) {
	w := 34
	runs := func(istio, detour string) []string { return []string{istio, detour} }
	want := "s  (seed 3, 20s, entry sidecar in c1)\n" +
		"  fault f                  clusterOutage cluster c1 from 5s until 12s\n" +
		"  fault longer-fault-name-g partition r1 | r2 from 8.5s no recovery\n" +
		"\n" +
		sumRow(w, "", runs("istio", "detour"), "detour - istio") +
		sumRow(w, "requests", runs("200", "200")) +
		sumRow(w, "user-visible errors", runs("10 (5.00%)", "4 (2.00%)"), "-6") +
		sumRow(w, "  of idempotent requests", runs("8", "4"), "-4") +
		sumRow(w, "retries / amplification", runs("12 / 1.06x", "30 / 1.15x"), "+18") +
		sumRow(w, "peak amplification", runs("2.00x", "1.50x")) +
		sumRow(w, "latency p50/p90/p99 ms", runs("5/9/10", "6/12/40")) +
		sumRow(w, "cross-region outside faults", runs("7.7%", "10.0%")) +
		sumRow(w, "f detect", runs("0.3s", "0.3s"), "same") +
		sumRow(w, "f fail over", runs("never", "0.5s"), "now happens") +
		sumRow(w, "f fail back", runs("2.0s", "never"), "no longer happens") +
		sumRow(w, "f failback cost", runs("12 / 0.4", "3 / 1.3 (open)")) +
		sumRow(w, "longer-fault-name-g detect", runs("1.0s", "0.4s"), "-0.6s") +
		sumRow(w, "longer-fault-name-g fail over", runs("never", "never"), "") +
		sumRow(w, "longer-fault-name-g fail back", runs("never", "never"), "") +
		sumRow(w, "sources: errors / overflow", runs("", "")) +
		sumRow(w, "  c1 10 rps", runs("10 / 0", "4 / 0")) +
		sumRow(w, "  c2 20.5 rps", runs("3 / 2", "0 / 0")) +
		sumRow(w, "  fleet 30.5 rps, 610 requests", runs("13 / 2", "4 / 0")) +
		sumRow(w, "f load", runs("", "")) +
		sumRow(w, "  c1 rps", runs("0", "0")) +
		sumRow(w, "  c2 rps", runs("30/25", "25/25")) +
		sumRow(w, "f verdict", runs("OVERLOADED (2)", "absorbed")) +
		"\n  detour: 6 fewer user-visible errors than istio; paid p50 +1 ms, p99 +30 ms, cross-region outside faults 10.0% (istio 7.7%)" +
		"; failing back after f, 3 requests cross-region and 1.3 request-s of added latency (istio: 12 / 0.4)\n" +
		"\ndetour: filter transitions\n" +
		"     5.10s PRIMARY -> DEGRADED (a)\n" +
		"     5.25s DEGRADED -> FAILED_OVER (b)\n" +
		"    12.00s FAILED_OVER -> FAILING_BACK (c)\n" +
		"    13.00s FAILING_BACK -> PRIMARY (d)\n" +
		"    14.00s PRIMARY -> DEGRADED (e)\n" +
		"    15.00s DEGRADED -> PRIMARY (f)\n" +
		"  ... 1 more in the JSON report\n" +
		"\nistio: errors by cause\n" +
		"       4  503 UF,URX   c1 down\n" +
		"       2  503 UH       no_healthy_upstream\n" +
		"       1    0 -        reset\n" +
		"       1  500 -        b\n" +
		"       1  404 NR       c\n" +
		"  ... 1 more causes in the JSON report\n" +
		"istio: traffic share (c1 / c2 / none)\n" +
		"  expect minUserVisibleErrors   >= 1 requests: measured 10  ok\n" +
		"  expect maxTimeToFailBack      <= 60 s: measured never  FAILED\n" +
		"\ndetour: errors by cause\n" +
		"       4  503 UF       c1 down\n" +
		"  model warning: w1\n" +
		"  model warning: w2\n" +
		"  model warning: w3\n" +
		"  ... 1 more model warnings in the JSON report\n" +
		"detour: traffic share (c1 / c2 / none)\n" +
		"  expect maxUserVisibleErrors   <= 0 requests: measured 4  FAILED\n" +
		"  expect maxErrorsVsBaseline    <= 10 requests (1 x istio): measured 4  ok\n" +
		"  expect maxLatencyP99VsBaseline <= 13 ms (1.1 x istio + 2 ms): measured 40  waived: fewer user-visible errors than istio (4 < 10)\n"
	r := twoRuns()
	assert.Equal(t, want, r.Summary())
	assert.False(t, r.Passed(), "istio failed an expectation")
}

// With one run there is no difference column, no "paid" line; a run
// without errors says so.
func TestSummaryOfOneRun(t *testing.T) {
	r := twoRuns()
	r.Faults = r.Faults[:1]
	r.Runs = r.Runs[1:]
	d := &r.Runs[0]
	d.Faults, d.Fleet, d.Transitions, d.Warnings, d.Expectations, d.Errors = d.Faults[:1], nil, nil, nil, nil, nil
	d.Passed = true
	want := "s  (seed 3, 20s, entry sidecar in c1)\n" +
		"  fault f                  clusterOutage cluster c1 from 5s until 12s\n" +
		"\n" +
		sumRow(28, "", []string{"detour"}) +
		sumRow(28, "requests", []string{"200"}) +
		sumRow(28, "user-visible errors", []string{"4 (2.00%)"}) +
		sumRow(28, "  of idempotent requests", []string{"4"}) +
		sumRow(28, "retries / amplification", []string{"30 / 1.15x"}) +
		sumRow(28, "peak amplification", []string{"1.50x"}) +
		sumRow(28, "latency p50/p90/p99 ms", []string{"6/12/40"}) +
		sumRow(28, "cross-region outside faults", []string{"10.0%"}) +
		sumRow(28, "f detect", []string{"0.3s"}) +
		sumRow(28, "f fail over", []string{"0.5s"}) +
		sumRow(28, "f fail back", []string{"never"}) +
		sumRow(28, "f failback cost", []string{"3 / 1.3 (open)"}) +
		"\ndetour: errors by cause\n" +
		"  none\n" +
		"detour: traffic share (c1 / c2 / none)\n"
	assert.Equal(t, want, r.Summary())
	assert.True(t, r.Passed())

	// Detour with as many errors as istio paid nothing worth a line.
	r = twoRuns()
	r.Runs[1].UserVisibleErrors = 10
	assert.NotContains(t, r.Summary(), "paid")
	// Nor when the last run is not detour.
	r = twoRuns()
	r.Runs[1].Name = "baseline"
	assert.NotContains(t, r.Summary(), "paid")
}

// shareRun has n seconds of 10 requests: c1 answers the first 60, c2 the
// rest; errs gives errors per second.
func shareRun(n int, errs map[int]int, phases ...Phase) RunReport {
	run := RunReport{Clusters: []string{"c1", "c2", "none"}, Phases: phases}
	for s := range n {
		sec := Second{T: s, Requests: 10, Errors: errs[s], Share: []float64{1, 0, 0}}
		if s >= 60 {
			sec.Share = []float64{0, 1, 0}
		}
		run.Seconds = append(run.Seconds, sec)
	}
	return run
}

// The share lines: per phase the cluster shares over its seconds
// (weighted by requests), then one column per ceil(n/60) seconds: 121
// seconds make columns of 3 s, 41 of them, the last of one second. A
// column's level is its share (or errors per second over the worst
// column's) in eighths, rounded, and at least the lowest level when not 0.
func TestShareLine(t *testing.T) {
	run := shareRun(121, map[int]int{0: 1, 61: 45, 120: 30},
		Phase{FromS: 0, ToS: 60, Label: "before faults", Errors: 1, LatencyMs: Latency{P50: 5, P99: 9}},
		Phase{FromS: 60, ToS: 120.5, Label: "during f", Errors: 75, LatencyMs: Latency{P50: 40, P99: 80}, CrossRegionShare: 1})
	full, empty := strings.Repeat("█", 20), strings.Repeat(" ", 20)
	assert.Equal(t, "      0s-60s 100%   0%   0%  errors 1, p50/p99 5/9 ms, cross-region 0%  before faults\n"+
		"  60s-120.5s   0% 100%   0%  errors 75, p50/p99 40/80 ms, cross-region 100%  during f\n"+
		"  over time, one column per 3s:\n"+
		"  c1     |"+full+" "+empty+"|\n"+
		"  c2     |"+empty+"█"+full+"|\n"+
		"  none   |"+empty+" "+empty+"|\n"+
		// Column 0: 1 error in 3 s, 1/90 of the worst (column 40: 30 in
		// 1 s), the lowest level; column 20: 45 in 3 s, half: 4 eighths.
		"  errors |▁"+strings.Repeat(" ", 19)+"▄"+strings.Repeat(" ", 19)+"█|\n"+
		"          (errors: full height = 30/s)\n", shareLine(run))

	// 61 s: columns of 2 s, 31 of them; one error in the first column is
	// 0.5/s, the worst.
	out := shareLine(shareRun(61, map[int]int{0: 1}))
	assert.Contains(t, out, "  over time, one column per 2s:\n")
	assert.Contains(t, out, "  c1     |"+strings.Repeat("█", 30)+" |\n")
	assert.Contains(t, out, "  errors |█"+strings.Repeat(" ", 30)+"|\n")
	assert.Contains(t, out, "(errors: full height = 0.5/s)\n")
	// A thousand and more per second is written out whole.
	assert.Contains(t, shareLine(shareRun(60, map[int]int{3: 3000})), "(errors: full height = 3000/s)\n")
	assert.Contains(t, shareLine(shareRun(60, map[int]int{3: 999})), "(errors: full height = 999/s)\n")
	assert.Contains(t, shareLine(shareRun(60, map[int]int{3: 1000})), "(errors: full height = 1000/s)\n")
	assert.Contains(t, shareLine(shareRun(60, nil)), "  errors |"+strings.Repeat(" ", 60)+"|\n          (errors: none)\n")
	assert.Empty(t, shareLine(RunReport{}), "no seconds, no lines")
}

// A report without runs still prints its header and the table's labels.
func TestSummaryWithoutRuns(t *testing.T) {
	r := &Report{Scenario: "s", Faults: []FaultReport{{Name: "f", Kind: "clusterOutage", Target: "c1", StartS: 1}}}
	var sum string
	assert.NotPanics(t, func() { sum = r.Summary() })
	assert.True(t, strings.HasPrefix(sum, "s  (seed 0, 0s, entry )\n  fault f                  clusterOutage c1 from 1s no recovery\n\n"), sum)
	assert.Contains(t, sum, sumRow(28, "requests", nil))
	assert.NotContains(t, sum, "f detect", "the faults' rows come from the runs")
}

// A phase whose seconds had no requests shows no share (0 %), not NaN.
func TestShareLineEmptyPhase(t *testing.T) {
	run := shareRun(2, nil, Phase{FromS: 0, ToS: 1, Label: "before faults"}, Phase{FromS: 1, ToS: 2, Label: "during f"})
	run.Seconds[0].Requests, run.Seconds[0].Share = 0, []float64{0, 0, 0}
	out := shareLine(run)
	assert.True(t, strings.HasPrefix(out, "       0s-1s   0%   0%   0%  errors 0, p50/p99 0/0 ms, cross-region 0%  before faults\n"+
		"       1s-2s 100%   0%   0%  errors 0, p50/p99 0/0 ms, cross-region 0%  during f\n"), out)
}
