package outlier

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/plugins/config"
)

func failbackSettings() Settings {
	s := settings()
	s.SetFailback(config.Failback{HoldDownMs: 1000, FlapHalfLifeMs: 30000, ProbeIntervalMs: 500})
	return s
}

// The hold-down grows with the flap penalty and shrinks as it decays.
func TestHoldDownPenalty(t *testing.T) {
	s := failbackSettings()
	for _, c := range []struct {
		name    string
		penalty uint32 // thousandths, at 0
		at      int64
		want    int64
	}{
		{"no penalty", 0, 0, 1000},
		{"one ejection", 1000, 0, 1000},
		{"two ejections at once", 2000, 0, 3000},
		{"three at once", 3000, 0, 9000},
		{"two, one half-life later: 1.0", 2000, 30000, 1000},
		{"four, one half-life later: 2.0", 4000, 30000, 3000},
		{"capped at 60 x hold-down", 16000, 0, 60000},
	} {
		r := Record{Penalty: c.penalty}
		assert.Equal(t, c.want, s.HoldDown(&r, c.at), c.name)
	}
}

// A target that flaps: each ejection adds a unit, the next recovery waits
// longer; a stable target's penalty decays back to the first hold-down.
func TestFlapDampening(t *testing.T) {
	s := failbackSettings()
	var r Record
	s.Eject(&r, 0)
	assert.Equal(t, uint32(1000), r.Penalty)
	s.ProbeOK(&r, 1000)
	assert.False(t, r.Ejected)
	assert.Equal(t, uint32(1000), r.HoldDownMs, "first recovery: the configured hold-down")
	assert.True(t, s.InHoldDown(&r, 1999))
	assert.False(t, s.InHoldDown(&r, 2000))
	// A probe in hold-down runs one period later; a failed one ejects again.
	assert.False(t, s.ProbeDue(&r, 1499))
	assert.True(t, s.ProbeDue(&r, 1500))
	s.ProbeFailed(&r, 1500)
	assert.True(t, r.Ejected)
	assert.Equal(t, uint32(2), r.Ejections)
	assert.InDelta(t, 1966, float64(r.Penalty), 2, "1000 decayed over 1.5 s, plus one")
	s.ProbeOK(&r, 2500)
	assert.Greater(t, r.HoldDownMs, uint32(2500), "second ejection within seconds: about 3 x")
	// Long stable: back to the configured hold-down.
	s.Eject(&r, 300000)
	s.ProbeOK(&r, 301000)
	assert.Equal(t, uint32(1000), r.HoldDownMs)
	// A healthy target is not probed.
	assert.False(t, s.ProbeDue(&r, 400000))
}

func TestFailbackAllocs(t *testing.T) {
	s := failbackSettings()
	var r Record
	n := testing.AllocsPerRun(1000, func() {
		s.Eject(&r, 5)
		s.ProbeDue(&r, 1005)
		s.ProbeOK(&r, 1005)
		s.ProbeFailed(&r, 1500)
		s.ProbeAnswered(&r, 2000, 5)
	})
	require.Zero(t, n)
}

func FuzzFailback(f *testing.F) {
	f.Add(uint32(2000), int64(0), int64(100), true)
	f.Add(uint32(1<<31), int64(-5), int64(1<<40), false)
	f.Fuzz(func(t *testing.T, penalty uint32, at, now int64, ok bool) {
		s := failbackSettings()
		r := Record{Ejected: true, Penalty: penalty % (maxPenalty + 1), PenaltyAt: at}
		if ok {
			s.ProbeAnswered(&r, now, now-at)
			if now != 0 && r.RecoveredAt == 0 && (r.HoldDownMs != 0 || now-at > s.WarmProbeMs) {
				t.Fatalf("snapped back after a %d ms probe with hold-down %d", now-at, r.HoldDownMs)
			}
		} else {
			s.ProbeFailed(&r, now)
		}
		if d := s.HoldDown(&r, now); d < s.HoldDownMs || d > s.MaxHoldDownMs {
			t.Fatalf("hold-down %d outside [%d, %d]", d, s.HoldDownMs, s.MaxHoldDownMs)
		}
		if r.Penalty > maxPenalty {
			t.Fatalf("penalty %d above the cap", r.Penalty)
		}
	})
}

// A first recovery whose probe answered fast returns at once and whole
// (RecoveredAt 0: no hold-down, no ramp); a slow probe (cold pods), a
// repeated ejection within the half-life (a flap) or an unknown answer time
// take the hold-down and the ramp.
func TestProbeAnsweredFirstRecovery(t *testing.T) {
	s := failbackSettings()
	for _, c := range []struct {
		name    string
		ejects  []int64 // ejection times before the probe at 60000
		took    int64
		snap    bool
		holdMin uint32
	}{
		{"first, fast", []int64{0}, 5, true, 0},
		{"first, at the warm bound", []int64{0}, DefaultWarmProbeMs, true, 0},
		{"first, slow: cold pods", []int64{0}, DefaultWarmProbeMs + 1, false, 1000},
		{"first, answer time unknown", []int64{0}, -1, false, 1000},
		{"again within the half-life", []int64{0, 50000}, 5, false, 1000},
		{"again, long after", []int64{-600000, 0}, 5, true, 0},
	} {
		var r Record
		for i, at := range c.ejects {
			if i > 0 {
				s.Uneject(&r, at-1)
			}
			s.Eject(&r, at)
		}
		s.ProbeAnswered(&r, 60000, c.took)
		assert.False(t, r.Ejected, c.name)
		if c.snap {
			assert.Zero(t, r.RecoveredAt, c.name)
			assert.False(t, s.InHoldDown(&r, 60000), c.name)
			assert.False(t, s.ProbeDue(&r, 60500), "%s: back and healthy, not probed", c.name)
		} else {
			assert.Equal(t, int64(60000), r.RecoveredAt, c.name)
			assert.GreaterOrEqual(t, r.HoldDownMs, c.holdMin, c.name)
			assert.True(t, s.InHoldDown(&r, 60000), c.name)
		}
	}
	// A probe of a target in hold-down changes nothing but the next probe.
	var r Record
	s.Eject(&r, 0)
	s.ProbeAnswered(&r, 1000, 500)
	require.True(t, s.InHoldDown(&r, 1000))
	s.ProbeAnswered(&r, 1500, 5)
	assert.Equal(t, int64(1000), r.RecoveredAt)
	assert.Equal(t, int64(2000), r.NextProbe)
}

// Cold pods: each slow probe in the hold-down extends it to the next
// probe, up to MaxHoldDownMs; a warm probe lets the hold-down run out.
// The same on a first recovery and on a repeated one.
func TestSlowProbeHoldsTheRecovery(t *testing.T) {
	s := failbackSettings()
	var r Record
	s.Eject(&r, 0)
	s.Uneject(&r, 1000) // came back, failed again at once
	s.Eject(&r, 2000)
	s.ProbeAnswered(&r, 3000, 300) // slow: cold
	require.False(t, r.Ejected)
	require.Equal(t, int64(3000), r.RecoveredAt)
	hd := r.HoldDownMs
	require.Greater(t, hd, uint32(1000))
	at := int64(3000) + int64(hd) - 100
	s.ProbeAnswered(&r, at, 300)
	assert.Equal(t, uint32(at-3000+1000+300), r.HoldDownMs, "extended past the next probe's answer")
	s.ProbeAnswered(&r, at+500, 5) // warm: runs out
	assert.Equal(t, uint32(at-3000+1300), r.HoldDownMs)
	assert.False(t, s.InHoldDown(&r, at+1300))
	// Capped at MaxHoldDownMs.
	r.HoldDownMs = uint32(s.MaxHoldDownMs - 100)
	s.ProbeAnswered(&r, 3000+s.MaxHoldDownMs-200, 300)
	assert.Equal(t, uint32(s.MaxHoldDownMs), r.HoldDownMs)

	// A first recovery with a slow probe: held past the next probe's
	// answer, then a warm probe lets it run out and the ramp follows.
	var f Record
	s.Eject(&f, 0)
	s.ProbeAnswered(&f, 60000, 300)
	assert.Equal(t, uint32(0+2*s.ProbeMs+300), f.HoldDownMs, "past the next probe's answer")
	s.ProbeAnswered(&f, 60500, 300)
	assert.Equal(t, uint32(500+2*s.ProbeMs+300), f.HoldDownMs)
	s.ProbeAnswered(&f, 61000, 5)
	assert.Equal(t, uint32(500+2*s.ProbeMs+300), f.HoldDownMs, "a warm probe does not extend it")
	assert.False(t, s.InHoldDown(&f, 60000+int64(f.HoldDownMs)))
}
