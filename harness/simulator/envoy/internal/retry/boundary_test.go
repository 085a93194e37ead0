package retry

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestStatusClassEdges: 5xx is 500-599, the gateway errors 502-504.
func TestStatusClassEdges(t *testing.T) {
	for _, c := range []struct {
		on     On
		status int
		want   bool
	}{
		{On5xx, 599, true}, {On5xx, 600, false}, {On5xx, 499, false},
		{OnGatewayError, 501, false}, {OnGatewayError, 502, true}, {OnGatewayError, 504, true}, {OnGatewayError, 505, false},
	} {
		assert.Equal(t, c.want, FromHeaders(c.on, nil, Response{Status: c.status, GrpcStatus: -1}), "%d", c.status)
	}
}

// TestRetriableHeaders: retriable-headers retries only a response whose
// headers matched.
func TestRetriableHeaders(t *testing.T) {
	assert.True(t, FromHeaders(OnRetriableHeaders, nil, Response{Status: 200, GrpcStatus: -1, HeadersMatch: true}))
	assert.False(t, FromHeaders(OnRetriableHeaders, nil, Response{Status: 200, GrpcStatus: -1}))
	assert.False(t, FromHeaders(On5xx, nil, Response{Status: 200, GrpcStatus: -1, HeadersMatch: true}))
}
