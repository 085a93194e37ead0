package priority

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// lv is a level of 100 hosts with pct healthy (so health percent = pct).
func lv(pct uint64) Level { return Level{Total: 100, Healthy: pct} }

// The rows of Envoy's priority-levels documentation
// (docs/root/intro/arch_overview/upstream/load_balancing/priority.rst).
func TestPriorityLoadDocTables(t *testing.T) {
	cases := []struct {
		name   string
		levels []Level
		want   []uint32
	}{
		// Two levels, P1 100% healthy.
		{"100", []Level{lv(100), lv(100)}, []uint32{100, 0}},
		{"72", []Level{lv(72), lv(100)}, []uint32{100, 0}},
		{"71", []Level{lv(71), lv(100)}, []uint32{99, 1}},
		{"50", []Level{lv(50), lv(100)}, []uint32{70, 30}},
		{"25", []Level{lv(25), lv(100)}, []uint32{35, 65}},
		{"0", []Level{lv(0), lv(100)}, []uint32{0, 100}},
		// Two levels, both degrading (normalized total health < 100).
		{"72/72", []Level{lv(72), lv(72)}, []uint32{100, 0}},
		{"71/71", []Level{lv(71), lv(71)}, []uint32{99, 1}},
		{"50/50", []Level{lv(50), lv(50)}, []uint32{70, 30}},
		{"25/100", []Level{lv(25), lv(100)}, []uint32{35, 65}},
		{"25/25", []Level{lv(25), lv(25)}, []uint32{50, 50}},
		// Three levels.
		{"100/100/100", []Level{lv(100), lv(100), lv(100)}, []uint32{100, 0, 0}},
		{"72/72/100", []Level{lv(72), lv(72), lv(100)}, []uint32{100, 0, 0}},
		{"71/71/100", []Level{lv(71), lv(71), lv(100)}, []uint32{99, 1, 0}},
		{"50/50/100", []Level{lv(50), lv(50), lv(100)}, []uint32{70, 30, 0}},
		{"25/100/100", []Level{lv(25), lv(100), lv(100)}, []uint32{35, 65, 0}},
		{"25/25/100", []Level{lv(25), lv(25), lv(100)}, []uint32{35, 35, 30}},
		// The doc prints 36/36/28 (real-number rounding); the code's integer
		// arithmetic gives 35/35/28 and hands the 2% remainder to the first
		// healthy priority.
		{"25/25/20", []Level{lv(25), lv(25), lv(20)}, []uint32{37, 35, 28}},
		// The normalization example in the text: health {20, 30} → {40, 60}.
		{"health 20/30", []Level{{Total: 140, Healthy: 20}, {Total: 140, Healthy: 30}}, []uint32{40, 60}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := Compute(c.levels, DefaultOverprovisioning, 0)
			assert.Equal(t, c.want, l.Healthy)
			assert.False(t, l.TotalPanic)
		})
	}
}

func TestOverprovisioningFromAssignment(t *testing.T) {
	// Consul-style failover bands: a huge factor keeps P0 at 100% until
	// its last host fails.
	l := Compute([]Level{{Total: 10, Healthy: 1}, lv(100)}, 100000, 0)
	assert.Equal(t, []uint32{100, 0}, l.Healthy)
	// Factor 100: no overprovisioning, load follows health exactly.
	l = Compute([]Level{lv(80), lv(100)}, 100, 0)
	assert.Equal(t, []uint32{80, 20}, l.Healthy)
}

func TestPanicThreshold(t *testing.T) {
	// Envoy's default 50%: a single priority with 40% healthy is in panic
	// (hosts chosen ignoring health) but keeps its load.
	l := Compute([]Level{lv(40)}, DefaultOverprovisioning, DefaultPanicThreshold)
	assert.Equal(t, []bool{true}, l.Panic)
	assert.True(t, l.TotalPanic)
	assert.Equal(t, []uint32{100}, l.Healthy)
	// 50% is not below the threshold.
	l = Compute([]Level{lv(50)}, DefaultOverprovisioning, DefaultPanicThreshold)
	assert.Equal(t, []bool{false}, l.Panic)
	// Normalized total availability 100 disables panic everywhere.
	l = Compute([]Level{lv(10), lv(100)}, DefaultOverprovisioning, DefaultPanicThreshold)
	assert.Equal(t, []bool{false, false}, l.Panic)
	assert.Equal(t, []uint32{14, 86}, l.Healthy)
	// Both levels in panic: load by host counts (total panic).
	l = Compute([]Level{{Total: 3, Healthy: 1}, {Total: 1}}, DefaultOverprovisioning, DefaultPanicThreshold)
	assert.True(t, l.TotalPanic)
	assert.Equal(t, []uint32{75, 25}, l.Healthy)
	// One in panic, one not: not total panic, loads from health.
	// health 84 and 14, NTA 98 → 85 and 14, remainder 1 to P0.
	l = Compute([]Level{{Total: 10, Healthy: 6}, {Total: 10, Healthy: 1}}, DefaultOverprovisioning, DefaultPanicThreshold)
	assert.Equal(t, []bool{false, true}, l.Panic)
	assert.False(t, l.TotalPanic)
	assert.Equal(t, []uint32{86, 14}, l.Healthy)
	// Istio's 0 (panic disabled) with nothing healthy: all load on P0,
	// whose empty healthy set answers "no healthy upstream".
	l = Compute([]Level{lv(0), lv(0)}, DefaultOverprovisioning, 0)
	assert.Equal(t, []bool{false, false}, l.Panic)
	assert.Equal(t, []uint32{100, 0}, l.Healthy)
	// Envoy's default with nothing healthy: total panic, spread by size.
	l = Compute([]Level{{Total: 1}, {Total: 1}}, DefaultOverprovisioning, DefaultPanicThreshold)
	assert.True(t, l.TotalPanic)
	assert.Equal(t, []uint32{50, 50}, l.Healthy)
}

func TestDegradedLoad(t *testing.T) {
	// P0 half healthy, half degraded; P1 fully healthy: healthy first in
	// priority order, then degraded.
	l := Compute([]Level{{Total: 10, Healthy: 5, Degraded: 5}, {Total: 10, Healthy: 10}}, DefaultOverprovisioning, 0)
	assert.Equal(t, []uint32{70, 30}, l.Healthy)
	assert.Equal(t, []uint32{0, 0}, l.Degraded)
	l = Compute([]Level{{Total: 10, Healthy: 2, Degraded: 5}}, DefaultOverprovisioning, 0)
	// health 28, degraded 70, NTA 98: 28*100/98 = 28, 70*100/98 = 71,
	// the 1% remainder goes to the first healthy priority.
	assert.Equal(t, []uint32{29}, l.Healthy)
	assert.Equal(t, []uint32{71}, l.Degraded)
}

func TestChoose(t *testing.T) {
	healthy, degraded := []uint32{70, 30}, []uint32{0, 0}
	counts := map[int]int{}
	for d := uint64(0); d < 100; d++ {
		p, deg := Choose(d, healthy, degraded)
		assert.False(t, deg)
		counts[p]++
	}
	assert.Equal(t, map[int]int{0: 70, 1: 30}, counts)
	p, deg := Choose(99, []uint32{50, 0}, []uint32{0, 50})
	assert.Equal(t, 1, p)
	assert.True(t, deg)
}

func TestEffectiveLocalityWeight(t *testing.T) {
	assert.InDelta(t, 10, EffectiveLocalityWeight(10, 10, 10, 140), 1e-9)
	assert.InDelta(t, 10, EffectiveLocalityWeight(10, 8, 10, 140), 1e-9) // 1.4*0.8 ≥ 1
	assert.InDelta(t, 7, EffectiveLocalityWeight(10, 5, 10, 140), 1e-9)  // 1.4*0.5 = 0.7
	assert.InDelta(t, 0.84, EffectiveLocalityWeight(1, 3, 5, 140), 1e-9) // not truncated
	assert.Zero(t, EffectiveLocalityWeight(10, 0, 10, 140))
	assert.Zero(t, EffectiveLocalityWeight(10, 0, 0, 140))
}
