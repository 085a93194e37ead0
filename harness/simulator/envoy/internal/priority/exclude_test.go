package priority

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// With nothing excluded the load is spread by availability and the
// rounding's remainder goes to the first available priority
// (previous_priorities.cc adjustedAvailability, then the remainder rule of
// load_balancer_impl.cc recalculatePerPriorityState): three priorities of
// 2 healthy hosts in 10 are 28 % available each (140 × 2 / 10), 84 in
// all; each gets 28 × 100 / 84 = 33, and the 1 left goes to the first. A
// nil exclusion list excludes nothing.
func TestExcludeNothingGivesTheRemainderToTheFirst(t *testing.T) {
	levels := []Level{hs(10, 2), hs(10, 2), hs(10, 2)}
	healthy, degraded, ok := ExcludeAttempted(levels, 140, nil)
	assert.True(t, ok)
	assert.Equal(t, []uint32{34, 33, 33}, healthy)
	assert.Equal(t, []uint32{0, 0, 0}, degraded)
}

// A host attempted at a priority the cluster no longer has (an EDS update
// removed the level during the request's retries) excludes nothing: two
// levels 28 % available each split the load evenly.
func TestAttemptedPriorityGoneSinceExcludesNothing(t *testing.T) {
	p := &PreviousPriorities{UpdateFrequency: 1}
	p.OnHostAttempted(2)
	healthy, degraded, ok := p.Load([]Level{hs(10, 2), hs(10, 2)}, 140)
	assert.True(t, ok)
	assert.Equal(t, []uint32{50, 50}, healthy)
	assert.Equal(t, []uint32{0, 0}, degraded)
}
