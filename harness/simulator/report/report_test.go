package report

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/sim/scenario"
)

// synthetic: 10 requests per second for 20 s. c1 serves until the fault
// at 5 s; requests of 5.0–5.99 s fail (two attempts each, tagged by the
// fault); from 6 s c2 serves; the fault ends at 12 s and c1 serves again
// from 13 s.
func synthetic() Input {
	in := Input{Name: "istio", Config: "test", Duration: 20 * time.Second, EntryRegion: "r1",
		Regions: map[string]string{"c1": "r1", "c2": "r2"}, Clusters: []string{"c1", "c2"},
		Events: []Event{{At: 5300 * time.Millisecond, Proxy: "p", Kind: "eject", Host: "10.0.0.1:9080"}}}
	id := uint64(0)
	for ms := 0; ms < 20000; ms += 100 {
		t := time.Duration(ms) * time.Millisecond
		id++
		r := RequestRecord{ID: id, Start: t, End: t + time.Duration(id%10+1)*time.Millisecond, Method: "GET", Status: 200}
		switch {
		case ms >= 5000 && ms < 6000:
			r.Status, r.Flags = 503, "URX"
			a := AttemptRecord{Cluster: "c1", Region: "r1", Outcome: "response", Status: 503, Cause: "c1 reviews error rate (503)", Faults: []string{"f"}}
			r.Attempts = []AttemptRecord{a, a}
		case ms >= 6000 && ms < 13000:
			r.Attempts = []AttemptRecord{{Cluster: "c2", Region: "r2", Outcome: "response", Status: 200}}
		default:
			r.Attempts = []AttemptRecord{{Cluster: "c1", Region: "r1", Outcome: "response", Status: 200}}
		}
		in.Requests = append(in.Requests, r)
	}
	return in
}

func TestBuildRun(t *testing.T) {
	faults := []Fault{{Name: "f", Kind: scenario.ErrorRate, Start: 5 * time.Second, End: 12 * time.Second, Target: Target{Cluster: "c1", Share: 1}}}
	zero, d := 0, 2*time.Second
	amp := 1.5
	p99 := 9 * time.Millisecond
	run := Build(faults, Expect{MaxUserVisibleErrors: &zero, MaxTimeToDetect: &d, MaxRetryAmplification: &amp, MaxLatencyP99: &p99}, synthetic())
	assert.Equal(t, 200, run.Requests)
	assert.Equal(t, 10, run.UserVisibleErrors)
	assert.Equal(t, 0.05, run.ErrorRate)
	assert.Equal(t, []ErrorKind{{Cause: "c1 reviews error rate (503)", Status: 503, Flags: "URX", Count: 10}}, run.Errors)
	assert.Equal(t, map[string]int{"URX": 10}, run.ResponseFlags)
	assert.Equal(t, 210, run.Attempts)
	assert.Equal(t, 10, run.Retries)
	assert.Equal(t, 1.05, run.RetryAmplification)
	assert.Equal(t, 2.0, run.PeakRetryAmplification)
	assert.Equal(t, Latency{P50: 5, P90: 9, P99: 10}, run.LatencyMs)
	// Outside the fault: 0–5 s and 12–20 s, 130 requests; the 10 of the
	// failback (12–13 s) went to c2 in the other region.
	assert.Equal(t, 0.0769, run.CrossRegionShare)
	assert.Equal(t, []string{"c1", "c2", "none"}, run.Clusters)
	// Second 5: requests 51..60, latencies 2..10 and 1 ms.
	assert.Equal(t, Second{T: 5, Requests: 10, Errors: 10, Retries: 10, Share: []float64{1, 0, 0}, P50Ms: 5, P99Ms: 10}, run.Seconds[5])
	assert.Equal(t, []float64{0, 1, 0}, run.Seconds[6].Share)
	require.Len(t, run.Faults, 1)
	f := run.Faults[0]
	assert.Equal(t, 0.3, *f.DetectS)
	assert.Equal(t, "eject 10.0.0.1:9080", f.DetectedBy)
	assert.Equal(t, 1.0, *f.FailOverS)
	assert.Equal(t, 1.0, *f.FailBackS)
	assert.Equal(t, 10, f.Errors)
	assert.Equal(t, []Expectation{
		{Name: "maxUserVisibleErrors", Limit: 0, Measured: ptr(10), Unit: "requests", OK: false},
		{Name: "maxTimeToDetect", Limit: 2, Measured: ptr(0.3), Unit: "s", OK: true},
		{Name: "maxRetryAmplification", Limit: 1.5, Measured: ptr(2), Unit: "attempts/request (peak second)", OK: false},
		{Name: "maxLatencyP99", Limit: 9, Measured: ptr(10), Unit: "ms", OK: false},
	}, run.Expectations)
	assert.False(t, run.Passed)
}

func TestBuildRunNeverFailsOver(t *testing.T) {
	in := synthetic()
	// Errors continue until the fault ends: no failover, and the detection
	// came from nothing.
	in.Events = nil
	for i := range in.Requests {
		r := &in.Requests[i]
		if r.Start >= 6*time.Second && r.Start < 12*time.Second && r.ID%2 == 0 {
			r.Status = 503
			r.Attempts = []AttemptRecord{{Cluster: "c1", Status: 503, Faults: []string{"f"}, Cause: "dead"}}
		}
	}
	faults := []Fault{{Name: "f", Kind: scenario.ErrorRate, Start: 5 * time.Second, End: 12 * time.Second, Target: Target{Cluster: "c1", Share: 1}}}
	d := time.Minute
	run := Build(faults, Expect{MaxTimeToFailOver: &d}, in)
	assert.Nil(t, run.Faults[0].DetectS)
	assert.Nil(t, run.Faults[0].FailOverS)
	assert.Equal(t, []Expectation{{Name: "maxTimeToFailOver", Limit: 60, Unit: "s", OK: false}}, run.Expectations)
}

func TestFailBackNeedsPreFaultTraffic(t *testing.T) {
	in := synthetic()
	faults := []Fault{{Name: "f", Kind: scenario.ClusterOutage, Start: 5 * time.Second, End: 12 * time.Second, Target: Target{Cluster: "c2"}}}
	run := Build(faults, Expect{}, in)
	assert.Nil(t, run.Faults[0].FailBackS, "c2 served nothing before the fault: there is nothing to fail back to")
}

func TestReportJSONAndSummary(t *testing.T) {
	faults := []Fault{{Name: "f", Kind: scenario.ErrorRate, Start: 5 * time.Second, End: 12 * time.Second, Target: Target{Cluster: "c1", Share: 1}}}
	r := &Report{Scenario: "s", Seed: 1, DurationS: 20, Entry: "cluster c1", Faults: FaultReports(faults),
		Runs: []RunReport{Build(faults, Expect{}, synthetic())}}
	a, err := r.JSON()
	require.NoError(t, err)
	b, err := r.JSON()
	require.NoError(t, err)
	assert.Equal(t, a, b)
	s := string(a)
	// Field order is the struct's.
	assert.Less(t, strings.Index(s, `"scenario"`), strings.Index(s, `"runs"`))
	assert.Less(t, strings.Index(s, `"requests"`), strings.Index(s, `"userVisibleErrors"`))
	assert.Contains(t, s, `"transitions": []`)
	sum := r.Summary()
	assert.Contains(t, sum, "user-visible errors          10 (5.00%)")
	assert.Contains(t, sum, "f detect                     0.3s")
	assert.Contains(t, sum, "    10  503 URX      c1 reviews error rate (503)")
	assert.Contains(t, sum, "      5s-12s  14%  86%   0%  errors 10, p50/p99 5/10 ms, cross-region 86%  during f\n")
	assert.Contains(t, sum, "     12s-20s  88%  12%   0%  errors 0, p50/p99 5/10 ms, cross-region 12%  after f\n")
	assert.Contains(t, sum, "cross-region outside faults  7.7%")
	assert.Contains(t, sum, "f failback cost              10 / 0.0")
	assert.Contains(t, sum, "  c1     |██████       ███████|\n")
	assert.Contains(t, sum, "  errors |     █              |\n")
	assert.LessOrEqual(t, strings.Count(sum, "\n"), 40, "one screen")
	assert.True(t, r.Passed())
}

// slowRemote is synthetic() with every answer from c2 40 ms slower (the
// cross-region round trip): requests of 6–13 s take 41..50 ms.
func slowRemote() Input {
	in := synthetic()
	for i := range in.Requests {
		r := &in.Requests[i]
		if at := final(r); at != nil && at.Cluster == "c2" {
			r.End += 40 * time.Millisecond
		}
	}
	return in
}

// Phases, per-second latency and the failback cost, counted by hand.
func TestPhasesAndFailBackCost(t *testing.T) {
	faults := []Fault{{Name: "f", Kind: scenario.ErrorRate, Start: 5 * time.Second, End: 12 * time.Second, Target: Target{Cluster: "c1", Share: 1}}}
	run := Build(faults, Expect{}, slowRemote())
	// Second 7: requests 71..80 on c2, 41..50 ms.
	assert.Equal(t, 45.0, run.Seconds[7].P50Ms)
	assert.Equal(t, 50.0, run.Seconds[7].P99Ms)
	assert.Equal(t, []Phase{
		// 50 requests, 1..10 ms five times: ranks 25, 45, 50.
		{FromS: 0, ToS: 5, Label: "before faults", Requests: 50, LatencyMs: Latency{P50: 5, P90: 9, P99: 10}},
		// 10 failed on c1 (1..10 ms), 60 on c2 (41..50 ms six times): rank
		// 35 is the 25th of c2's, 45; rank 63 the 53rd, 49; rank 70, 50.
		// 60 of the 70 answers came from c2.
		{FromS: 5, ToS: 12, Label: "during f", Requests: 70, Errors: 10, LatencyMs: Latency{P50: 45, P90: 49, P99: 50}, CrossRegionShare: 0.8571},
		// 70 on c1 (1..10 ms seven times) then 10 on c2: rank 40 is 6 ms,
		// rank 72 the second of c2's (42), rank 80 the last (50).
		{FromS: 12, ToS: 20, Label: "after f", Requests: 80, LatencyMs: Latency{P50: 6, P90: 42, P99: 50}, CrossRegionShare: 0.125},
	}, run.Phases)
	require.NotNil(t, run.Faults[0].FailBackS)
	assert.Equal(t, 1.0, *run.Faults[0].FailBackS)
	// 12–13 s: 10 requests on c2, 41..50 ms (455 ms), against a mean of
	// 5.5 ms over the 10 s before the fault: 455 - 55 = 400 ms.
	assert.Equal(t, &FailBackCost{WindowS: 1, Recovered: true, Requests: 10, CrossRegionRequests: 10, AddedLatencyRequestS: 0.4}, run.Faults[0].FailBackCost)
}

// A fault that never fails back costs until the run's end; one whose
// target had no traffic before, or that never ends, costs nothing.
func TestFailBackCostUnrecovered(t *testing.T) {
	in := slowRemote()
	for i := range in.Requests {
		r := &in.Requests[i]
		if r.Start >= 12*time.Second {
			r.Attempts = []AttemptRecord{{Cluster: "c2", Region: "r2", Outcome: "response", Status: 200}}
			r.End = r.Start + 45*time.Millisecond
		}
	}
	faults := []Fault{{Name: "f", Kind: scenario.ErrorRate, Start: 5 * time.Second, End: 12 * time.Second, Target: Target{Cluster: "c1", Share: 1}}}
	run := Build(faults, Expect{}, in)
	assert.Nil(t, run.Faults[0].FailBackS)
	// 80 requests of 45 ms against 5.5: 80 × 39.5 ms = 3.16 request-s.
	assert.Equal(t, &FailBackCost{WindowS: 8, Recovered: false, Requests: 80, CrossRegionRequests: 80, AddedLatencyRequestS: 3.16}, run.Faults[0].FailBackCost)

	faults[0].Target.Cluster = "c2"
	assert.Nil(t, Build(faults, Expect{}, in).Faults[0].FailBackCost, "c2 had no traffic before the fault")
	faults[0].Target.Cluster, faults[0].End = "c1", 0
	assert.Nil(t, Build(faults, Expect{}, in).Faults[0].FailBackCost, "the fault never ends")
}

// A flapping fault's span is one phase, up-phases included: the answers
// from c2 during its up-phases do not count as outside the fault.
func TestFlappingIsOnePhase(t *testing.T) {
	faults := []Fault{{Name: "f", Kind: scenario.ClusterOutage, Start: 5 * time.Second, End: 12 * time.Second, Target: Target{Cluster: "c1"},
		FlapPeriod: 2 * time.Second, FlapDuty: 0.5}}
	require.False(t, faults[0].Active(6500*time.Millisecond), "6.5 s is an up-phase")
	run := Build(faults, Expect{}, synthetic())
	assert.Equal(t, []string{"before faults", "f flapping", "after f"}, []string{run.Phases[0].Label, run.Phases[1].Label, run.Phases[2].Label})
	// Only 12–13 s of the 130 requests outside 5–12 s were answered by c2.
	assert.Equal(t, 0.0769, run.CrossRegionShare)
}

// Phases cut at every start and every end inside the run; a phase is
// named by every fault active at its start ("during a, during b"), else
// by the last fault (in start order) that ended before it. Faults a
// [2 s, 6 s), b [4 s, 8 s), c from 10 s to 15 s, past the 12 s run: one
// request a second, the one at 5 s failing.
func TestPhaseLabelsOverlapping(t *testing.T) {
	faults := []Fault{
		{Name: "a", Kind: scenario.ClusterOutage, Start: 2 * time.Second, End: 6 * time.Second, Target: Target{Cluster: "c1"}},
		{Name: "b", Kind: scenario.ClusterOutage, Start: 4 * time.Second, End: 8 * time.Second, Target: Target{Cluster: "c1"}},
		{Name: "c", Kind: scenario.ClusterOutage, Start: 10 * time.Second, End: 15 * time.Second, Target: Target{Cluster: "c1"}},
	}
	in := Input{Duration: 12 * time.Second, EntryRegion: "r1", Regions: map[string]string{"c1": "r1"}, Clusters: []string{"c1"}}
	for s := 0; s < 12; s++ {
		st := 200
		if s == 5 {
			st = 503
		}
		in.Requests = append(in.Requests, req(s*1000, "GET", st, "c1"))
	}
	five := Latency{P50: 5, P90: 5, P99: 5}
	p := func(from, to float64, label string, errs int) Phase {
		return Phase{FromS: from, ToS: to, Label: label, Requests: 2, Errors: errs, LatencyMs: five}
	}
	assert.Equal(t, []Phase{
		p(0, 2, "before faults", 0),
		p(2, 4, "during a", 0),
		p(4, 6, "during a, during b", 1),
		p(6, 8, "during b", 0),
		p(8, 10, "after b", 0),
		p(10, 12, "during c", 0),
	}, Build(faults, Expect{}, in).Phases)
	// c never ending changes nothing before it: it has not ended.
	faults[2].End = 0
	assert.Equal(t, []string{"before faults", "during a", "during a, during b", "during b", "after b", "during c"},
		func() (out []string) {
			for _, ph := range Build(faults, Expect{}, in).Phases {
				out = append(out, ph.Label)
			}
			return out
		}())
}

// The report's fault timeline: each fault's name, kind, target, start
// and end in seconds; a fault that never ends has no end (null).
func TestFaultReports(t *testing.T) {
	got := FaultReports([]Fault{
		{Name: "a", Kind: scenario.ServiceScaledToZero, Start: 1500 * time.Millisecond, End: 9 * time.Second, Target: Target{Cluster: "c1", Service: "reviews"}},
		{Name: "b", Kind: scenario.RegionOutage, Start: 2 * time.Second, Target: Target{Region: "r2"}},
	})
	nine := 9.0
	assert.Equal(t, []FaultReport{
		{Name: "a", Kind: scenario.ServiceScaledToZero, Target: "c1 reviews", StartS: 1.5, EndS: &nine},
		{Name: "b", Kind: scenario.RegionOutage, Target: "region r2", StartS: 2},
	}, got)
	assert.Equal(t, []FaultReport{}, FaultReports(nil))
}

// A phase whose requests got no answer from a cluster (the proxy's own,
// or none at all) has no cross-region share: 0.
func TestPhaseWithoutAnswers(t *testing.T) {
	faults := []Fault{{Name: "f", Kind: scenario.ClusterOutage, Start: time.Second, End: 2 * time.Second, Target: Target{Cluster: "c1"}}}
	in := counted(3*time.Second, req(0, "GET", 503), req(2500, "GET", 200, "c2"))
	assert.Equal(t, []Phase{
		{FromS: 0, ToS: 1, Label: "before faults", Requests: 1, Errors: 1, LatencyMs: Latency{P50: 5, P90: 5, P99: 5}},
		{FromS: 1, ToS: 2, Label: "during f"},
		{FromS: 2, ToS: 3, Label: "after f", Requests: 1, LatencyMs: Latency{P50: 5, P90: 5, P99: 5}, CrossRegionShare: 1},
	}, Build(faults, Expect{}, in).Phases)
}
