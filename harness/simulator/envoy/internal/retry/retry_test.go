package retry

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	on, err := Parse("connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes")
	require.NoError(t, err)
	assert.Equal(t, OnConnectFailure|OnRefusedStream|OnGrpcUnavailable|OnGrpcCancelled|OnRetriableStatusCodes, on)
	_, err = Parse("5xx, gateway-error")
	require.NoError(t, err)
	on, err = Parse("5xx,bogus,reset")
	assert.ErrorContains(t, err, `"bogus"`)
	assert.Equal(t, On5xx|OnReset, on)
}

// The retry_on classification of router_filter.rst, as wouldRetryFromHeaders
// and wouldRetryFromReset implement it.
func TestClassificationTable(t *testing.T) {
	istio := "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
	type ev struct {
		name   string
		resp   *Response
		reset  ResetReason
		starts bool
	}
	resp := func(st int) *Response { return &Response{Status: st, GrpcStatus: -1} }
	grpc := func(gs int) *Response { return &Response{Status: 200, GrpcStatus: gs} }
	events := []ev{
		{name: "500", resp: resp(500)},
		{name: "503", resp: resp(503)},
		{name: "504", resp: resp(504)},
		{name: "409", resp: resp(409)},
		{name: "429", resp: resp(429)},
		{name: "200", resp: resp(200)},
		{name: "grpc-unavailable", resp: grpc(14)},
		{name: "grpc-cancelled", resp: grpc(1)},
		{name: "grpc-internal", resp: grpc(13)},
		{name: "ratelimited-503", resp: &Response{Status: 503, GrpcStatus: -1, EnvoyRateLimited: true}},
		{name: "connect-failure", reset: ConnectionFailure},
		{name: "connect-timeout", reset: ConnectionTimeout},
		{name: "remote-reset", reset: RemoteReset, starts: true},
		{name: "termination", reset: ConnectionTermination, starts: true},
		{name: "refused-stream", reset: RemoteRefusedStreamReset, starts: true},
		{name: "per-try-timeout", reset: LocalReset, starts: true},
		{name: "overflow", reset: Overflow},
	}
	// Which events each policy retries.
	table := []struct {
		on    string
		codes []uint32
		want  []string
	}{
		{"5xx", nil, []string{"500", "503", "504", "connect-failure", "connect-timeout", "remote-reset", "termination", "refused-stream", "per-try-timeout"}},
		{"gateway-error", nil, []string{"503", "504", "connect-failure", "connect-timeout", "remote-reset", "termination", "refused-stream", "per-try-timeout"}},
		{"reset", nil, []string{"connect-failure", "connect-timeout", "remote-reset", "termination", "refused-stream", "per-try-timeout"}},
		{"reset-before-request", nil, []string{"connect-failure", "connect-timeout"}},
		{"connect-failure", nil, []string{"connect-failure", "connect-timeout"}},
		{"refused-stream", nil, []string{"refused-stream"}},
		{"retriable-4xx", nil, []string{"409"}},
		{"retriable-status-codes", []uint32{503, 429}, []string{"503", "429"}},
		{"envoy-ratelimited", nil, []string{"ratelimited-503"}},
		{"unavailable,internal", nil, []string{"grpc-unavailable", "grpc-internal"}},
		// Istio >= 1.24's default: no 503.
		{istio, nil, []string{"grpc-unavailable", "grpc-cancelled", "connect-failure", "connect-timeout", "refused-stream"}},
		// Istio before 1.24 (or the 1.23 compatibility profile): 503 too.
		{istio, []uint32{503}, []string{"503", "grpc-unavailable", "grpc-cancelled", "connect-failure", "connect-timeout", "refused-stream"}},
	}
	for _, row := range table {
		t.Run(fmt.Sprintf("%s%v", row.on, row.codes), func(t *testing.T) {
			on, err := Parse(row.on)
			require.NoError(t, err)
			var got []string
			for _, e := range events {
				var r bool
				if e.resp != nil {
					r = FromHeaders(on, row.codes, *e.resp)
				} else {
					r = FromReset(on, e.reset, e.starts)
				}
				if r {
					got = append(got, e.name)
				}
			}
			assert.Equal(t, row.want, got)
		})
	}
}

// Fully jittered back-off: the n-th retry waits U[0, min(base*2^(n-1), max)).
func TestBackoffBounds(t *testing.T) {
	want := []time.Duration{25, 50, 100, 200, 250, 250}
	for i, w := range want {
		assert.Equal(t, w*time.Millisecond, Bound(25*time.Millisecond, 0, i+1), "retry %d", i+1)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for range 200 {
		b := NewBackoff(25*time.Millisecond, 0)
		for i, w := range want {
			d := b.Next(rng.Uint64())
			assert.GreaterOrEqual(t, d, time.Duration(0))
			assert.Less(t, d, w*time.Millisecond, "retry %d", i+1)
		}
	}
	// The largest draw reaches bound-1 ms.
	b := NewBackoff(25*time.Millisecond, 0)
	assert.Equal(t, 24*time.Millisecond, b.Next(24))
	// Custom base 100ms (Istio's backoff field): max 1s.
	assert.Equal(t, time.Second, Bound(100*time.Millisecond, 0, 10))
	assert.Equal(t, 400*time.Millisecond, Bound(100*time.Millisecond, 0, 3))
}
