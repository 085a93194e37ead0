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
			s.ProbeOK(&r, now)
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
