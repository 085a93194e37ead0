package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/sim/scenario"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
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
	run := buildRun(nil, Expect{}, in)
	// r1: requests 0, 100, 200, 600, 700 = 5 of 8; r2: 200, 400 = 2 of 8.
	assert.Equal(t, map[string]float64{"r1": 0.625, "r2": 0.25}, run.RegionShare)

	limit := func(max float64) Expectation {
		t.Helper()
		exp := checkAll(Expect{MaxShareOutside: &scenario.ShareOutside{Regions: []string{"r1"}, Max: max}}, &run, &in)
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
	back := func(ms, worker int) pw.LogEntry {
		return pw.LogEntry{Time: at(ms), Worker: worker,
			Message: "detour: svc: probe of c1 answered 200: back in service, hold-down 2000ms then ramp [25 50 100]"}
	}
	logs := []pw.LogEntry{
		back(10000, 0), back(10000, 1),
		{Time: at(11000), Message: "detour: svc: ejected c2 for 30s"}, // another target: no cut
		back(30000, 0),
		{Time: at(33500), Message: "detour: svc: ejected c1 for 30s"},
	}
	fbs := failbacks(logs, start, map[string]time.Duration{"svc": time.Second}, 60*time.Second)
	require.Len(t, fbs, 2, "the second worker's copy of the first return is not another")
	// 10 s + 2 s hold-down; steps at 12, 13, 14 s; it ends with the last.
	assert.Equal(t, FailbackReport{Service: "svc", Target: "c1", StartS: 10, HoldDownEndS: 12,
		Steps: []RampStep{{AtS: 12, Percent: 25}, {AtS: 13, Percent: 50}, {AtS: 14, Percent: 100}}, EndS: 14}, fbs[0])
	// 30 s + 2 s; steps at 32, 33 s; the ejection at 33.5 s cuts the third.
	assert.Equal(t, FailbackReport{Service: "svc", Target: "c1", StartS: 30, HoldDownEndS: 32,
		Steps: []RampStep{{AtS: 32, Percent: 25}, {AtS: 33, Percent: 50}}, EndS: 33.5}, fbs[1])

	// An ejection during the hold-down ends it there, with no step.
	logs = []pw.LogEntry{back(10000, 0), {Time: at(11000), Message: "detour: svc: ejected c1 for 30s"}}
	assert.Equal(t, []FailbackReport{{Service: "svc", Target: "c1", StartS: 10, HoldDownEndS: 11, EndS: 11}},
		failbacks(logs, start, map[string]time.Duration{"svc": time.Second}, 60*time.Second))
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
	}
	served := make([][]int, 12)
	for s := range served {
		served[s] = []int{10, 0}
	}
	for s := 7; s < 10; s++ { // the fault's settled window is 7–10 s
		served[s] = []int{4, 20}
	}
	fl := &fleet{clusters: []string{"c1", "c2"}, capacity: map[string]float64{"c1": 5, "c2": 30}, dur: 12 * time.Second, served: served,
		sources: []*fleetSource{
			{SourceReport: SourceReport{Cluster: "c1", Rate: 10}, entry: true},
			{SourceReport: SourceReport{Cluster: "c2", Rate: 20, Requests: 40, UserVisibleErrors: 1},
				errorAt: []time.Duration{ms(8000)}, answered: [][]int{{3, 1, 0}, {0, 3, 1}}, errors: []int{0, 1}},
		}}
	faults := []Fault{{Name: "f", Start: 2 * time.Second, End: 10 * time.Second}}
	rep := fl.report(faults, entry)

	require.Len(t, rep.Sources, 2)
	assert.Equal(t, SourceReport{Cluster: "c1", Rate: 10, Requests: 4, UserVisibleErrors: 3, OverflowErrors: 2}, rep.Sources[0],
		"the entry's seconds are the run's")
	assert.Equal(t, []SourceSecond{{T: 0, Requests: 4, Share: []float64{0.75, 0.25, 0}}, {T: 1, Requests: 4, Errors: 1, Share: []float64{0, 0.75, 0.25}}},
		rep.Sources[1].Seconds)
	assert.Equal(t, SourceReport{Cluster: "total", Rate: 30, Requests: 44, UserVisibleErrors: 4, OverflowErrors: 2}, rep.Total)
	// 7–10 s: c1 served 3 × 4 = 12 over 3 s, c2 60 over 3 s. Errors from
	// 2 s to 10 s: the entry's 6 s and 7 s ones and the source's 8 s one;
	// the 6 s overflow only (12 s is after the fault).
	assert.Equal(t, []FleetFault{{Fault: "f", FromS: 7, ToS: 10, Clusters: []ClusterLoad{
		{Cluster: "c1", RPS: 4, Capacity: 5}, {Cluster: "c2", RPS: 20, Capacity: 30}},
		UserVisibleErrors: 3, OverflowErrors: 1}}, rep.Faults)

	// A fault shorter than the settling time has no load to report.
	assert.Empty(t, fl.report([]Fault{{Name: "g", Start: 2 * time.Second, End: 6 * time.Second}}, entry).Faults)
}

// Transitions and the filters' health events come from the filters' log:
// one transition per instant (every worker logs the shared state's move),
// and an ejection or a return is a filter-eject or filter-back event.
func TestCountedTransitionsAndFilterEvents(t *testing.T) {
	start := time.Unix(1000, 0)
	line := func(ms, worker int, msg string) pw.LogEntry {
		return pw.LogEntry{Time: start.Add(time.Duration(ms) * time.Millisecond), Worker: worker, Message: msg}
	}
	logs := []pw.LogEntry{
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
	}, transitions(logs, start))
	assert.Equal(t, []Event{
		{At: 1500 * time.Millisecond, Proxy: entryName, Kind: "filter-eject", Detail: "svc: ejected c1 for 30s"},
		{At: 4 * time.Second, Proxy: entryName, Kind: "filter-back", Detail: "svc: probe of c1 answered 200: back in service, hold-down 0ms then ramp []"},
	}, filterEvents(logs, start))

	// The report carries the events in seconds and the transitions as read.
	in := counted(6*time.Second, req(0, "GET", 200, "c1"))
	in.Events, in.Transitions = filterEvents(logs, start), transitions(logs, start)
	run := buildRun(nil, Expect{}, in)
	assert.Equal(t, []EventJSON{
		{AtS: 1.5, Proxy: entryName, Kind: "filter-eject", Detail: "svc: ejected c1 for 30s"},
		{AtS: 4, Proxy: entryName, Kind: "filter-back", Detail: "svc: probe of c1 answered 200: back in service, hold-down 0ms then ramp []"},
	}, run.Events)
	assert.Len(t, run.Transitions, 3)
}
