package priority

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Expectations ported from Envoy's own tests. Each row names the Envoy test
// it comes from; the host sets are written as Level{Total, Excluded,
// Healthy, Degraded}.

const lbTest = "test/common/upstream/load_balancer_impl_test.cc"

func hs(total, healthy uint64) Level { return Level{Total: total, Healthy: healthy} }

func TestConformancePriorityLoad(t *testing.T) {
	const (
		gentle = lbTest + " LoadBalancerBaseTest.GentleFailover"
		extra  = lbTest + " LoadBalancerBaseTest.GentleFailoverWithExtraLevels"
		opfT   = lbTest + " LoadBalancerBaseTest.OverProvisioningFactor"
		sel    = lbTest + " LoadBalancerBaseTest.PrioritySelection"
	)
	cases := []struct {
		envoy    string
		levels   []Level
		opf      uint64 // 0: the default 140
		panic    uint64 // panic threshold; 0 means the default 50 unless noPanic
		noPanic  bool
		healthy  []uint32
		degraded []uint32 // nil: all zero
		inPanic  []bool   // nil: none
	}{
		{envoy: gentle, levels: []Level{hs(1, 1), hs(1, 1)}, healthy: []uint32{100, 0}},
		{envoy: gentle, levels: []Level{hs(2, 1), hs(2, 1)}, healthy: []uint32{70, 30}},
		{envoy: gentle, levels: []Level{hs(4, 1), hs(2, 2)}, healthy: []uint32{35, 65}},
		{envoy: gentle, levels: []Level{hs(4, 1), hs(4, 1)}, healthy: []uint32{50, 50}, inPanic: []bool{true, true}},
		// Excluded hosts do not count: 1 healthy of 4 with 3 excluded is 100%.
		{envoy: gentle, levels: []Level{{Total: 4, Excluded: 3, Healthy: 1}, hs(5, 1)}, healthy: []uint32{100, 0}},
		// Total panic: shares by host count, excluded hosts included.
		{envoy: gentle, levels: []Level{{Total: 4, Excluded: 4}, hs(4, 1)}, healthy: []uint32{50, 50}, inPanic: []bool{true, true}},
		{envoy: gentle, levels: []Level{{Total: 4, Excluded: 1}, {Total: 6, Excluded: 2, Healthy: 1}}, healthy: []uint32{40, 60}, inPanic: []bool{true, true}},
		{envoy: opfT, levels: []Level{hs(4, 2), hs(4, 2)}, healthy: []uint32{70, 30}},
		{envoy: opfT, levels: []Level{hs(4, 2), hs(4, 2)}, opf: 100, healthy: []uint32{50, 50}},
		{envoy: extra, levels: []Level{hs(1, 1), hs(1, 1), hs(1, 1)}, healthy: []uint32{100, 0, 0}},
		{envoy: extra, levels: []Level{hs(2, 1), hs(2, 1), hs(2, 1)}, healthy: []uint32{70, 30, 0}},
		{envoy: extra, levels: []Level{hs(4, 1), hs(2, 2), hs(2, 1)}, healthy: []uint32{35, 65, 0}},
		{envoy: extra, levels: []Level{hs(4, 1), hs(4, 1), hs(4, 1)}, healthy: []uint32{35, 35, 30}},
		{envoy: extra, levels: []Level{hs(5, 1), hs(5, 1), hs(5, 1)}, healthy: []uint32{34, 33, 33}, inPanic: []bool{true, true, true}},
		{envoy: extra, levels: []Level{hs(5, 0), hs(5, 0), hs(5, 5)}, healthy: []uint32{0, 0, 100}},
		{envoy: extra, levels: []Level{hs(5, 0), hs(5, 0), hs(5, 4)}, healthy: []uint32{0, 0, 100}},
		{envoy: extra, levels: []Level{hs(5, 0), hs(5, 0), hs(5, 2)}, healthy: []uint32{34, 33, 33}, inPanic: []bool{true, true, true}},
		{envoy: extra, levels: []Level{{Total: 5, Degraded: 5}, {Total: 5, Healthy: 2, Degraded: 2}, hs(5, 2)}, healthy: []uint32{0, 56, 44}},
		{envoy: extra, levels: []Level{hs(5, 0), hs(3, 0), hs(2, 0)}, healthy: []uint32{50, 30, 20}, inPanic: []bool{true, true, true}},
		{envoy: extra, levels: []Level{hs(5, 0), hs(6, 2), hs(3, 1)}, healthy: []uint32{37, 42, 21}, inPanic: []bool{true, true, true}},
		{envoy: extra, levels: []Level{{Total: 5, Degraded: 1}, {Total: 5, Degraded: 5}, hs(5, 1)}, healthy: []uint32{0, 0, 28}, degraded: []uint32{28, 44, 0}},
		{envoy: extra, levels: []Level{hs(5, 0), {Total: 5, Degraded: 2}, {Total: 5, Degraded: 1}}, noPanic: true, healthy: []uint32{0, 0, 0}, degraded: []uint32{0, 67, 33}},
		{envoy: extra, levels: []Level{hs(5, 0), {Total: 5, Degraded: 2}, {Total: 5, Degraded: 1}}, healthy: []uint32{34, 33, 33}, inPanic: []bool{true, true, true}},
		{envoy: extra, levels: []Level{hs(3, 0), hs(3, 0), hs(3, 0)}, healthy: []uint32{34, 33, 33}, inPanic: []bool{true, true, true}},
		{envoy: extra, levels: []Level{hs(0, 0), hs(6, 0), hs(3, 0)}, healthy: []uint32{0, 67, 33}, inPanic: []bool{true, true, true}},
		{envoy: sel, levels: []Level{hs(1, 0), hs(1, 0)}, healthy: []uint32{50, 50}, inPanic: []bool{true, true}},
		{envoy: sel, levels: []Level{hs(1, 0), hs(2, 0)}, healthy: []uint32{34, 66}, inPanic: []bool{true, true}},
		{envoy: sel, levels: []Level{hs(1, 0), hs(2, 0), hs(1, 1)}, healthy: []uint32{0, 0, 100}},
		{envoy: sel, levels: []Level{hs(1, 1), hs(2, 0), hs(1, 1)}, healthy: []uint32{100, 0, 0}},
	}
	for i, c := range cases {
		opf := c.opf
		if opf == 0 {
			opf = DefaultOverprovisioning
		}
		threshold := uint64(DefaultPanicThreshold)
		if c.noPanic {
			threshold = 0
		}
		l := Compute(c.levels, opf, threshold)
		deg := c.degraded
		if deg == nil {
			deg = make([]uint32, len(c.levels))
		}
		inPanic := c.inPanic
		if inPanic == nil {
			inPanic = make([]bool, len(c.levels))
		}
		assert.Equal(t, c.healthy, l.Healthy, "row %d: %s", i, c.envoy)
		assert.Equal(t, deg, l.Degraded, "row %d: %s", i, c.envoy)
		assert.Equal(t, inPanic, l.Panic, "row %d: %s", i, c.envoy)
	}
}

// LoadBalancerBaseTest.PrioritySelectionWithFilter: a load that excludes P0
// picks P1, for healthy and for degraded load.
func TestConformancePrioritySelectionWithFilter(t *testing.T) {
	for draw := range uint64(100) {
		p, deg := Choose(draw, []uint32{0, 100}, []uint32{0, 0})
		assert.Equal(t, 1, p)
		assert.False(t, deg)
		p, deg = Choose(draw, []uint32{0, 0}, []uint32{0, 100})
		assert.Equal(t, 1, p)
		assert.True(t, deg)
	}
}

const ppTest = "test/extensions/retry/priority/previous_priorities/config_test.cc"

// RetryPriorityTest: the load after each attempted host. want nil means
// the original load (ok false, or the recomputed load equals it).
func TestConformancePreviousPriorities(t *testing.T) {
	type step struct {
		attempt  int // priority of the host attempted before this check (-1: none)
		healthy  []uint32
		degraded []uint32
	}
	cases := []struct {
		envoy  string
		freq   int
		levels []Level
		// original is the healthy load the router passes in (the test's
		// given load; the degraded one is all zero) and the plugin falls
		// back to.
		original []uint32
		steps    []step
	}{
		{envoy: ppTest + " RetryPriorityTest.DefaultFrequency", freq: 1, levels: []Level{hs(2, 2), hs(2, 2)},
			original: []uint32{100, 0}, steps: []step{
				{-1, []uint32{100, 0}, []uint32{0, 0}},
				{0, []uint32{0, 100}, []uint32{0, 0}},
				{1, []uint32{100, 0}, []uint32{0, 0}},
			}},
		{envoy: ppTest + " RetryPriorityTest.NoHealthyUpstreams", freq: 1, levels: []Level{hs(10, 0), hs(10, 0), hs(10, 0)},
			original: []uint32{0, 0, 0}, steps: []step{
				{-1, []uint32{0, 0, 0}, []uint32{0, 0, 0}},
				{0, []uint32{0, 0, 0}, []uint32{0, 0, 0}},
			}},
		{envoy: ppTest + " RetryPriorityTest.DefaultFrequencyUnhealthyPriorities", freq: 1, levels: []Level{hs(10, 3), hs(10, 2), hs(10, 10)},
			original: []uint32{42, 28, 30}, steps: []step{
				{-1, []uint32{42, 28, 30}, []uint32{0, 0, 0}},
				{0, []uint32{0, 28, 72}, []uint32{0, 0, 0}},
				{1, []uint32{0, 0, 100}, []uint32{0, 0, 0}},
				// All tried: start over, back to the original spread.
				{2, []uint32{42, 28, 30}, []uint32{0, 0, 0}},
			}},
		{envoy: ppTest + " RetryPriorityTest.DefaultFrequencyUnhealthyPrioritiesDegradedLoad", freq: 1,
			levels:   []Level{{Total: 10, Degraded: 3}, {Total: 10, Degraded: 2}, {Total: 10, Degraded: 10}},
			original: []uint32{0, 0, 0}, steps: []step{
				{0, []uint32{0, 0, 0}, []uint32{0, 28, 72}},
				{1, []uint32{0, 0, 0}, []uint32{0, 0, 100}},
			}},
		{envoy: ppTest + " RetryPriorityTest.DefaultFrequencyUnhealthyPrioritiesDegradedLoadSpillover", freq: 1,
			levels:   []Level{{Total: 10, Degraded: 3}, {Total: 10, Healthy: 9, Degraded: 1}, hs(10, 2)},
			original: []uint32{0, 100, 0}, steps: []step{
				{1, []uint32{0, 0, 40}, []uint32{60, 0, 0}},
				{2, []uint32{0, 0, 0}, []uint32{100, 0, 0}},
				{0, []uint32{0, 100, 0}, []uint32{0, 0, 0}},
			}},
		{envoy: ppTest + " RetryPriorityTest.OverridenFrequency", freq: 2, levels: []Level{hs(2, 2), hs(2, 2)},
			original: []uint32{100, 0}, steps: []step{
				{0, []uint32{100, 0}, []uint32{0, 0}},
				{0, []uint32{0, 100}, []uint32{0, 0}},
			}},
	}
	for _, c := range cases {
		t.Run(c.envoy, func(t *testing.T) {
			p := &PreviousPriorities{UpdateFrequency: c.freq}
			for i, s := range c.steps {
				if s.attempt >= 0 {
					p.OnHostAttempted(s.attempt)
				}
				h, d, ok := p.Load(c.levels, DefaultOverprovisioning)
				if !ok {
					h, d = c.original, make([]uint32, len(c.levels))
				}
				assert.Equal(t, s.healthy, h, "step %d healthy", i)
				assert.Equal(t, s.degraded, d, "step %d degraded", i)
			}
		})
	}
}

// Istio's remote-locality failover (update_frequency 2, P0 and P1 healthy):
// the attempted count restarts when every priority was tried, so attempts
// 1-7 go P0 P0 P1 P1 P0 P0 P1 (previous_priorities.cc clears
// attempted_hosts_ with the excluded priorities).
func TestConformancePreviousPrioritiesStartsOver(t *testing.T) {
	levels := []Level{hs(2, 2), hs(2, 2)}
	orig := Compute(levels, DefaultOverprovisioning, DefaultPanicThreshold)
	p := &PreviousPriorities{UpdateFrequency: 2}
	var got []int
	for range 7 {
		h, d, ok := p.Load(levels, DefaultOverprovisioning)
		if !ok {
			h, d = orig.Healthy, orig.Degraded
		}
		pr, _ := Choose(0, h, d)
		got = append(got, pr)
		p.OnHostAttempted(pr)
	}
	assert.Equal(t, []int{0, 0, 1, 1, 0, 0, 1}, got)
}
