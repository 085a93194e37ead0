package priority

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRemainderToFirstAvailable: the rounding remainder goes to the first
// priority with availability, not to an unavailable P0.
func TestRemainderToFirstAvailable(t *testing.T) {
	// Health: P0 0, P1 140*2/7 = 40, P2 140*3/14 = 30; loads 57 + 42 = 99.
	l := Compute([]Level{{Total: 1}, {Total: 7, Healthy: 2}, {Total: 14, Healthy: 3}}, DefaultOverprovisioning, 0)
	assert.Equal(t, []uint32{0, 58, 42}, l.Healthy)
}

// TestTotalPanicByHostCounts: in total panic the load follows host counts
// and the remainder goes to the first priority that has hosts.
func TestTotalPanicByHostCounts(t *testing.T) {
	l := Compute([]Level{{Total: 0}, {Total: 3}, {Total: 6}}, DefaultOverprovisioning, 50)
	assert.True(t, l.TotalPanic)
	assert.Equal(t, []uint32{0, 34, 66}, l.Healthy)
}

func TestInPanicEdges(t *testing.T) {
	assert.True(t, InPanic(Level{}, 50), "an empty level has nothing healthy")
	assert.True(t, InPanic(Level{Total: 10, Healthy: 2, Degraded: 2}, 50), "20 % + 20 % < 50 %")
	assert.False(t, InPanic(Level{Total: 10, Healthy: 3, Degraded: 2}, 50), "30 % + 20 % is not below 50 %")
}
