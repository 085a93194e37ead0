package router

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/detour-mesh/detour/plugins/config"
)

// rnds spans [0, 2^32) at its quarters and both ends.
var rnds = []uint32{0, 1 << 30, 1 << 31, 3 << 30, 1<<32 - 1}

// Nothing at its full share takes traffic: the targets that would are in
// their hold-down, and the settled target that holds them down has every
// host out or was tried. The traffic then goes to the first tier with an
// available target, by weight (3:1 here), not to the ejected first tier
// by a panic pick.
func TestHoldDownFallbackFirstAvailableTier(t *testing.T) {
	// x is out; a and a2 came back together (hold-down until 61 000);
	// b never failed, so it is the settled alternative they defer to.
	c := cfg(config.ModeAuto, false, tgt("x", 0, 0), tgt("a", 1, 3), tgt("a2", 1, 1), tgt("b", 2, 0))
	held := Health{RecoveredAt: 1000, EjectedAt: 500}
	now := int64(2000)
	for _, tc := range []struct {
		name  string
		h     []Health
		tried uint64
		// shares (tried == 0) or the retry's pick per rnds
		want []int
	}{
		{"b's hosts all out: a 3/4, a2 1/4", []Health{{Out: true}, held, held, hosts(2, 2)}, 0, []int{0, 75, 25, 0}},
		// rnd below 3/4 of the range draws a, from 3/4 on a2.
		{"retry after b failed: a or a2 by weight", []Health{{Out: true}, held, held, {}}, 1 << 3, []int{1, 1, 1, 2, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := New(c)
			if tc.tried == 0 {
				assert.Equal(t, tc.want, shares(rt, tc.h, now))
				return
			}
			got := make([]int, len(rnds))
			for k, r := range rnds {
				got[k] = rt.Next(tc.h, now, r, tc.tried)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// The draw can land on target 0 (listed first), and that is the pick: not
// the panic pick, the avoided target, nor a failing one.
func TestDrawOfFirstListedTarget(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    *config.Config
		pick func(rt *Router, rnd uint32) int
	}{
		// a (priority 1) is the only available target; a panic pick
		// would take b's tier 0.
		{"Pick: the only available target", cfg(config.ModeAuto, false, tgt("a", 1, 0), tgt("b", 0, 0)),
			func(rt *Router, r uint32) int { return rt.Pick(out(2, 1), 0, r, 0) }},
		// b is suspect: a request Envoy will not retry goes to a, which
		// is at its full share, whatever rnd.
		{"PickAvoiding: the unsuspected target", cfg(config.ModeAuto, false, tgt("a", 0, 50), tgt("b", 0, 50)),
			func(rt *Router, r uint32) int {
				h := []Health{{}, {Suspect: true}}
				return rt.PickAvoiding(h, 0, r, 0, Suspects(h))
			}},
		// c was tried, b's last answer failed: the retry goes to a.
		{"Next: the one neither tried nor failing", cfg(config.ModeAuto, false, tgt("a", 0, 0), tgt("b", 0, 0), tgt("c", 0, 0)),
			func(rt *Router, r uint32) int { return rt.Next([]Health{{}, {Failing: true}, {}}, 0, r, 1<<2) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := New(tc.c)
			for _, r := range rnds {
				assert.Equal(t, 0, tc.pick(rt, r), "rnd %d", r)
			}
		})
	}
}

// With every target out, panic routing takes the first tier with a target
// not excluded, however many tiers before it are excluded.
func TestPanicFirstTierNotExcluded(t *testing.T) {
	rt := New(cfg(config.ModeAuto, false, tgt("a", 0, 0), tgt("b", 1, 0), tgt("c", 2, 0)))
	for _, tc := range []struct {
		exclude uint64
		want    int
	}{
		{0, 0}, {1 << 1, 0}, {1 << 0, 1}, {1<<0 | 1<<1, 2}, {1<<0 | 1<<2, 1}, {7, -1},
	} {
		for _, r := range rnds {
			assert.Equal(t, tc.want, rt.Pick(out(3, 0, 1, 2), 0, r, tc.exclude), "exclude %b rnd %d", tc.exclude, r)
		}
	}
}
