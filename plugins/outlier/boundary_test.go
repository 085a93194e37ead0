package outlier

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/detour-mesh/detour/plugins/config"
)

// TestFailurePercentageBoundaries: at the volume, 40 % failures stay below
// a 50 % threshold and 50 % reaches it, late in the clock as early; with
// the check off, no failure share ejects.
func TestFailurePercentageBoundaries(t *testing.T) {
	s := NewSettings(config.Detection{FailurePercentage: 50, FailureRequestVolume: 10, IntervalMs: 1000, BaseEjectionMs: 1000, MaxEjectionPercent: 100})
	run := func(start int64, failing int, o Outcome) []Detector {
		var r Record
		var got []Detector
		for i := range 10 {
			outcome := Success
			if i >= 10-failing {
				outcome = o
			}
			// Successes first, then failures: the share is judged on a
			// failure, and decided at the 10th request.
			if det := s.Observe(&r, outcome, start+int64(i)); det != None {
				got = append(got, det)
			}
		}
		return got
	}
	for _, start := range []int64{0, 1_000_000} {
		for _, o := range []Outcome{Ext5xx, Gateway, LocalOrigin} {
			assert.Empty(t, run(start, 4, o), "40 %% at %d (%v)", start, o)
			assert.Equal(t, []Detector{FailurePercentage}, run(start, 5, o), "50 %% at %d (%v)", start, o)
		}
	}

	off := NewSettings(config.Detection{IntervalMs: 1000, BaseEjectionMs: 1000, MaxEjectionPercent: 100})
	var r Record
	for i := range 200 {
		assert.Equal(t, None, off.Observe(&r, Ext5xx, int64(i)), "request %d with every check off", i)
	}
}

// TestEjectionCountAndProbeBoundary: every ejection is counted, and a
// probe claim expires at its very millisecond.
func TestEjectionCountAndProbeBoundary(t *testing.T) {
	s := settings()
	var r Record
	s.Eject(&r, 0)
	s.Eject(&r, 10)
	assert.Equal(t, uint32(2), r.Ejections)
	assert.False(t, s.ProbeDue(&r, 509), "one probe period after the last ejection")
	assert.True(t, s.ProbeDue(&r, 510))
	r.ClaimProbe(70_000)
	assert.False(t, s.ProbeDue(&r, 69_999))
	assert.True(t, s.ProbeDue(&r, 70_000))
}

func TestStateString(t *testing.T) {
	assert.Equal(t, "PRIMARY", Primary.String())
	assert.Equal(t, "FAILING_BACK", FailingBack.String())
	assert.Equal(t, "UNKNOWN", State(len(stateNames)).String())
}

// TestWindowBoundaries: the window restarts at exactly one interval, and
// outcomes in one millisecond all count in it.
func TestWindowBoundaries(t *testing.T) {
	s := NewSettings(config.Detection{FailurePercentage: 50, FailureRequestVolume: 4, IntervalMs: 1000, BaseEjectionMs: 1000, MaxEjectionPercent: 100})
	var r Record
	// The first outcome opens the window at 5000, the others fall in it.
	for range 3 {
		assert.Equal(t, None, s.Observe(&r, Ext5xx, 5000))
	}
	assert.Equal(t, FailurePercentage, s.Observe(&r, Ext5xx, 5000), "four failures in one millisecond")

	r = Record{}
	for i := range 3 {
		s.Observe(&r, Ext5xx, int64(i))
	}
	assert.Equal(t, None, s.Observe(&r, Ext5xx, 1000), "a new window at exactly one interval")
	assert.Equal(t, uint32(1), r.WinTotal)
}

// TestConsecutiveOff: a threshold of 0 disables its check.
func TestConsecutiveOff(t *testing.T) {
	off := NewSettings(config.Detection{})
	for _, o := range []Outcome{LocalOrigin, Gateway, Ext5xx} {
		var r Record
		for i := range 40 {
			assert.Equal(t, None, off.Observe(&r, o, int64(i)), "%v %d", o, i)
		}
	}
}

// TestSettingsDefaults: Envoy's defaults fill only what is left 0.
func TestSettingsDefaults(t *testing.T) {
	d := NewSettings(config.Detection{})
	assert.Equal(t, Settings{IntervalMs: 10000, BaseMs: 30000, MaxMs: 300000, FailureVolume: 50, ProbeMs: 500, HalfLifeMs: 30000, WarmProbeMs: 100}, d)
	set := NewSettings(config.Detection{IntervalMs: 2000, BaseEjectionMs: 1000, MaxEjectionMs: 5000, FailureRequestVolume: 7})
	assert.Equal(t, Settings{IntervalMs: 2000, BaseMs: 1000, MaxMs: 5000, FailureVolume: 7, ProbeMs: 500, HalfLifeMs: 30000, WarmProbeMs: 100}, set)
	assert.Equal(t, int64(10000), NewSettings(config.Detection{BaseEjectionMs: 1000}).MaxMs, "max is 10 × a given base")
}

func TestNames(t *testing.T) {
	assert.Equal(t, "ignored", Ignored.String())
	assert.Equal(t, "unknown", Outcome(len(outcomeNames)).String())
	assert.Equal(t, "probe-failed", ProbeFailed.String())
	assert.Equal(t, "unknown", Detector(len(detectorNames)).String())
}

// TestFailing: any counted failure of a target in service is failing; an
// ejected target is not "failing" any more.
func TestFailing(t *testing.T) {
	assert.False(t, (&Record{}).Failing())
	for _, r := range []Record{{Cons5xx: 1}, {ConsGateway: 1}, {ConsLocal: 1}, {WinFail: 1}} {
		assert.True(t, r.Failing(), "%+v", r)
		r.Ejected = true
		assert.False(t, r.Failing(), "%+v", r)
	}
}
