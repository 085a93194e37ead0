package retry

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/plugins/config"
)

// TestStatusCodeRange: retryOn codes count from 100 to 599, both ends
// included; numbers outside are not status codes and retry nothing.
func TestStatusCodeRange(t *testing.T) {
	for _, c := range []struct {
		code int
		want bool
	}{{99, false}, {100, true}, {599, true}, {600, false}} {
		p := policy(t, strconv.Itoa(c.code))
		assert.Equal(t, c.want, p.Retriable(c.code, 0, false), "retryOn %d", c.code)
	}
}

func TestMaxBodyDefault(t *testing.T) {
	p, err := NewPolicy(config.Retry{Attempts: 1})
	require.NoError(t, err)
	assert.Equal(t, uint32(config.DefaultMaxBodyBytes), p.MaxBody)
	p, err = NewPolicy(config.Retry{Attempts: 1, MaxBodyBytes: 1234})
	require.NoError(t, err)
	assert.Equal(t, uint32(1234), p.MaxBody)
}

// TestCodeEdges: 599 is a 5xx; codes past the table (an upstream may
// send any three digits) are never retriable status codes.
func TestCodeEdges(t *testing.T) {
	fivexx := policy(t, "5xx")
	assert.True(t, fivexx.Retriable(599, 0, false))
	assert.False(t, fivexx.Retriable(600, 0, false))
	codes := policy(t, "retriable-status-codes", "503")
	for _, code := range []int{639, 640, 999} {
		assert.False(t, codes.Retriable(code, 0, false), "%d", code)
	}
}
