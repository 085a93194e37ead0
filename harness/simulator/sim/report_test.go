package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// synthetic: 10 requests per second for 20 s. c1 serves until the fault
// at 5 s; requests of 5.0–5.99 s fail (two attempts each, tagged by the
// fault); from 6 s c2 serves; the fault ends at 12 s and c1 serves again
// from 13 s.
func synthetic() runInput {
	in := runInput{Name: "istio", Config: "test", Duration: 20 * time.Second, EntryRegion: "r1",
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
	faults := []Fault{{Name: "f", Kind: ErrorRate, Start: 5 * time.Second, End: 12 * time.Second, Target: Target{Cluster: "c1", Share: 1}}}
	zero, d := 0, 2*time.Second
	amp := 1.5
	run := buildRun(faults, Expect{MaxUserVisibleErrors: &zero, MaxTimeToDetect: &d, MaxRetryAmplification: &amp}, synthetic())
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
	// Healthy periods: 0–5 s and 13–20 s (12–13 s is the failback, when
	// requests still went to c2 in the other region).
	assert.Equal(t, 0.0, run.CrossRegionShare)
	assert.Equal(t, []string{"c1", "c2", "none"}, run.Clusters)
	assert.Equal(t, Second{T: 5, Requests: 10, Errors: 10, Retries: 10, Share: []float64{1, 0, 0}}, run.Seconds[5])
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
	faults := []Fault{{Name: "f", Kind: ErrorRate, Start: 5 * time.Second, End: 12 * time.Second, Target: Target{Cluster: "c1", Share: 1}}}
	d := time.Minute
	run := buildRun(faults, Expect{MaxTimeToFailOver: &d}, in)
	assert.Nil(t, run.Faults[0].DetectS)
	assert.Nil(t, run.Faults[0].FailOverS)
	assert.Equal(t, []Expectation{{Name: "maxTimeToFailOver", Limit: 60, Unit: "s", OK: false}}, run.Expectations)
}

func TestFailBackNeedsPreFaultTraffic(t *testing.T) {
	in := synthetic()
	faults := []Fault{{Name: "f", Kind: ClusterOutage, Start: 5 * time.Second, End: 12 * time.Second, Target: Target{Cluster: "c2"}}}
	run := buildRun(faults, Expect{}, in)
	assert.Nil(t, run.Faults[0].FailBackS, "c2 served nothing before the fault: there is nothing to fail back to")
}

func TestReportJSONAndSummary(t *testing.T) {
	faults := []Fault{{Name: "f", Kind: ErrorRate, Start: 5 * time.Second, End: 12 * time.Second, Target: Target{Cluster: "c1", Share: 1}}}
	r := &Report{Scenario: "s", Seed: 1, DurationS: 20, Entry: "cluster c1", Faults: faultReports(faults),
		Runs: []RunReport{buildRun(faults, Expect{}, synthetic())}}
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
	assert.Contains(t, sum, "      5s-12s  14%  86%   0%  errors 10\n")
	assert.Contains(t, sum, "  c1     |██████       ███████|\n")
	assert.Contains(t, sum, "  errors |     █              |\n")
	assert.LessOrEqual(t, strings.Count(sum, "\n"), 40, "one screen")
	assert.True(t, r.Passed())
}
