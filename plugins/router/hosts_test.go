package router

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/plugins/config"
)

func hosts(n, out uint16) Health { return Health{Hosts: n, HostsOut: out} }

// A target whose hosts are partly out takes healthy fraction × 1.4 of its
// share, capped at 100 %, and the rest spills to the next tier: the shares
// Envoy's priority load gives (1/3 out of 3: 93 %; 2 of 3: 47 %).
func TestHostShareSpill(t *testing.T) {
	auto := cfg(config.ModeAuto, false, tgt("a", 0, 0), tgt("b", 1, 0))
	three := cfg(config.ModeAuto, false, tgt("a", 0, 0), tgt("b", 1, 0), tgt("c", 2, 0))
	tier := cfg(config.ModeAuto, false, tgt("a", 0, 50), tgt("b", 0, 50), tgt("c", 1, 0))
	strict := cfg(config.ModeWeighted, false, tgt("a", 0, 50), tgt("b", 0, 50))
	as := cfg(config.ModeActiveStandby, false, tgt("a", 0, 100), config.Target{Cluster: "s", Standby: true})
	for _, c := range []struct {
		name string
		c    *config.Config
		h    []Health
		want []int
	}{
		{"no host counts: all local", auto, []Health{{}, {}}, []int{100, 0}},
		{"every host in: all local", auto, []Health{hosts(3, 0), {}}, []int{100, 0}},
		{"one of three out: 93 %", auto, []Health{hosts(3, 1), {}}, []int{93, 7}},
		{"two of three out: 47 %", auto, []Health{hosts(3, 2), {}}, []int{47, 53}},
		{"one of ten out: 1.4 × 0.9 caps at 100 %", auto, []Health{hosts(10, 1), {}}, []int{100, 0}},
		{"every host out: all spills", auto, []Health{hosts(3, 3), {}}, []int{0, 100}},
		{"spill past a partial second tier", three, []Health{hosts(3, 2), hosts(2, 1), {}}, []int{47, 37, 16}},
		{"last tier partial: nothing to spill to", auto, []Health{{Out: true}, hosts(3, 2)}, []int{0, 100}},
		{"one target of a tier partial: its rest to the next tier", tier, []Health{hosts(3, 2), {}, {}}, []int{23, 50, 27}},
		{"strict weights ignore hosts", strict, []Health{hosts(3, 2), {}}, []int{50, 50}},
		{"active/standby: no spill to the standby", as, []Health{hosts(3, 2), {}}, []int{100, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, shares(New(c.c), c.h, 0))
		})
	}
}

func TestHostShare(t *testing.T) {
	for _, c := range []struct {
		h    Health
		want float64
	}{
		{Health{}, 1}, {hosts(3, 0), 1}, {hosts(3, 1), 1.4 * 2 / 3}, {hosts(3, 3), 0}, {hosts(2, 5), 0}, {hosts(0, 1), 1},
	} {
		assert.InDelta(t, c.want, HostShare(c.h), 1e-9, "%+v", c.h)
	}
}

func TestHostSpillAllocs(t *testing.T) {
	rt := New(cfg(config.ModeAuto, false, tgt("a", 0, 0), tgt("b", 1, 0)))
	h := []Health{hosts(3, 1), {RecoveredAt: 5}}
	var r uint32
	n := testing.AllocsPerRun(1000, func() {
		r += 7919
		rt.Pick(h, 70_000, r, 0)
		rt.PickAvoiding(h, 70_000, r, 0, Suspects(h)|1)
	})
	require.Zero(t, n)
}

// FuzzHostSpill: with arbitrary host counts the shares stay a
// distribution (each in [0, 100], summing to 100) and a pick is valid.
func FuzzHostSpill(f *testing.F) {
	f.Add(uint16(3), uint16(1), uint16(2), uint16(2), uint32(9))
	f.Add(uint16(0), uint16(4), uint16(1), uint16(0), uint32(1<<31))
	f.Fuzz(func(t *testing.T, n0, o0, n1, o1 uint16, rnd uint32) {
		rt := New(cfg(config.ModeAuto, false, tgt("a", 0, 0), tgt("b", 1, 0), tgt("c", 1, 0)))
		h := []Health{hosts(n0, o0), hosts(n1, o1), {}}
		out := make([]float64, 3)
		rt.Shares(h, 0, out)
		sum := 0.0
		for _, s := range out {
			if s < -1e-9 || s > 100+1e-9 {
				t.Fatalf("share %v", out)
			}
			sum += s
		}
		if sum < 100-1e-6 || sum > 100+1e-6 {
			t.Fatalf("shares sum to %v: %v", sum, out)
		}
		if i := rt.Pick(h, 0, rnd, 0); i < 0 || i > 2 {
			t.Fatalf("pick %d", i)
		}
	})
}

// Suspect targets are avoided by the requests Envoy will not retry: such
// a request goes to another available target, and to the suspect one
// when no other is available (rather than to an ejected one).
func TestSuspects(t *testing.T) {
	rt := New(cfg(config.ModeAuto, false, tgt("a", 0, 0), tgt("b", 1, 0)))
	for _, c := range []struct {
		name string
		h    []Health
		mask uint64
		pick int
	}{
		{"none suspect", []Health{{}, {}}, 0, 0},
		{"local suspect: the next tier", []Health{{Suspect: true}, {}}, 1, 1},
		{"remote suspect: local as usual", []Health{{}, {Suspect: true}}, 2, 0},
		{"both suspect: as usual", []Health{{Suspect: true}, {Suspect: true}}, 3, 0},
		{"the other is out: the suspect one, not a panic pick", []Health{{Suspect: true}, {Out: true}}, 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.mask, Suspects(c.h))
			for _, r := range []uint32{0, 1 << 31, 1<<32 - 1} {
				assert.Equal(t, c.pick, rt.PickAvoiding(c.h, 0, r, 0, Suspects(c.h)))
			}
		})
	}
	assert.Equal(t, 0, rt.PickAvoiding([]Health{{Suspect: true}, {}}, 0, 0, 2, 1), "excluded by the cell: the suspect one")

	// Not to a target in its hold-down (the router's 60 s): Pick's choice.
	held := []Health{{Suspect: true}, {RecoveredAt: 1000, HoldDownMs: 60000, EjectedAt: 500}}
	for _, r := range []uint32{0, 1 << 31, 1<<32 - 1} {
		assert.Equal(t, rt.Pick(held, 2000, r, 0), rt.PickAvoiding(held, 2000, r, 0, Suspects(held)), "rnd %d", r)
		assert.Equal(t, 0, rt.PickAvoiding(held, 2000, r, 0, Suspects(held)), "rnd %d", r)
	}
	// Strict weights and active/standby: nothing avoided, as Pick.
	for _, mode := range []string{config.ModeWeighted, config.ModeActiveStandby} {
		rs := New(cfg(mode, false, tgt("a", 0, 50), tgt("b", 1, 50)))
		h := []Health{{Suspect: true}, {}}
		for _, r := range []uint32{0, 1 << 30, 1 << 31, 1<<32 - 1} {
			assert.Equal(t, rs.Pick(h, 0, r, 0), rs.PickAvoiding(h, 0, r, 0, Suspects(h)), "%s rnd %d", mode, r)
		}
	}
}

func TestCalm(t *testing.T) {
	for _, c := range []struct {
		name string
		h    []Health
		want bool
	}{
		{"all healthy", []Health{{}, {}}, true},
		{"no targets", nil, true},
		{"back from an ejection, ramping: calm (the ramp is the clock's)", []Health{{RecoveredAt: 1000, EjectedAt: 500}, {}}, true},
		{"hosts counted, none out", []Health{{Hosts: 3}, {}}, true},
		{"one out", []Health{{}, {Out: true}}, false},
		{"one failing", []Health{{Failing: true}, {}}, false},
		{"a host out", []Health{{Hosts: 3, HostsOut: 1}, {}}, false},
		{"suspect", []Health{{}, {Suspect: true}}, false},
	} {
		t.Run(c.name, func(t *testing.T) { assert.Equal(t, c.want, Calm(c.h)) })
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() { Calm([]Health{{}, {}, {}}) }))
}
