package report

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func relRun(name string, errs int, p50, p99 float64) RunReport {
	return RunReport{Name: name, UserVisibleErrors: errs, LatencyMs: Latency{P50: p50, P99: p99}, Passed: true}
}

func TestCheckRelative(t *testing.T) {
	f := 1.1
	one := 1.0
	e := Expect{MaxLatencyP50VsBaseline: &f, MaxLatencyP99VsBaseline: &f, MaxErrorsVsBaseline: &one}
	base := relRun("istio", 12, 10, 50)
	// Limits: errors 1.0 × 12 = 12; p50 1.1 × 10 + 2 = 13 ms; p99 1.1 × 50 + 2 = 57 ms.
	tests := []struct {
		name           string
		run            RunReport
		errs, p50, p99 bool
		waived         bool
	}{
		{"fewer errors waive latency", relRun(RunDetour, 3, 44, 64), true, true, true, true},
		{"as many errors, slower p50", relRun(RunDetour, 12, 44, 57), true, false, true, false},
		{"at the limits", relRun(RunDetour, 12, 13, 57), true, true, true, false},
		{"one more error", relRun(RunDetour, 13, 5, 20), false, true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := checkRelative(e, &tc.run, &base)
			assert.Len(t, got, 3)
			assert.Equal(t, Expectation{Name: "maxErrorsVsBaseline", Limit: 12, Measured: ptr(float64(tc.run.UserVisibleErrors)), Unit: "requests", Against: "istio", Factor: 1, OK: tc.errs}, got[0])
			assert.Equal(t, "maxLatencyP50VsBaseline", got[1].Name)
			assert.Equal(t, 13.0, got[1].Limit)
			assert.Equal(t, tc.p50, got[1].OK)
			assert.Equal(t, 57.0, got[2].Limit)
			assert.Equal(t, tc.p99, got[2].OK)
			assert.Equal(t, tc.waived, got[1].Waived != "")
			if tc.waived {
				assert.Equal(t, "fewer user-visible errors than istio (3 < 12)", got[1].Waived)
			}
		})
	}
	// No errors on either side: the limit is 0 and holds.
	zero := relRun("istio", 0, 6, 20)
	got := checkRelative(e, &RunReport{Name: RunDetour, LatencyMs: Latency{P50: 9, P99: 24}}, &zero)
	assert.Equal(t, []bool{true, false, true}, []bool{got[0].OK, got[1].OK, got[2].OK}, "9 ms > 1.1 × 6 + 2 = 8.6 ms; 24 ≤ 24")
}

// With three runs, the detour run is checked against both others, and a
// failure there fails the run.
func TestApplyRelative(t *testing.T) {
	one := 1.0
	rep := &Report{Runs: []RunReport{relRun(RunBaseline, 300, 8, 40), relRun(RunIstio, 2, 8, 40), relRun(RunDetour, 4, 9, 40)}}
	ApplyRelative(rep, Expect{MaxErrorsVsBaseline: &one})
	assert.Empty(t, rep.Runs[0].Expectations)
	assert.Empty(t, rep.Runs[1].Expectations)
	got := rep.Runs[2].Expectations
	assert.Len(t, got, 2)
	assert.Equal(t, []string{RunBaseline, RunIstio}, []string{got[0].Against, got[1].Against})
	assert.Equal(t, []bool{true, false}, []bool{got[0].OK, got[1].OK})
	assert.False(t, rep.Runs[2].Passed)
	// Without a run with the filters there is nothing to compare.
	rep = &Report{Runs: []RunReport{relRun(RunIstio, 2, 8, 40)}}
	ApplyRelative(rep, Expect{MaxErrorsVsBaseline: &one})
	assert.Empty(t, rep.Runs[0].Expectations)
	// Wherever the run with the filters stands, it is the one compared.
	rep = &Report{Runs: []RunReport{relRun(RunDetour, 2, 8, 40), relRun(RunIstio, 2, 8, 40)}}
	ApplyRelative(rep, Expect{MaxErrorsVsBaseline: &one})
	assert.Equal(t, []Expectation{{Name: "maxErrorsVsBaseline", Limit: 2, Measured: ptr(2), Unit: "requests", Against: RunIstio, Factor: 1, OK: true}},
		rep.Runs[0].Expectations)
	assert.Empty(t, rep.Runs[1].Expectations)
}
