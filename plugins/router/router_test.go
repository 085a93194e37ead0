package router

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/plugins/config"
)

func cfg(mode string, healthAware bool, targets ...config.Target) *config.Config {
	return &config.Config{
		Version: config.Version, Mode: mode, HealthAware: healthAware, Targets: targets,
		Service:  config.Service{Host: "svc.ns.svc.cluster.local", Port: 80},
		Headers:  config.Headers{Cluster: config.HeaderCluster, Cell: config.HeaderCell},
		Failback: config.Failback{HoldDownMs: 60000, MinHealthyShare: 50, Ramp: []uint32{10, 50, 100}, StepIntervalMs: 30000},
	}
}

func tgt(name string, prio int, weight uint32) config.Target {
	return config.Target{Cluster: name, Priority: prio, Weight: weight, Region: "r-" + name, Zone: "z"}
}

// shares returns the routing shares in percent, rounded.
func shares(rt *Router, h []Health, now int64) []int {
	out := make([]float64, len(h))
	rt.Shares(h, now, out)
	r := make([]int, len(h))
	for i, v := range out {
		r[i] = int(v + 0.5)
	}
	return r
}

func out(n int, idx ...int) []Health {
	h := make([]Health, n)
	for _, i := range idx {
		h[i].Out = true
	}
	return h
}

func TestLadderPerMode(t *testing.T) {
	auto := cfg(config.ModeAuto, false, tgt("a", 0, 0), tgt("b", 1, 0), tgt("c", 2, 0))
	autoTier := cfg(config.ModeAuto, false, tgt("a", 0, 50), tgt("b", 0, 50), tgt("c", 1, 0))
	named := cfg(config.ModeNamed, false, tgt("x", 0, 0), tgt("y", 1, 0), tgt("z", 2, 0))
	strict := cfg(config.ModeWeighted, false, tgt("a", 0, 70), tgt("b", 0, 30))
	aware := cfg(config.ModeWeighted, true, tgt("a", 0, 50), tgt("b", 0, 30), tgt("c", 0, 20))
	as := cfg(config.ModeActiveStandby, false, tgt("a", 0, 60), tgt("b", 0, 40), config.Target{Cluster: "s", Weight: 0, Standby: true})
	for _, c := range []struct {
		name string
		c    *config.Config
		h    []Health
		want []int
	}{
		{"auto healthy: first tier", auto, out(3), []int{100, 0, 0}},
		{"auto first out: second tier", auto, out(3, 0), []int{0, 100, 0}},
		{"auto two out: third tier", auto, out(3, 0, 1), []int{0, 0, 100}},
		{"auto tier keeps traffic at min healthy share", autoTier, out(3, 0), []int{0, 100, 0}},
		{"named order", named, out(3), []int{100, 0, 0}},
		{"named skips out", named, out(3, 0), []int{0, 100, 0}},
		{"weighted strict ignores health", strict, out(2, 0), []int{70, 30}},
		{"health-aware redistributes", aware, out(3, 0), []int{0, 60, 40}},
		{"health-aware healthy", aware, out(3), []int{50, 30, 20}},
		{"active/standby: actives only", as, out(3), []int{60, 40, 0}},
		{"strict standby: one active left takes all", as, out(3, 0), []int{0, 100, 0}},
		{"standby when every active is out", as, out(3, 0, 1), []int{0, 0, 100}},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, shares(New(c.c), c.h, 0))
		})
	}
}

// Below the minimum healthy share a tier keeps only its healthy share and
// the rest spills to the next tier.
func TestMinHealthyShareSpill(t *testing.T) {
	c := cfg(config.ModeAuto, false, tgt("a", 0, 25), tgt("b", 0, 25), tgt("c", 0, 25), tgt("d", 0, 25), tgt("e", 1, 0))
	c.Failback.MinHealthyShare = 60
	rt := New(c)
	assert.Equal(t, []int{0, 0, 25, 25, 50}, shares(rt, out(5, 0, 1), 0))
	assert.Equal(t, []int{0, 33, 33, 33, 0}, shares(rt, out(5, 0), 0))
}

func TestPanicWhenAllOut(t *testing.T) {
	rt := New(cfg(config.ModeAuto, false, tgt("a", 0, 0), tgt("b", 1, 0)))
	h := out(2, 0, 1)
	seen := map[int]bool{}
	for r := uint32(0); r < 1<<31; r += 1 << 27 {
		seen[rt.Pick(h, 0, r*2, 0)] = true
	}
	assert.Equal(t, map[int]bool{0: true}, seen, "the first tier gets the try (local first, as fast to fail as Envoy)")
	assert.Equal(t, 1, rt.Pick(h, 0, 0, 1), "the next tier once the first is excluded")
	assert.Equal(t, -1, rt.Pick(h, 0, 0, 3), "nothing left after excluding both")
	// Two tiers of two: weights within the first tier.
	rt = New(cfg(config.ModeAuto, false, tgt("a", 0, 50), tgt("b", 0, 50), tgt("c", 1, 50), tgt("d", 1, 50)))
	h = out(4, 0, 1, 2, 3)
	seen = map[int]bool{}
	for r := uint32(0); r < 1<<31; r += 1 << 27 {
		seen[rt.Pick(h, 0, r*2, 0)] = true
	}
	assert.Equal(t, map[int]bool{0: true, 1: true}, seen)
}

// Targets that recover together return in tier order: with both in
// hold-down the first tier takes everything, not half.
func TestRecoverTogetherTierOrder(t *testing.T) {
	rt := New(cfg(config.ModeAuto, false, tgt("a", 0, 0), tgt("b", 1, 0)))
	h := []Health{{RecoveredAt: 1000, EjectedAt: 500}, {RecoveredAt: 1000, EjectedAt: 600}}
	assert.Equal(t, []int{100, 0}, shares(rt, h, 2000), "both in hold-down")
	assert.Equal(t, []int{100, 0}, shares(rt, h, 61000+30000), "both ramping")
	// The second came back long before the first failed: it is a settled
	// alternative, so the first holds down and ramps.
	h = []Health{{RecoveredAt: 100000, EjectedAt: 90000}, {RecoveredAt: 1000, EjectedAt: 500}}
	assert.Equal(t, []int{0, 100}, shares(rt, h, 101000))
	assert.Equal(t, []int{10, 90}, shares(rt, h, 161000))
	// A raised hold-down (a flapping target) holds longer.
	h = []Health{{RecoveredAt: 1000, HoldDownMs: 90000}, {}}
	assert.Equal(t, []int{0, 100}, shares(rt, h, 61000))
	assert.Equal(t, []int{10, 90}, shares(rt, h, 91000))
}

func TestRamp(t *testing.T) {
	c := cfg(config.ModeWeighted, true, tgt("a", 0, 50), tgt("b", 0, 50))
	rt := New(c)
	rec := int64(1_000_000)
	h := []Health{{RecoveredAt: rec}, {}}
	for _, s := range []struct {
		at   int64
		ramp uint32
		want []int
	}{
		{rec, 0, []int{0, 100}},             // hold-down
		{rec + 59_999, 0, []int{0, 100}},    // still hold-down
		{rec + 60_000, 10, []int{5, 95}},    // step 1: 10 % of its 50 %
		{rec + 90_000, 50, []int{25, 75}},   // step 2
		{rec + 120_000, 100, []int{50, 50}}, // done
	} {
		assert.Equal(t, s.ramp, rt.RampShare(h[0], s.at), "at %d", s.at)
		assert.Equal(t, s.want, shares(rt, h, s.at), "at %d", s.at)
	}
	assert.True(t, rt.Ramping(h[0], rec+60_000))
	assert.False(t, rt.Ramping(h[0], rec+120_000))
	// A ramping target with nothing else to take its traffic gets it all.
	assert.Equal(t, []int{100, 0}, shares(rt, []Health{{RecoveredAt: rec}, {Out: true}}, rec))
}

// Shares a ramping first tier sheds go to the next tier (failback from
// the region it failed over to is gradual).
func TestRampSpillsToNextTier(t *testing.T) {
	rt := New(cfg(config.ModeAuto, false, tgt("a", 0, 0), tgt("b", 1, 0)))
	rec := int64(10)
	assert.Equal(t, []int{10, 90}, shares(rt, []Health{{RecoveredAt: rec}, {}}, rec+60_000))
}

func TestNextSkipsTried(t *testing.T) {
	rt := New(cfg(config.ModeNamed, false, tgt("x", 0, 0), tgt("y", 1, 0), tgt("z", 2, 0)))
	h := out(3)
	assert.Equal(t, 1, rt.Next(h, 0, 0, 1<<0))
	assert.Equal(t, 2, rt.Next(h, 0, 0, 1<<0|1<<1))
	assert.Equal(t, 2, rt.Next(out(3, 1), 0, 0, 1<<0), "skips an ejected target")
	assert.Equal(t, -1, rt.Next(h, 0, 0, 7))
}

// A region goes down: its targets fail together before any is ejected. The
// retry after a failure on a goes to c (the other region), not to b, whose
// last answer failed too; with nothing else left, a failing target still
// beats no retry.
func TestNextSkipsFailing(t *testing.T) {
	rt := New(cfg(config.ModeAuto, false, tgt("a", 0, 29), tgt("b", 0, 29), tgt("c", 0, 43)))
	failing := []Health{{Failing: true}, {Failing: true}, {}}
	for r := uint32(0); r < 1<<31; r += 1 << 26 {
		assert.Equal(t, 2, rt.Next(failing, 0, r, 1<<0), "rnd %d", r)
	}
	assert.Equal(t, 1, rt.Next(failing, 0, 0, 1<<0|1<<2), "only a failing target is left")
	// Healthy neighbours are chosen by share as before.
	seen := map[int]bool{}
	for r := uint32(0); r < 1<<31; r += 1 << 26 {
		seen[rt.Next(make([]Health, 3), 0, r*2, 1<<0)] = true
	}
	assert.Equal(t, map[int]bool{1: true, 2: true}, seen)
}

func TestPreferred(t *testing.T) {
	rt := New(cfg(config.ModeActiveStandby, false, tgt("a", 0, 100), config.Target{Cluster: "s", Standby: true}))
	assert.True(t, rt.Preferred(0))
	assert.False(t, rt.Preferred(1))
}

// Only a target back from an ejection makes the pick depend on the time,
// and only when a ramp is configured; otherwise any clock reading picks
// the same.
func TestUsesClock(t *testing.T) {
	rt := New(cfg(config.ModeWeighted, true, tgt("a", 0, 50), tgt("b", 0, 50)))
	assert.False(t, rt.UsesClock([]Health{{}, {}}))
	assert.False(t, rt.UsesClock([]Health{{Out: true}, {}}))
	assert.True(t, rt.UsesClock([]Health{{RecoveredAt: 5}, {}}))
	noRamp := cfg(config.ModeWeighted, true, tgt("a", 0, 50), tgt("b", 0, 50))
	noRamp.Failback.Ramp = nil
	assert.False(t, New(noRamp).UsesClock([]Health{{RecoveredAt: 5}, {}}))
	h := []Health{{Out: true}, {}}
	for r := uint32(0); r < 1<<31; r += 1 << 27 {
		assert.Equal(t, rt.Pick(h, 0, r, 0), rt.Pick(h, 70_000, r, 0))
	}
}

func TestPickAllocs(t *testing.T) {
	rt := New(cfg(config.ModeWeighted, true, tgt("a", 0, 50), tgt("b", 0, 30), tgt("c", 0, 20)))
	h := []Health{{Out: true}, {RecoveredAt: 5}, {}}
	failing := []Health{{Failing: true}, {RecoveredAt: 5}, {}}
	var r uint32
	n := testing.AllocsPerRun(1000, func() {
		r += 7919
		rt.Pick(h, 70_000, r, 0)
		rt.Next(failing, 70_000, r, 1)
	})
	require.Zero(t, n)
}

// FuzzRouter feeds arbitrary configurations through the configuration
// parser and, when valid, picks with arbitrary health: a pick is always a
// valid index (or -1 only when everything is excluded).
func FuzzRouter(f *testing.F) {
	b, _ := json.Marshal(cfg(config.ModeAuto, false, tgt("a", 0, 10), tgt("b", 1, 0)))
	f.Add(b, uint64(1), uint32(5), int64(70_000), uint64(0))
	b, _ = json.Marshal(cfg(config.ModeActiveStandby, false, tgt("a", 0, 10), config.Target{Cluster: "s", Standby: true}))
	f.Add(b, uint64(3), uint32(1<<31), int64(0), uint64(1))
	f.Fuzz(func(t *testing.T, data []byte, outMask uint64, rnd uint32, now int64, exclude uint64) {
		c, err := config.Parse(data)
		if err != nil || len(c.Targets) > MaxTargets {
			return
		}
		rt := New(&c)
		h := make([]Health, len(c.Targets))
		for i := range h {
			h[i].Out = outMask&(1<<uint(i)) != 0
			if outMask&(1<<uint(i+32)) != 0 {
				h[i].RecoveredAt = now - int64(rnd%200_000)
			}
		}
		rt.Pick(out(len(h)), now, rnd, 0) // another question first: the memo must not answer
		i := rt.Pick(h, now, rnd, exclude)
		if j := New(&c).Pick(h, now, rnd, exclude); j != i {
			t.Fatalf("pick %d after another question, %d fresh", i, j)
		}
		all := exclude&(1<<uint(len(h))-1) == 1<<uint(len(h))-1
		if i < -1 || i >= len(h) || (i == -1) != all {
			t.Fatalf("pick %d of %d (exclude %b)", i, len(h), exclude)
		}
		if i >= 0 && exclude&(1<<uint(i)) != 0 {
			t.Fatalf("picked excluded %d", i)
		}
		if !rt.UsesClock(h) {
			if j := rt.Pick(h, 0, rnd, exclude); j != i {
				t.Fatalf("pick %d at %d but %d at 0, yet UsesClock is false", i, now, j)
			}
		}
	})
}

// An edge gateway's auto configuration (one tier, weighted by endpoints)
// tiered by where the gateway runs: its zone, then its region, then the
// rest, as Envoy's locality load balancing does under Istio's defaults.
func TestLocate(t *testing.T) {
	at := func(name, region, zone string, w uint32) config.Target {
		return config.Target{Cluster: name, Weight: w, Region: region, Zone: zone}
	}
	edge := func(byLocality bool, mode string) *config.Config {
		c := cfg(mode, false, at("1a", "r1", "r1a", 29), at("1b", "r1", "r1b", 29), at("2", "r2", "r2a", 43))
		c.TierByLocality = byLocality
		return c
	}
	all := make([]Health, 3)
	tests := []struct {
		name         string
		c            *config.Config
		region, zone string
		healthy      []int
		oneOut       []int // 1a ejected
		regionOut    []int // 1a and 1b ejected
	}{
		{"gateway in zone r1a", edge(true, config.ModeAuto), "r1", "r1a", []int{100, 0, 0}, []int{0, 100, 0}, []int{0, 0, 100}},
		{"gateway in region r1, another zone", edge(true, config.ModeAuto), "r1", "r1c", []int{50, 50, 0}, []int{0, 100, 0}, []int{0, 0, 100}},
		{"gateway in region r2", edge(true, config.ModeAuto), "r2", "r2a", []int{0, 0, 100}, []int{0, 0, 100}, []int{0, 0, 100}},
		{"gateway elsewhere: one tier by weight", edge(true, config.ModeAuto), "r9", "r9a", []int{29, 29, 43}, []int{0, 40, 60}, []int{0, 0, 100}},
		{"no node locality", edge(true, config.ModeAuto), "", "", []int{29, 29, 43}, []int{0, 40, 60}, []int{0, 0, 100}},
		{"not asked for", edge(false, config.ModeAuto), "r1", "r1a", []int{29, 29, 43}, []int{0, 40, 60}, []int{0, 0, 100}},
		{"not auto", edge(true, config.ModeWeighted), "r1", "r1a", []int{29, 29, 43}, []int{29, 29, 43}, []int{29, 29, 43}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := New(tc.c)
			rt.Locate(tc.c, tc.region, tc.zone)
			assert.Equal(t, tc.healthy, shares(rt, all, 0), "all healthy")
			assert.Equal(t, tc.oneOut, shares(rt, []Health{{Out: true}, {}, {}}, 0), "1a out")
			assert.Equal(t, tc.regionOut, shares(rt, []Health{{Out: true}, {Out: true}, {}}, 0), "region r1 out")
			for i := range tc.healthy {
				assert.Equal(t, tc.healthy[i] > 0, rt.Preferred(i), "preferred %d", i)
			}
		})
	}
}

// The shares are kept for the question they answered last (a healthy mesh
// asks the same one on every request): a router asked a sequence of
// questions answers each as a fresh router does, whether the health, the
// exclusion, the ramp's clock or nothing moved since the last.
func TestSharesMemoAnswersAsFresh(t *testing.T) {
	c := cfg(config.ModeAuto, false, tgt("a", 0, 0), tgt("b", 0, 0), tgt("c", 1, 0))
	rt := New(c)
	rec := int64(1_000_000)
	ramping := []Health{{RecoveredAt: rec}, {}, {}}
	for k, q := range []struct {
		h   []Health
		now int64
		ex  uint64
	}{
		{out(3), 0, 0},
		{out(3), 0, 0}, // the same question
		{out(3, 0), 0, 0},
		{out(3, 0), 0, 2},
		{out(3, 0), 0, 0},
		{ramping, rec + 60_000, 0},
		{ramping, rec + 90_000, 0}, // only the clock moved
		{[]Health{{Hosts: 4, HostsOut: 3}, {}, {}}, 0, 0},
		{out(3, 0, 1), 0, 0},
		{out(3), 0, 0},
	} {
		assert.Equal(t, shares(New(c), q.h, q.now), shares(rt, q.h, q.now), "question %d", k)
		for _, rnd := range []uint32{0, 1 << 30, 1 << 31, 3 << 30, 1<<32 - 1} {
			assert.Equal(t, New(c).Pick(q.h, q.now, rnd, q.ex), rt.Pick(q.h, q.now, rnd, q.ex), "question %d, rnd %d", k, rnd)
		}
	}
}
