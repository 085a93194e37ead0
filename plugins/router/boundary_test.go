package router

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/detour-mesh/detour/plugins/config"
)

// TestRampEnds: one step after the last ramp step the target is back at
// 100 % (whatever the last step says).
func TestRampEnds(t *testing.T) {
	c := cfg(config.ModeWeighted, true, tgt("a", 0, 50), tgt("b", 0, 50))
	c.Failback.Ramp = []uint32{10, 50}
	rt := New(c)
	h := Health{RecoveredAt: 1_000_000}
	assert.Equal(t, uint32(50), rt.RampShare(h, 1_000_000+60_000+30_000))
	assert.Equal(t, uint32(100), rt.RampShare(h, 1_000_000+60_000+2*30_000), "exactly after the last step")
}

// TestMinHealthyShareBoundary: a tier with exactly the minimum healthy
// share keeps all its traffic; below it, the missing share spills.
func TestMinHealthyShareBoundary(t *testing.T) {
	c := cfg(config.ModeAuto, false, tgt("a", 0, 0), tgt("b", 0, 0), tgt("c", 1, 0))
	c.Failback.MinHealthyShare = 50
	rt := New(c)
	assert.Equal(t, []int{0, 100, 0}, shares(rt, out(3, 0), 0), "1 of 2 healthy = 50 %")
	c.Failback.MinHealthyShare = 51
	rt = New(c)
	assert.Equal(t, []int{0, 50, 50}, shares(rt, out(3, 0), 0), "50 % < 51 %")
}

// TestLastTierKeepsRamp: the last tier never spills (there is nowhere to
// spill to), so a ramping target in it keeps its ramp share of the tier's
// traffic even when the tier is below the minimum healthy share.
func TestLastTierKeepsRamp(t *testing.T) {
	c := cfg(config.ModeAuto, false, tgt("a", 0, 0), tgt("b", 0, 0), tgt("c", 0, 0))
	c.Failback.MinHealthyShare = 80
	rt := New(c)
	rec := int64(10)
	h := []Health{{Out: true}, {RecoveredAt: rec}, {}}
	// b ramps at 10 % of its half: 5 %, c takes the rest.
	assert.Equal(t, []int{0, 5, 95}, shares(rt, h, rec+60_000))
}

// TestPickBoundaries: rnd maps onto [0, 1) and each target owns a
// half-open slice of it, in order; so does panic routing.
func TestPickBoundaries(t *testing.T) {
	rt := New(cfg(config.ModeWeighted, true, tgt("a", 0, 50), tgt("b", 0, 50)))
	h := out(2)
	for _, c := range []struct {
		rnd  uint32
		want int
	}{
		{0, 0}, {1 << 30, 0}, {1<<31 - 1, 0}, {1 << 31, 1}, {1<<32 - 1, 1},
	} {
		assert.Equal(t, c.want, rt.Pick(h, 0, c.rnd, 0), "healthy, rnd %d", c.rnd)
		assert.Equal(t, c.want, rt.Pick(out(2, 0, 1), 0, c.rnd, 0), "all out (panic routing), rnd %d", c.rnd)
	}
}

// TestNoWeightsSplitEvenly: a configuration without any weight splits
// every tier evenly, in every mode.
func TestNoWeightsSplitEvenly(t *testing.T) {
	for _, mode := range []string{config.ModeWeighted, config.ModeAuto} {
		rt := New(cfg(mode, true, tgt("a", 0, 0), tgt("b", 0, 0)))
		assert.Equal(t, []int{50, 50}, shares(rt, out(2), 0), mode)
	}
}
