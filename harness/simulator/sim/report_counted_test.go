package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

func counted(d time.Duration, rs ...RequestRecord) runInput {
	return runInput{Name: "istio", Duration: d, EntryRegion: "r1", Regions: map[string]string{"c1": "r1", "c2": "r2"},
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
	run := buildRun(nil, Expect{}, counted(time.Second, rs...))
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
	run := buildRun(nil, Expect{}, counted(2*time.Second,
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
	run := buildRun(nil, Expect{}, counted(time.Second, rs...))
	assert.Equal(t, Latency{P50: 5, P90: 9, P99: 10}, run.LatencyMs, "ranks 5, 9, 10 of 10")
}

// Time to detect: the first eject, unhealthy or eds event (or filter
// transition) while the fault is active, [start, end); 100 ms slices do
// not round it.
func TestCountedDetectionWindow(t *testing.T) {
	f := []Fault{{Name: "f", Kind: ClusterOutage, Start: 2 * time.Second, End: 4 * time.Second, Target: Target{Cluster: "c1"}}}
	detect := func(evs []Event, tr []Transition) *float64 {
		in := counted(6*time.Second, req(0, "GET", 200, "c1"))
		in.Events, in.Transitions = evs, tr
		return buildRun(f, Expect{}, in).Faults[0].DetectS
	}
	assert.Nil(t, detect([]Event{{At: ms(1999), Kind: "eject"}, {At: 4 * time.Second, Kind: "eds"}, {At: ms(2500), Kind: "uneject"}}, nil),
		"before the start, at the end, or not a health loss")
	assert.Equal(t, 0.0, *detect([]Event{{At: 2 * time.Second, Kind: "eject"}}, nil), "at the start")
	assert.Equal(t, 1.999, *detect([]Event{{At: ms(3999), Kind: "unhealthy"}}, nil), "just before the end")
	assert.Equal(t, 0.3, *detect([]Event{{At: ms(2500), Kind: "eject"}}, []Transition{{AtS: 2.3, From: "PRIMARY", To: "DEGRADED"}}), "the earlier of the two")
}

// steady is 10 requests a second for d, each answered by answer(ms).
func steady(d time.Duration, answer func(at int) RequestRecord) runInput {
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
	f := []Fault{{Name: "f", Kind: ErrorRate, Start: 2 * time.Second, End: 5 * time.Second, Target: Target{Cluster: "c1"}}}
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
	res := buildRun(f, Expect{}, in).Faults[0]
	assert.Equal(t, 1.5, *res.FailOverS)
	assert.Equal(t, 10, res.Errors, "errors of requests started during the fault")

	// One error at 4.9 s, the fault's last slice: never failed over.
	in.Requests[49] = req(4900, "GET", 503, "c2")
	assert.Nil(t, buildRun(f, Expect{}, in).Faults[0].FailOverS)
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
	f := []Fault{{Name: "f", Kind: ClusterOutage, Start: 5 * time.Second, End: 10 * time.Second, Target: Target{Cluster: "c1"}}}
	mk := func(c1From, every int) runInput {
		return steady(30*time.Second, func(at int) RequestRecord {
			if at >= 5000 && at < c1From || at/100%10 >= every {
				return req(at, "GET", 200, "c2")
			}
			return req(at, "GET", 200, "c1")
		})
	}
	run := buildRun(f, Expect{}, mk(12000, 9))
	assert.Equal(t, 2.0, *run.Faults[0].FailBackS)
	assert.Equal(t, 0.172, run.CrossRegionShare)

	// From 12.1 s: a slice later.
	assert.Equal(t, 2.1, *buildRun(f, Expect{}, mk(12100, 9)).Faults[0].FailBackS)
	// c1 back at 8 in 10 after 9 in 10 before: 0.8 < 0.81, never.
	in := mk(12000, 9)
	for i := range in.Requests {
		if r := &in.Requests[i]; r.Start >= 12*time.Second && r.Start/ms(100)%10 == 8 {
			r.Attempts[0].Cluster = "c2"
		}
	}
	run = buildRun(f, Expect{}, in)
	require.Nil(t, run.Faults[0].FailBackS)
	// Never failed back: 0–5 s 5 of 50, 10–12 s 20 of 20, 12–30 s 36 of 180
	// (the 9th and 10th of every ten), 61/250.
	assert.Equal(t, 0.244, run.CrossRegionShare)
}
