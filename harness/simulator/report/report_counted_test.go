package report

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/sim/scenario"
)

// The report's fields on runs small enough to count by hand: each test
// states the definition (README.md, "Report" and "Measured times") and
// computes the expected value from it, at the boundaries where an
// off-by-one or a changed threshold would show.

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// req is a request started at start ms, answered after 5 ms by the
// clusters of its attempts (the last one answers; none: the proxy did).
func req(start int, method string, status int, clusters ...string) RequestRecord {
	r := RequestRecord{ID: uint64(start + 1), Start: ms(start), End: ms(start + 5), Method: method, Status: status}
	for _, c := range clusters {
		r.Attempts = append(r.Attempts, AttemptRecord{Cluster: c, Outcome: "response", Status: status})
	}
	return r
}

func counted(d time.Duration, rs ...RequestRecord) Input {
	return Input{Name: "istio", Duration: d, EntryRegion: "r1", Regions: map[string]string{"c1": "r1", "c2": "r2"},
		Clusters: []string{"c1", "c2"}, Requests: rs}
}

// A user-visible error is a status below 200 or from 400 on, or a reset
// (status 0); idempotent errors are those of GET, HEAD, OPTIONS, PUT,
// DELETE and TRACE; response flags are counted one by one, "-" is none.
func TestCountedErrors(t *testing.T) {
	rs := []RequestRecord{
		req(0, "GET", 200, "c1"),    // ok
		req(100, "GET", 199, "c1"),  // error, idempotent
		req(200, "GET", 0, "c1"),    // reset: error, idempotent
		req(300, "POST", 204, "c1"), // ok
		req(400, "GET", 399, "c1"),  // ok: below 400
		req(500, "PUT", 400, "c1"),  // error, idempotent
		req(600, "POST", 404, "c1"), // error
		req(700, "DELETE", 503),     // error, idempotent, answered by the proxy
		req(800, "PATCH", 500, "c1"),
		req(900, "TRACE", 200, "c1"),
	}
	rs[2].Flags, rs[7].Flags, rs[8].Flags, rs[9].Flags = "UC", "UF,URX", "-", "-"
	run := Build(nil, Expect{}, counted(time.Second, rs...))
	assert.Equal(t, 10, run.Requests)
	assert.Equal(t, 6, run.UserVisibleErrors, "199, 0, 400, 404, 503, 500")
	assert.Equal(t, 4, run.IdempotentErrors, "GET 199, GET 0, PUT 400, DELETE 503")
	assert.Equal(t, 0.6, run.ErrorRate)
	assert.Equal(t, map[string]int{"UC": 1, "UF": 1, "URX": 1}, run.ResponseFlags)
	assert.Equal(t, 6, run.Seconds[0].Errors)
	n := 0
	for _, e := range run.Errors {
		n += e.Count
	}
	assert.Equal(t, 6, n, "errors[] covers every user-visible error")
	assert.Len(t, run.Errors, 6, "one cause each (status and flags differ)")
}

// Attempts are every upstream attempt; retries the attempts after each
// request's first; amplification attempts per request over the run, and
// per second (by request start) in the worst second. A request the proxy
// answered made no attempt.
func TestCountedRetriesAndAmplification(t *testing.T) {
	run := Build(nil, Expect{}, counted(2*time.Second,
		req(0, "GET", 200, "c1"),
		req(100, "GET", 200, "c1", "c2"),
		req(999, "GET", 200, "c1", "c1", "c2"), // second 0: started at 0.999 s
		req(500, "GET", 503),
		req(1000, "GET", 200, "c1"),
		req(1500, "GET", 200, "c2"),
	))
	assert.Equal(t, 8, run.Attempts, "1+2+3+0+1+1")
	assert.Equal(t, 3, run.Retries, "8 attempts, 5 first attempts")
	assert.Equal(t, 1.3333, run.RetryAmplification, "8/6")
	assert.Equal(t, 1.75, run.PeakRetryAmplification, "second 0: (4 requests + 3 retries)/4")
	assert.Equal(t, Second{T: 0, Requests: 4, Errors: 1, Retries: 3, Share: []float64{0.25, 0.5, 0.25}, P50Ms: 5, P99Ms: 5}, run.Seconds[0], "c1 answered 1 of 4, c2 2, the proxy 1 (its 503); every request took 5 ms")
	assert.Equal(t, Second{T: 1, Requests: 2, Share: []float64{0.5, 0.5, 0}, P50Ms: 5, P99Ms: 5}, run.Seconds[1])
}

// Latency percentiles by nearest rank: the ceil(p/100 × n)-th smallest.
func TestCountedLatency(t *testing.T) {
	var rs []RequestRecord
	for i, d := range []int{7, 3, 10, 1, 9, 2, 8, 4, 6, 5} { // 1..10 ms
		r := req(i*100, "GET", 200, "c1")
		r.End = r.Start + ms(d)
		rs = append(rs, r)
	}
	run := Build(nil, Expect{}, counted(time.Second, rs...))
	assert.Equal(t, Latency{P50: 5, P90: 9, P99: 10}, run.LatencyMs, "ranks 5, 9, 10 of 10")
}

// Time to detect: the first eject, unhealthy or eds event (or filter
// transition) while the fault is active, [start, end); 100 ms slices do
// not round it.
func TestCountedDetectionWindow(t *testing.T) {
	f := []Fault{{Name: "f", Kind: scenario.ClusterOutage, Start: 2 * time.Second, End: 4 * time.Second, Target: Target{Cluster: "c1"}}}
	detect := func(evs []Event, tr []Transition) *float64 {
		in := counted(6*time.Second, req(0, "GET", 200, "c1"))
		in.Events, in.Transitions = evs, tr
		return Build(f, Expect{}, in).Faults[0].DetectS
	}
	assert.Nil(t, detect([]Event{{At: ms(1999), Kind: "eject"}, {At: 4 * time.Second, Kind: "eds"}, {At: ms(2500), Kind: "uneject"}}, nil),
		"before the start, at the end, or not a health loss")
	assert.Equal(t, 0.0, *detect([]Event{{At: 2 * time.Second, Kind: "eject"}}, nil), "at the start")
	assert.Equal(t, 1.999, *detect([]Event{{At: ms(3999), Kind: "unhealthy"}}, nil), "just before the end")
	assert.Equal(t, 0.3, *detect([]Event{{At: ms(2500), Kind: "eject"}}, []Transition{{AtS: 2.3, From: "PRIMARY", To: "DEGRADED"}}), "the earlier of the two")
}

// steady is 10 requests a second for d, each answered by answer(ms).
func steady(d time.Duration, answer func(at int) RequestRecord) Input {
	in := counted(d)
	for at := 0; at < int(d/time.Millisecond); at += 100 {
		in.Requests = append(in.Requests, answer(at))
	}
	return in
}

// Time to fail over: the start of the first 100 ms slice from which, for
// 5 s or until the fault ends, no request errs and no answer came through
// the fault. Fault [2 s, 5 s): errors from 2.0 to 2.9 s, answers through
// the fault but without error from 3.0 to 3.4 s, then clean: 1.5 s, though
// only 1.5 s of the fault are left after it.
func TestCountedFailOver(t *testing.T) {
	f := []Fault{{Name: "f", Kind: scenario.ErrorRate, Start: 2 * time.Second, End: 5 * time.Second, Target: Target{Cluster: "c1"}}}
	in := steady(10*time.Second, func(at int) RequestRecord {
		switch {
		case at >= 2000 && at < 3000:
			r := req(at, "GET", 503, "c1")
			r.Attempts[0].Faults = []string{"f"}
			return r
		case at >= 3000 && at < 3500:
			r := req(at, "GET", 200, "c1")
			r.Attempts[0].Faults = []string{"f"}
			return r
		}
		return req(at, "GET", 200, "c1")
	})
	res := Build(f, Expect{}, in).Faults[0]
	assert.Equal(t, 1.5, *res.FailOverS)
	assert.Equal(t, 10, res.Errors, "errors of requests started during the fault")

	// One error at 4.9 s, the fault's last slice: never failed over.
	in.Requests[49] = req(4900, "GET", 503, "c2")
	res = Build(f, Expect{}, in).Faults[0]
	assert.Nil(t, res.FailOverS)
	assert.Equal(t, 11, res.Errors, "the last slice's error counts")

	// Clean from the fault's last slice on: failed over there, 2.9 s.
	for i := 30; i < 49; i++ {
		in.Requests[i] = req(i*100, "GET", 503, "c1")
	}
	in.Requests[49] = req(4900, "GET", 200, "c2")
	assert.Equal(t, 2.9, *Build(f, Expect{}, in).Faults[0].FailOverS)
}

// Time to fail back and the cross-region share. Fault on c1 [5 s, 10 s)
// in a 30 s run. Before it, c1 (the entry's region) answers 9 requests in
// 10, c2 (remote) the 10th; during the fault and until 12 s c2 answers
// all; from 12 s as before. Failback: c1's share back to 90 % of its 0.9
// before (0.81) over every 1 s window for 5 s, from 12.0 s: 2 s. Cross-
// region share counts every request outside the fault's span, failback
// included: 0–5 s 5 of 50, 10–12 s 20 of 20, 12–30 s 18 of 180 are
// remote, 43/250 = 0.172.
func TestCountedFailBackAndCrossRegion(t *testing.T) {
	f := []Fault{{Name: "f", Kind: scenario.ClusterOutage, Start: 5 * time.Second, End: 10 * time.Second, Target: Target{Cluster: "c1"}}}
	mk := func(c1From, every int) Input {
		return steady(30*time.Second, func(at int) RequestRecord {
			if at >= 5000 && at < c1From || at/100%10 >= every {
				return req(at, "GET", 200, "c2")
			}
			return req(at, "GET", 200, "c1")
		})
	}
	run := Build(f, Expect{}, mk(12000, 9))
	assert.Equal(t, 2.0, *run.Faults[0].FailBackS)
	assert.Equal(t, 0.172, run.CrossRegionShare)

	// From 12.1 s: a slice later.
	assert.Equal(t, 2.1, *Build(f, Expect{}, mk(12100, 9)).Faults[0].FailBackS)
	// c1 back at 8 in 10 after 9 in 10 before: 0.8 < 0.81, never.
	in := mk(12000, 9)
	for i := range in.Requests {
		if r := &in.Requests[i]; r.Start >= 12*time.Second && r.Start/ms(100)%10 == 8 {
			r.Attempts[0].Cluster = "c2"
		}
	}
	run = Build(f, Expect{}, in)
	require.Nil(t, run.Faults[0].FailBackS)
	// Never failed back: 0–5 s 5 of 50, 10–12 s 20 of 20, 12–30 s 36 of 180
	// (the 9th and 10th of every ten), 61/250.
	assert.Equal(t, 0.244, run.CrossRegionShare)
}

// Failback holds for 5 s: the windows checked start in the first 4 s and
// the last ends 5 s after the start. Fault on c1 [5 s, 10 s) in a 20 s
// run, c1 answering everything else but one request at 14.9 s: 9 of 10
// in [14 s, 15 s) is 0.9 of before, enough: back at 10 s (0 s). Two answers from
// c2 in the slice at 14.9 s drop the 1 s window [14 s, 15 s) to 9 of 11
// (0.82 < 0.9): every start from 10.0 to 14.9 s has that window (or that
// slice) in its 5 s, so failback is at 15 s (5 s). At 15.0 s the dip is
// out of every window.
func TestCountedFailBackHoldsFiveSeconds(t *testing.T) {
	f := []Fault{{Name: "f", Kind: scenario.ClusterOutage, Start: 5 * time.Second, End: 10 * time.Second, Target: Target{Cluster: "c1"}}}
	in := steady(20*time.Second, func(at int) RequestRecord {
		if at >= 5000 && at < 10000 || at == 14900 {
			return req(at, "GET", 200, "c2")
		}
		return req(at, "GET", 200, "c1")
	})
	assert.Equal(t, 0.0, *Build(f, Expect{}, in).Faults[0].FailBackS, "one answer from c2 at 14.9 s: 9 of 10 in [14 s, 15 s) is still 0.9")
	in.Requests = append(in.Requests, req(14950, "GET", 200, "c2"))
	assert.Equal(t, 5.0, *Build(f, Expect{}, in).Faults[0].FailBackS)
	// A dip 5 s after the end is past every window of a start at the end.
	in.Requests = in.Requests[:len(in.Requests)-1]
	in.Requests[149] = req(14900, "GET", 200, "c1")
	in.Requests[150] = req(15000, "GET", 200, "c2")
	in.Requests = append(in.Requests, req(15050, "GET", 200, "c2"))
	assert.Equal(t, 0.0, *Build(f, Expect{}, in).Faults[0].FailBackS, "two answers from c2 at 15.0 s")
	// A fault that never ends never fails back, whatever follows.
	f[0].End = 0
	assert.Nil(t, Build(f, Expect{}, in).Faults[0].FailBackS)
}

// A filter transition detects under the same window as an event,
// [start, end); on a tie the event (read first) names the detection. A
// fault without an end is active until the run's end.
func TestCountedDetectionByTransition(t *testing.T) {
	f := []Fault{{Name: "f", Kind: scenario.ClusterOutage, Start: 2 * time.Second, End: 4 * time.Second, Target: Target{Cluster: "c1"}}}
	detect := func(f []Fault, evs []Event, tr ...Transition) FaultResult {
		in := counted(6*time.Second, req(0, "GET", 200, "c1"))
		in.Events, in.Transitions = evs, tr
		return Build(f, Expect{}, in).Faults[0]
	}
	down := func(at float64) Transition { return Transition{AtS: at, From: "PRIMARY", To: "DEGRADED"} }
	res := detect(f, nil, down(2))
	require.NotNil(t, res.DetectS, "at the start")
	assert.Equal(t, 0.0, *res.DetectS)
	assert.Equal(t, "filter PRIMARY -> DEGRADED", res.DetectedBy)
	assert.Nil(t, detect(f, nil, down(4)).DetectS, "at the end")
	assert.Nil(t, detect(f, nil, down(1.999)).DetectS, "before the start")
	assert.Equal(t, 1.999, *detect(f, nil, down(3.999)).DetectS, "just before the end")
	res = detect(f, []Event{{At: ms(2500), Kind: "eject", Host: "h"}}, down(2.5))
	assert.Equal(t, 0.5, *res.DetectS)
	assert.Equal(t, "eject h", res.DetectedBy, "a tie: the event")
	res = detect(f, []Event{{At: ms(2500), Kind: "eject", Host: "h"}}, down(2.4), down(2.3))
	assert.Equal(t, 0.4, *res.DetectS, "the first earlier transition, as logged")

	open := []Fault{{Name: "f", Kind: scenario.ClusterOutage, Start: 2 * time.Second, Target: Target{Cluster: "c1"}}}
	assert.Equal(t, 3.0, *detect(open, []Event{{At: 5 * time.Second, Kind: "eds"}}).DetectS, "no end: until the run's end")
	assert.Equal(t, 3.5, *detect(open, nil, down(5.5)).DetectS)
}

// errors[] is ordered by count (most first), then cause, status and
// flags; a cause is the last attempt's, else Envoy's details, else the
// flags, else the status.
func TestCountedErrorOrder(t *testing.T) {
	e := func(start, status int, flags, details, cause string) RequestRecord {
		r := req(start, "GET", status)
		r.Flags, r.Details = flags, details
		if cause != "" {
			r.Attempts = []AttemptRecord{{Cluster: "c1", Status: status, Cause: cause}}
		}
		return r
	}
	run := Build(nil, Expect{}, counted(time.Second,
		e(0, 503, "UF", "", "b refused"),
		e(10, 503, "UF", "", "b refused"),
		e(20, 503, "UF", "", "a refused"),
		e(30, 502, "UF", "", "a refused"),
		e(40, 503, "UH", "no_healthy_upstream", ""),
		e(50, 503, "UC", "no_healthy_upstream", ""),
		e(60, 504, "UT", "", ""),
		e(70, 500, "", "", ""),
	))
	assert.Equal(t, []ErrorKind{
		{Cause: "b refused", Status: 503, Flags: "UF", Count: 2},
		{Cause: "a refused", Status: 502, Flags: "UF", Count: 1},
		{Cause: "a refused", Status: 503, Flags: "UF", Count: 1},
		{Cause: "no_healthy_upstream", Status: 503, Flags: "UC", Count: 1},
		{Cause: "no_healthy_upstream", Status: 503, Flags: "UH", Count: 1},
		{Cause: "response flags UT", Status: 504, Flags: "UT", Count: 1},
		{Cause: "status 500", Status: 500, Count: 1},
	}, run.Errors)
}

// A run without requests has no rates (0, not a division by zero); a
// request recorded at the run's end counts in its last second.
func TestCountedEmptyAndLastSecond(t *testing.T) {
	run := Build(nil, Expect{}, counted(2*time.Second))
	assert.Zero(t, run.Requests)
	assert.Zero(t, run.RetryAmplification)
	assert.Zero(t, run.ErrorRate)
	assert.Zero(t, run.PeakRetryAmplification)
	assert.Equal(t, []Second{{T: 0, Share: []float64{0, 0, 0}}, {T: 1, Share: []float64{0, 0, 0}}}, run.Seconds)
	assert.Equal(t, Latency{}, run.LatencyMs)
	assert.Equal(t, map[string]float64{}, run.RegionShare)
	in := counted(2 * time.Second)
	exp := CheckAll(Expect{MaxShareOutside: &scenario.ShareOutside{Regions: []string{"r1"}}}, &run, &in)
	require.Len(t, exp, 1)
	assert.Equal(t, 0.0, *exp[0].Measured, "no request went outside")
	assert.True(t, exp[0].OK)

	run = Build(nil, Expect{}, counted(1500*time.Millisecond, req(1000, "GET", 200, "c1"), req(2000, "GET", 200, "c2")))
	require.Len(t, run.Seconds, 2, "1.5 s: two seconds")
	assert.Equal(t, Second{T: 1, Requests: 2, Share: []float64{0.5, 0.5, 0}, P50Ms: 5, P99Ms: 5}, run.Seconds[1])
}

// The first slice of a failback compares its own share with 0.9 × the
// share before the fault, as the windows do. Before the fault c1 answers
// every request; from its end c1 again, and the slice at 10 s has nine
// more requests, eight on c1: 9 of 10, exactly 0.9 × 1, enough. With 9
// of 10 before (0.9, so 0.81 needed), that slice's 0.9 is enough too.
func TestCountedFailBackFirstSlice(t *testing.T) {
	f := []Fault{{Name: "f", Kind: scenario.ClusterOutage, Start: 5 * time.Second, End: 10 * time.Second, Target: Target{Cluster: "c1"}}}
	mk := func(every int) Input {
		in := steady(20*time.Second, func(at int) RequestRecord {
			if at >= 5000 && at < 10000 || at < 5000 && at/100%10 >= every {
				return req(at, "GET", 200, "c2")
			}
			return req(at, "GET", 200, "c1")
		})
		for i := 1; i <= 9; i++ {
			c := "c1"
			if i == 9 {
				c = "c2"
			}
			in.Requests = append(in.Requests, req(10000+i*10, "GET", 200, c))
		}
		return in
	}
	assert.Equal(t, 0.0, *Build(f, Expect{}, mk(10)).Faults[0].FailBackS, "0.9 of 1")
	assert.Equal(t, 0.0, *Build(f, Expect{}, mk(9)).Faults[0].FailBackS, "0.9 of 0.9")
}

// Build keeps the run's warnings and transitions, and gives empty lists,
// not null, when there are none.
func TestBuildKeepsWarnings(t *testing.T) {
	in := counted(time.Second)
	run := Build(nil, Expect{}, in)
	assert.Equal(t, []string{}, run.Warnings)
	assert.Equal(t, []Transition{}, run.Transitions)
	in.Warnings, in.Transitions = []string{"w"}, []Transition{{AtS: 0.5, To: "DEGRADED"}}
	run = Build(nil, Expect{}, in)
	assert.Equal(t, []string{"w"}, run.Warnings)
	assert.Equal(t, []Transition{{AtS: 0.5, To: "DEGRADED"}}, run.Transitions)
}

// The failback cost's reference is the mean latency of the requests
// started in the 10 s before the fault, [start-10 s, start); its window
// runs from the fault's end to the failback, [end, end+failBackS). Fault
// on c1 [12 s, 20 s): the reference is the requests at 2.0 s (10 ms) and
// 11.9 s (20 ms), 15 ms (not the 1.9 s one of 1 s, nor the 12.0 s one of
// 500 ms); c2 answers [20 s, 21 s) in 40 ms, c1 from 21 s: back after
// 1 s, ten requests cross-region, 10 × 25 ms = 0.25 request-s added.
func TestCountedFailBackCostWindows(t *testing.T) {
	f := []Fault{{Name: "f", Kind: scenario.ClusterOutage, Start: 12 * time.Second, End: 20 * time.Second, Target: Target{Cluster: "c1"}}}
	lat := func(r RequestRecord, d int) RequestRecord { r.End = r.Start + ms(d); return r }
	in := counted(30*time.Second,
		lat(req(1900, "GET", 200, "c1"), 1000),
		lat(req(2000, "GET", 200, "c1"), 10),
		lat(req(11900, "GET", 200, "c1"), 20),
		lat(req(12000, "GET", 200, "c2"), 500))
	for at := 20000; at < 30000; at += 100 {
		if at < 21000 {
			in.Requests = append(in.Requests, lat(req(at, "GET", 200, "c2"), 40))
		} else {
			in.Requests = append(in.Requests, req(at, "GET", 200, "c1"))
		}
	}
	res := Build(f, Expect{}, in).Faults[0]
	require.NotNil(t, res.FailBackS)
	assert.Equal(t, 1.0, *res.FailBackS)
	assert.Equal(t, &FailBackCost{WindowS: 1, Recovered: true, Requests: 10, CrossRegionRequests: 10, AddedLatencyRequestS: 0.25}, res.FailBackCost)
	// A fault that ends with the run has no way back to cost.
	f[0].End = 30 * time.Second
	assert.Nil(t, Build(f, Expect{}, in).Faults[0].FailBackCost)
}

// Fail over needs 5 s clean (fifty 100 ms slices) within the fault, not
// until its end. Fault [2 s, 20 s) in a 30 s run, errors through it from
// 2.0 to 2.9 s: one more error at 8.0 s, the 51st slice from 3.0 s, does
// not matter (1 s); at 7.9 s, the 50th, it does, and the next clean start
// is 8.0 s (6 s).
func TestCountedFailOverFiveSeconds(t *testing.T) {
	f := []Fault{{Name: "f", Kind: scenario.ErrorRate, Start: 2 * time.Second, End: 20 * time.Second, Target: Target{Cluster: "c1"}}}
	failOver := func(errAt int) float64 {
		in := steady(30*time.Second, func(at int) RequestRecord {
			if at >= 2000 && at < 3000 || at == errAt {
				r := req(at, "GET", 503, "c1")
				r.Attempts[0].Faults = []string{"f"}
				return r
			}
			return req(at, "GET", 200, "c2")
		})
		res := Build(f, Expect{}, in).Faults[0]
		require.NotNil(t, res.FailOverS)
		return *res.FailOverS
	}
	assert.Equal(t, 1.0, failOver(8000))
	assert.Equal(t, 6.0, failOver(7900))
}

// The run is cut in 100 ms slices up to and including its end, so the
// last 5 s count for failback: two answers from c2 in the slice at 19.9 s
// of a 20 s run keep a fault that ended at 15 s from failing back within
// the run.
func TestCountedFailBackToTheRunsEnd(t *testing.T) {
	f := []Fault{{Name: "f", Kind: scenario.ClusterOutage, Start: 5 * time.Second, End: 15 * time.Second, Target: Target{Cluster: "c1"}}}
	in := steady(20*time.Second, func(at int) RequestRecord {
		if at >= 5000 && at < 15000 || at == 19900 {
			return req(at, "GET", 200, "c2")
		}
		return req(at, "GET", 200, "c1")
	})
	assert.Equal(t, 0.0, *Build(f, Expect{}, in).Faults[0].FailBackS, "9 of 10 in the last second is enough")
	in.Requests = append(in.Requests, req(19950, "GET", 200, "c2"))
	assert.Nil(t, Build(f, Expect{}, in).Faults[0].FailBackS)

	// Near the run's end, failback needs only the whole 1 s windows left
	// (the last ends at 20.0 s, the slice of the run's end included): a
	// fault ending at 19.1 s fails back at once, one ending at 19.2 s has
	// no whole second after it.
	in = steady(20*time.Second, func(at int) RequestRecord {
		if at >= 5000 && at < 19100 {
			return req(at, "GET", 200, "c2")
		}
		return req(at, "GET", 200, "c1")
	})
	f[0].End = 19100 * time.Millisecond
	assert.Equal(t, 0.0, *Build(f, Expect{}, in).Faults[0].FailBackS)
	f[0].End = 19200 * time.Millisecond
	assert.Nil(t, Build(f, Expect{}, in).Faults[0].FailBackS)
}

// The failback cost's reference latency is of the requests started in
// the 10 s before the fault; the share before it is read in 100 ms
// slices. A fault starting at 15.05 s with one request before it, at
// 5.02 s: in the slices [5.0 s, 15.0 s), not in [5.05 s, 15.05 s): a
// share but no reference, so the added latency is the window's own.
func TestCountedFailBackCostWithoutReference(t *testing.T) {
	f := []Fault{{Name: "f", Kind: scenario.ClusterOutage, Start: 15050 * time.Millisecond, End: 20 * time.Second, Target: Target{Cluster: "c1"}}}
	in := counted(30*time.Second, req(5020, "GET", 200, "c1"), req(25000, "GET", 200, "c2"))
	assert.Equal(t, &FailBackCost{WindowS: 10, Requests: 1, CrossRegionRequests: 1, AddedLatencyRequestS: 0.005},
		Build(f, Expect{}, in).Faults[0].FailBackCost)
}
