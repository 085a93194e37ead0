package retry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The interval jumps to the maximum once doubling it would reach beyond
// half the maximum, halves taken in whole milliseconds
// (backoff_strategy.cc JitteredExponentialBackOffStrategy::nextBackOffMs:
// the next interval doubles only while it is below max / 2): with base
// 3 ms and max 13 ms the intervals are 3, 6, then 13 (6 is 13 / 2, so it
// does not double to 12), so a draw of 77 gives 77 mod 3, 6, 13 and 13:
// 2, 5, 12, 12 ms (and 5 from an interval of 12).
func TestBackoffJumpsToTheMaximumAtHalf(t *testing.T) {
	b := NewBackoff(3*time.Millisecond, 13*time.Millisecond)
	var got []time.Duration
	for range 4 {
		got = append(got, b.Next(77))
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{2 * ms, 5 * ms, 12 * ms, 12 * ms}, got)
}
