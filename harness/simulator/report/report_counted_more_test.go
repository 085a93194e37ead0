package report

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/sim/scenario"
)

// The fields report_counted_test.go leaves out, counted the same way.

// Region share: per region, the share of all requests with at least one
// attempt to a cluster there (a request with two attempts in one region
// counts once; one answered by the proxy counts nowhere). Residency
// (maxShareOutside) is the share of requests with an attempt outside the
// listed regions, faults included.
func TestCountedRegionShareAndResidency(t *testing.T) {
	in := counted(time.Second,
		req(0, "GET", 200, "c1"),
		req(100, "GET", 200, "c1", "c1"), // twice in r1: once
		req(200, "GET", 200, "c1", "c2"), // both regions
		req(300, "GET", 503),             // the proxy answered: nowhere
		req(400, "GET", 200, "c2"),
		req(500, "GET", 200, "c3"), // a cluster of no known region
		req(600, "GET", 200, "c1"),
		req(700, "GET", 200, "c1"),
	)
	run := Build(nil, Expect{}, in)
	// r1: requests 0, 100, 200, 600, 700 = 5 of 8; r2: 200, 400 = 2 of 8.
	assert.Equal(t, map[string]float64{"r1": 0.625, "r2": 0.25}, run.RegionShare)

	limit := func(max float64) Expectation {
		t.Helper()
		exp := CheckAll(Expect{MaxShareOutside: &scenario.ShareOutside{Regions: []string{"r1"}, Max: max}}, &run, &in)
		require.Len(t, exp, 1)
		return exp[0]
	}
	// Outside r1: requests 200 and 400 (c3 has no region, so it is not
	// known to be outside): 2 of 8.
	at := limit(0.25)
	assert.Equal(t, 0.25, *at.Measured)
	assert.True(t, at.OK, "at the limit passes")
	assert.False(t, limit(0.2499).OK, "just under fails")
}

// Failbacks come from the filters' log: the "back in service" line starts
// one, the hold-down ends hd ms later, each ramp step k is k step
// intervals after that, and the next ejection of the same target (or the
// run's end) cuts it. Every worker logs the same return: counted once.
func TestCountedFailbacks(t *testing.T) {
	start := time.Unix(1000, 0)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	back := func(ms, worker int) LogLine {
		return LogLine{Time: at(ms),
			Message: "detour: svc: probe of c1 answered 200: back in service, hold-down 2000ms then ramp [25 50 100]"}
	}
	logs := []LogLine{
		back(10000, 0), back(10000, 1),
		{Time: at(11000), Message: "detour: svc: ejected c2 for 30s"}, // another target: no cut
		back(30000, 0),
		{Time: at(33500), Message: "detour: svc: ejected c1 for 30s"},
	}
	fbs := Failbacks(logs, start, map[string]time.Duration{"svc": time.Second}, 60*time.Second)
	require.Len(t, fbs, 2, "the second worker's copy of the first return is not another")
	// 10 s + 2 s hold-down; steps at 12, 13, 14 s; it ends with the last.
	assert.Equal(t, FailbackReport{Service: "svc", Target: "c1", StartS: 10, HoldDownEndS: 12,
		Steps: []RampStep{{AtS: 12, Percent: 25}, {AtS: 13, Percent: 50}, {AtS: 14, Percent: 100}}, EndS: 14}, fbs[0])
	// 30 s + 2 s; steps at 32, 33 s; the ejection at 33.5 s cuts the third.
	assert.Equal(t, FailbackReport{Service: "svc", Target: "c1", StartS: 30, HoldDownEndS: 32,
		Steps: []RampStep{{AtS: 32, Percent: 25}, {AtS: 33, Percent: 50}}, EndS: 33.5}, fbs[1])

	// An ejection during the hold-down ends it there, with no step.
	logs = []LogLine{back(10000, 0), {Time: at(11000), Message: "detour: svc: ejected c1 for 30s"}}
	assert.Equal(t, []FailbackReport{{Service: "svc", Target: "c1", StartS: 10, HoldDownEndS: 11, EndS: 11}},
		Failbacks(logs, start, map[string]time.Duration{"svc": time.Second}, 60*time.Second))
}

// The fleet report: per source its requests, user-visible and overflow
// errors and per second where its requests were answered; the total sums
// the sources; per fault, from 5 s after its start (fleetSettle) to its
// end, each cluster's served load per second, and the errors from the
// fault's start.
func TestCountedFleet(t *testing.T) {
	over := func(start int, status int) RequestRecord {
		r := req(start, "GET", status, "c1")
		r.Attempts[0].Cause = "c1 pods over capacity"
		return r
	}
	entry := []RequestRecord{
		req(0, "GET", 200, "c1"),
		over(6000, 503),             // during the fault: an overflow error
		req(7000, "GET", 503, "c1"), // an error, not an overflow
		over(12000, 503),            // after the fault
		req(13000, "GET", 503),      // answered by the proxy: no attempt, no overflow
	}
	served := make([][]int, 12)
	for s := range served {
		served[s] = []int{10, 0}
	}
	for s := 7; s < 10; s++ { // the fault's settled window is 7–10 s
		served[s] = []int{4, 20}
	}
	fl := &FleetInput{Clusters: []string{"c1", "c2"}, Capacity: map[string]float64{"c1": 5, "c2": 30}, Duration: 12 * time.Second, Served: served,
		Sources: []*FleetSource{
			{SourceReport: SourceReport{Cluster: "c1", Rate: 10}, Entry: true},
			{SourceReport: SourceReport{Cluster: "c2", Rate: 20, Requests: 40, UserVisibleErrors: 1},
				ErrorAt: []time.Duration{ms(8000)}, Answered: [][]int{{3, 1, 0}, {0, 3, 1}, {0, 0, 0}}, Errors: []int{0, 1, 0}},
		}}
	faults := []Fault{{Name: "f", Start: 2 * time.Second, End: 10 * time.Second}}
	rep := Fleet(faults, fl, entry)

	require.Len(t, rep.Sources, 2)
	assert.Equal(t, SourceReport{Cluster: "c1", Rate: 10, Requests: 5, UserVisibleErrors: 4, OverflowErrors: 2}, rep.Sources[0],
		"the entry's seconds are the run's")
	assert.Equal(t, []SourceSecond{{T: 0, Requests: 4, Share: []float64{0.75, 0.25, 0}}, {T: 1, Requests: 4, Errors: 1, Share: []float64{0, 0.75, 0.25}},
		{T: 2, Share: []float64{0, 0, 0}}}, rep.Sources[1].Seconds, "a second without requests has no share")
	assert.Equal(t, SourceReport{Cluster: "total", Rate: 30, Requests: 45, UserVisibleErrors: 5, OverflowErrors: 2}, rep.Total)
	// 7–10 s: c1 served 3 × 4 = 12 over 3 s, c2 60 over 3 s. Errors from
	// 2 s to 10 s: the entry's 6 s and 7 s ones and the source's 8 s one;
	// the 6 s overflow only (12 s is after the fault).
	assert.Equal(t, []FleetFault{{Fault: "f", FromS: 7, ToS: 10, Clusters: []ClusterLoad{
		{Cluster: "c1", RPS: 4, Capacity: 5}, {Cluster: "c2", RPS: 20, Capacity: 30}},
		UserVisibleErrors: 3, OverflowErrors: 1}}, rep.Faults)

	// A fault shorter than the settling time has no load to report.
	assert.Empty(t, Fleet([]Fault{{Name: "g", Start: 2 * time.Second, End: 6 * time.Second}}, fl, entry).Faults)
}

// Transitions and the filters' health events come from the filters' log:
// one transition per instant (every worker logs the shared state's move),
// and an ejection or a return is a filter-eject or filter-back event.
func TestCountedTransitionsAndFilterEvents(t *testing.T) {
	const entryName = "entry"
	start := time.Unix(1000, 0)
	line := func(ms, worker int, msg string) LogLine {
		return LogLine{Time: start.Add(time.Duration(ms) * time.Millisecond), Message: msg}
	}
	logs := []LogLine{
		line(1500, 0, "detour: svc: PRIMARY -> FAILED_OVER (c1 ejected)"),
		line(1500, 1, "detour: svc: PRIMARY -> FAILED_OVER (c1 ejected)"), // the same move
		line(1500, 0, "detour: svc: ejected c1 for 30s"),
		line(2000, 0, "detour: svc: PRIMARY -> FAILED_OVER (again)"), // a later instant: another
		line(3000, 0, "other: svc: PRIMARY -> FAILED_OVER (x)"),
		line(4000, 0, "detour: svc: probe of c1 answered 200: back in service, hold-down 0ms then ramp []"),
		line(5000, 0, "detour: svc: FAILED_OVER -> PRIMARY (c1 back)"),
	}
	assert.Equal(t, []Transition{
		{AtS: 1.5, Proxy: entryName, Service: "svc", From: "PRIMARY", To: "FAILED_OVER", Trigger: "c1 ejected"},
		{AtS: 2, Proxy: entryName, Service: "svc", From: "PRIMARY", To: "FAILED_OVER", Trigger: "again"},
		{AtS: 5, Proxy: entryName, Service: "svc", From: "FAILED_OVER", To: "PRIMARY", Trigger: "c1 back"},
	}, Transitions(logs, start, entryName))
	assert.Equal(t, []Event{
		{At: 1500 * time.Millisecond, Proxy: entryName, Kind: "filter-eject", Detail: "svc: ejected c1 for 30s"},
		{At: 4 * time.Second, Proxy: entryName, Kind: "filter-back", Detail: "svc: probe of c1 answered 200: back in service, hold-down 0ms then ramp []"},
	}, FilterEvents(logs, start, entryName))

	// The report carries the events in seconds and the transitions as read.
	in := counted(6*time.Second, req(0, "GET", 200, "c1"))
	in.Events, in.Transitions = FilterEvents(logs, start, entryName), Transitions(logs, start, entryName)
	run := Build(nil, Expect{}, in)
	assert.Equal(t, []EventJSON{
		{AtS: 1.5, Proxy: entryName, Kind: "filter-eject", Detail: "svc: ejected c1 for 30s"},
		{AtS: 4, Proxy: entryName, Kind: "filter-back", Detail: "svc: probe of c1 answered 200: back in service, hold-down 0ms then ramp []"},
	}, run.Events)
	assert.Len(t, run.Transitions, 3)
}

// Each absolute expectation at its limit passes and one step past it
// fails; a time limit takes the worst fault's time, and fails with no
// measurement when any fault never got there (a run without faults passes
// it).
func TestCountedExpectationLimits(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	run := &RunReport{UserVisibleErrors: 3, IdempotentErrors: 2, PeakRetryAmplification: 1.5, LatencyMs: Latency{P99: 25}, CrossRegionShare: 0.25,
		Faults: []FaultResult{{DetectS: f(0.5), FailOverS: f(1)}, {DetectS: f(1.5)}}}
	in := &Input{}
	n := func(x int) *int { return &x }
	d := func(x time.Duration) *time.Duration { return &x }
	x := func(v float64) *float64 { return &v }
	at := Expect{MaxUserVisibleErrors: n(3), MinUserVisibleErrors: n(3), MaxIdempotentErrors: n(2), MaxTimeToDetect: d(1500 * time.Millisecond),
		MaxTimeToFailOver: d(time.Hour), MaxRetryAmplification: x(1.5), MaxLatencyP99: d(25 * time.Millisecond), MaxCrossRegionShare: x(0.25)}
	assert.Equal(t, []Expectation{
		{Name: "maxUserVisibleErrors", Limit: 3, Measured: f(3), Unit: "requests", OK: true},
		{Name: "minUserVisibleErrors", Limit: 3, Measured: f(3), Unit: "requests", OK: true},
		{Name: "maxIdempotentErrors", Limit: 2, Measured: f(2), Unit: "requests", OK: true},
		{Name: "maxTimeToDetect", Limit: 1.5, Measured: f(1.5), Unit: "s", OK: true},
		{Name: "maxTimeToFailOver", Limit: 3600, Unit: "s", OK: false}, // the second fault never failed over
		{Name: "maxRetryAmplification", Limit: 1.5, Measured: f(1.5), Unit: "attempts/request (peak second)", OK: true},
		{Name: "maxLatencyP99", Limit: 25, Measured: f(25), Unit: "ms", OK: true},
		{Name: "maxCrossRegionShare", Limit: 0.25, Measured: f(0.25), Unit: "share", OK: true},
	}, CheckAll(at, run, in))
	past := Expect{MaxUserVisibleErrors: n(2), MinUserVisibleErrors: n(4), MaxIdempotentErrors: n(1), MaxTimeToDetect: d(1499 * time.Millisecond),
		MaxRetryAmplification: x(1.4999), MaxLatencyP99: d(24999 * time.Microsecond), MaxCrossRegionShare: x(0.2499)}
	for _, e := range CheckAll(past, run, in) {
		assert.False(t, e.OK, "%s one step past its limit", e.Name)
	}
	assert.Len(t, CheckAll(past, run, in), 7)
	assert.Equal(t, []Expectation{{Name: "maxTimeToFailBack", Limit: 1, Unit: "s", OK: true}},
		CheckAll(Expect{MaxTimeToFailBack: d(time.Second)}, &RunReport{Faults: []FaultResult{}}, in), "no fault: nothing to wait for")
	assert.Equal(t, []Expectation{{Name: "maxTimeToFailOver", Limit: 1, Measured: f(1), Unit: "s", OK: true}},
		CheckAll(Expect{MaxTimeToFailOver: d(time.Second)}, &RunReport{Faults: run.Faults[:1]}, in))
}

// A fleet fault's load window runs from 5 s after its start to its end,
// or the run's end (the drain's second after it left out); one shorter
// than 5 s has none. Errors count from the fault's start, up to the
// window's end.
func TestCountedFleetWindows(t *testing.T) {
	served := make([][]int, 21) // 20 s and the drain's second
	for s := range served {
		served[s] = []int{s} // second s: s requests served
	}
	fl := &FleetInput{Clusters: []string{"c1"}, Capacity: map[string]float64{}, Duration: 20 * time.Second, Served: served,
		Sources: []*FleetSource{{SourceReport: SourceReport{Cluster: "c2", Rate: 1},
			ErrorAt: []time.Duration{2 * time.Second, ms(19999), 20 * time.Second}, OverflowAt: []time.Duration{ms(1999), 2 * time.Second, 20 * time.Second}}}}
	rep := Fleet([]Fault{
		{Name: "open", Start: 2 * time.Second},                               // 7–20 s
		{Name: "late", Start: 4 * time.Second, End: 30 * time.Second},        // 9–20 s
		{Name: "short", Start: 3 * time.Second, End: 8 * time.Second},        // 8–8 s: none
		{Name: "in", Start: 10 * time.Second, End: 17500 * time.Millisecond}, // 15–17.5 s
	}, fl, nil)
	// open: seconds 7..19 served 7+…+19 = 169 over 13 s; errors at 2 s and
	// 19.999 s, the overflow at 2 s (1.999 s is before, 20 s after).
	// late: 9+…+19 = 154 over 11 s; errors at 19.999 s only.
	// in: seconds 15 and 16 (the window ends within 17): 31 over 2.5 s.
	assert.Equal(t, []FleetFault{
		{Fault: "open", FromS: 7, ToS: 20, Clusters: []ClusterLoad{{Cluster: "c1", RPS: 13}}, UserVisibleErrors: 2, OverflowErrors: 1},
		{Fault: "late", FromS: 9, ToS: 20, Clusters: []ClusterLoad{{Cluster: "c1", RPS: 14}}, UserVisibleErrors: 1},
		{Fault: "in", FromS: 15, ToS: 17.5, Clusters: []ClusterLoad{{Cluster: "c1", RPS: 12.4}}},
	}, rep.Faults)

	// Seconds the record lacks count as none served: 7+…+14 = 84 over 13 s.
	fl.Served = served[:15]
	rep = Fleet([]Fault{{Name: "open", Start: 2 * time.Second}}, fl, nil)
	assert.Equal(t, 84.0/13, rep.Faults[0].Clusters[0].RPS)
}

// A return's ramp is cut by the target's next ejection strictly after it
// (an ejection logged at the same instant is the one it ends); a step at
// the instant of the cut is not taken.
func TestCountedFailbackCuts(t *testing.T) {
	start := time.Unix(1000, 0)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	back := LogLine{Time: at(10000), Message: "detour: svc: probe of c1 answered 200: back in service, hold-down 1000ms then ramp [50 100]"}
	eject := func(ms int, target string) LogLine {
		return LogLine{Time: at(ms), Message: "detour: svc: ejected " + target + " for 30s"}
	}
	steps := map[string]time.Duration{"svc": 500 * time.Millisecond}
	// Steps at 11 s and 11.5 s; the ejection at 11.5 s takes the second's place.
	assert.Equal(t, []FailbackReport{{Service: "svc", Target: "c1", StartS: 10, HoldDownEndS: 11, Steps: []RampStep{{AtS: 11, Percent: 50}}, EndS: 11.5}},
		Failbacks([]LogLine{eject(10000, "c1"), back, eject(10000, "c1"), eject(11500, "c1")}, start, steps, time.Minute))
	// The run's end cuts the same way.
	assert.Equal(t, []FailbackReport{{Service: "svc", Target: "c1", StartS: 10, HoldDownEndS: 11, Steps: []RampStep{{AtS: 11, Percent: 50}}, EndS: 11.5}},
		Failbacks([]LogLine{back}, start, steps, 11500*time.Millisecond))
	// Another service's ejection of the same target does not cut it.
	other := LogLine{Time: at(11200), Message: "detour: other: ejected c1 for 30s"}
	assert.Equal(t, []FailbackReport{{Service: "svc", Target: "c1", StartS: 10, HoldDownEndS: 11,
		Steps: []RampStep{{AtS: 11, Percent: 50}, {AtS: 11.5, Percent: 100}}, EndS: 11.5}},
		Failbacks([]LogLine{back, other}, start, steps, time.Minute))
	// A return logged at two instants is two returns.
	later := back
	later.Time = at(10001)
	assert.Len(t, Failbacks([]LogLine{back, later}, start, steps, time.Minute), 2)
}

// One transition per instant and move: the same instant with another
// move (from or to) is another transition.
func TestCountedTransitionsPerMove(t *testing.T) {
	start := time.Unix(1000, 0)
	line := func(msg string) LogLine { return LogLine{Time: start.Add(time.Second), Message: msg} }
	got := Transitions([]LogLine{
		line("detour: svc: PRIMARY -> DEGRADED (a)"),
		line("detour: svc: PRIMARY -> DEGRADED (a)"),
		line("detour: svc: DEGRADED -> FAILED_OVER (b)"),
		line("detour: svc: PRIMARY -> FAILED_OVER (c)"),
	}, start, "p")
	assert.Equal(t, []Transition{
		{AtS: 1, Proxy: "p", Service: "svc", From: "PRIMARY", To: "DEGRADED", Trigger: "a"},
		{AtS: 1, Proxy: "p", Service: "svc", From: "DEGRADED", To: "FAILED_OVER", Trigger: "b"},
		{AtS: 1, Proxy: "p", Service: "svc", From: "PRIMARY", To: "FAILED_OVER", Trigger: "c"},
	}, got)
	// Only the filters' own lines are events.
	assert.Empty(t, FilterEvents([]LogLine{line("other: svc: ejected c1 for 30s"), line("detour: svc: probe of c1 failed")}, start, "p"))
}

// Cross-region needs both regions known: an answer from a cluster of no
// known region, or an entry proxy of no known region, is not counted as
// cross-region; a request the proxy answered is left out.
func TestCountedCrossRegionNeedsRegions(t *testing.T) {
	in := counted(time.Second, req(0, "GET", 200, "c2"), req(100, "GET", 200, "c3"), req(200, "GET", 200, "c1"), req(300, "GET", 503))
	assert.Equal(t, 0.3333, Build(nil, Expect{}, in).CrossRegionShare, "c2 of c2, c3, c1")
	in.EntryRegion = ""
	assert.Zero(t, Build(nil, Expect{}, in).CrossRegionShare)
	assert.Zero(t, Build(nil, Expect{}, counted(time.Second, req(300, "GET", 503))).CrossRegionShare, "no answered request")
}
