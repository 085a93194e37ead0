package retry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Expectations ported from Envoy's test/common/router/
// retry_state_impl_test.cc (RouterRetryStateImplTest.*). The tests set
// retry_on through x-envoy-retry-on / x-envoy-retry-grpc-on; the model
// reads the same tokens from the route's retry_on.

const rsTest = "test/common/router/retry_state_impl_test.cc RouterRetryStateImplTest."

func TestConformanceRetryOn(t *testing.T) {
	resp := func(status, grpc int) Response { return Response{Status: status, GrpcStatus: grpc} }
	cases := []struct {
		envoy string
		on    string
		codes []uint32
		resp  *Response   // a response, or
		reset ResetReason // a reset (started: bytes were sent)
		want  bool
	}{
		{envoy: "PolicyRefusedStream", on: "refused-stream", reset: RemoteRefusedStreamReset, want: true},
		{envoy: "Policy5xxResetOverflow", on: "5xx", reset: Overflow, want: false},
		{envoy: "Policy5xxRemoteReset", on: "5xx", reset: RemoteReset, want: true},
		{envoy: "Policy5xxRemote503", on: "5xx", resp: &Response{Status: 503, GrpcStatus: -1}, want: true},
		{envoy: "Policy5xxRemote503Overloaded", on: "5xx", resp: &Response{Status: 503, GrpcStatus: -1, Overloaded: true}, want: false},
		{envoy: "PolicyResourceExhaustedRemoteRateLimited", on: "resource-exhausted", resp: &Response{Status: 200, GrpcStatus: 8, EnvoyRateLimited: true}, want: false},
		{envoy: "PolicyGatewayErrorRemote502", on: "gateway-error", resp: &Response{Status: 502, GrpcStatus: -1}, want: true},
		{envoy: "PolicyGatewayErrorRemote503", on: "gateway-error", resp: &Response{Status: 503, GrpcStatus: -1}, want: true},
		{envoy: "PolicyGatewayErrorRemote504", on: "gateway-error", resp: &Response{Status: 504, GrpcStatus: -1}, want: true},
		{envoy: "PolicyGatewayErrorResetOverflow", on: "gateway-error", reset: Overflow, want: false},
		{envoy: "PolicyGatewayErrorRemoteReset", on: "gateway-error", reset: RemoteReset, want: true},
		{envoy: "PolicyGrpcCancelled", on: "cancelled", resp: ptr(resp(200, 1)), want: true},
		{envoy: "PolicyGrpcDeadlineExceeded", on: "deadline-exceeded", resp: ptr(resp(200, 4)), want: true},
		{envoy: "PolicyGrpcResourceExhausted", on: "resource-exhausted", resp: ptr(resp(200, 8)), want: true},
		{envoy: "PolicyGrpcUnavilable", on: "unavailable", resp: ptr(resp(200, 14)), want: true},
		{envoy: "PolicyGrpcInternal", on: "internal", resp: ptr(resp(200, 13)), want: true},
		{envoy: "Policy5xxRemote200RemoteReset", on: "5xx", resp: &Response{Status: 200, GrpcStatus: -1}, want: false},
		{envoy: "Policy5xxRemote200RemoteReset", on: "5xx", reset: RemoteReset, want: true},
		{envoy: "PolicyConnectFailureOtherReset", on: "connect-failure", reset: RemoteReset, want: false},
		{envoy: "PolicyConnectFailureResetConnectFailure", on: "connect-failure", reset: ConnectionFailure, want: true},
		{envoy: "PolicyRetriable4xxRetry", on: "retriable-4xx", resp: &Response{Status: 409, GrpcStatus: -1}, want: true},
		{envoy: "PolicyRetriable4xxNoRetry", on: "retriable-4xx", resp: &Response{Status: 400, GrpcStatus: -1}, want: false},
		{envoy: "PolicyRetriable4xxReset", on: "retriable-4xx", reset: RemoteReset, want: false},
		{envoy: "RetriableStatusCodes", on: "retriable-status-codes", codes: []uint32{409}, resp: &Response{Status: 409, GrpcStatus: -1}, want: true},
		{envoy: "RetriableStatusCodesUpstreamReset", on: "retriable-status-codes", codes: []uint32{409}, reset: RemoteReset, want: false},
		{envoy: "PolicyResetRemoteReset", on: "reset", reset: RemoteReset, want: true},
		{envoy: "RouteConfigNoHeaderConfig", on: "connect-failure", reset: ConnectionFailure, want: true},
	}
	for i, c := range cases {
		on, err := Parse(c.on)
		assert.NoError(t, err)
		var got bool
		if c.resp != nil {
			got = FromHeaders(on, c.codes, *c.resp)
		} else {
			got = FromReset(on, c.reset, c.reset != ConnectionFailure)
		}
		assert.Equal(t, c.want, got, "row %d: %s%s", i, rsTest, c.envoy)
	}
}

func ptr[T any](v T) *T { return &v }

// ParseRetryOn and ParseRetryGrpcOn: spaces around tokens are fine, an
// unknown token is reported and the known ones kept.
func TestConformanceParseRetryOn(t *testing.T) {
	cases := []struct {
		envoy string
		in    string
		want  On
		ok    bool
	}{
		{"ParseRetryOn", "5xx,gateway-error,connect-failure", On5xx | OnGatewayError | OnConnectFailure, true},
		{"ParseRetryOn", "xxx,gateway-error,connect-failure", OnGatewayError | OnConnectFailure, false},
		{"ParseRetryOn", " 5xx,gateway-error ,  connect-failure   ", On5xx | OnGatewayError | OnConnectFailure, true},
		{"ParseRetryOn", " 5 xx,gateway-error ,  connect-failure   ", OnGatewayError | OnConnectFailure, false},
		{"ParseRetryGrpcOn", "cancelled,deadline-exceeded,resource-exhausted", OnGrpcCancelled | OnGrpcDeadlineExceeded | OnGrpcResourceExhausted, true},
		{"ParseRetryGrpcOn", "cancelled,deadline-exceeded,resource-exhaust", OnGrpcCancelled | OnGrpcDeadlineExceeded, false},
		{"ParseRetryGrpcOn", "   cancelled,deadline-exceeded   ,   resource-exhausted   ", OnGrpcCancelled | OnGrpcDeadlineExceeded | OnGrpcResourceExhausted, true},
		{"ParseRetryGrpcOn", "   cancelled,deadline-exceeded   ,   resource- exhausted   ", OnGrpcCancelled | OnGrpcDeadlineExceeded, false},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		assert.Equal(t, c.want, got, "%s%s %q", rsTest, c.envoy, c.in)
		assert.Equal(t, c.ok, err == nil, "%s%s %q", rsTest, c.envoy, c.in)
	}
}

// Backoff, CustomBackOffInterval, CustomBackOffIntervalDefaultMax: the
// timer armed for each retry given the random draw.
func TestConformanceBackoff(t *testing.T) {
	cases := []struct {
		envoy     string
		base, max time.Duration
		draws     []uint64
		want      []time.Duration
	}{
		{"Backoff", 0, 0, []uint64{190, 190, 190}, []time.Duration{15, 40, 90}},
		{"CustomBackOffInterval", 100 * time.Millisecond, 1200 * time.Millisecond, []uint64{149, 350, 751, 2399, 2399}, []time.Duration{49, 150, 351, 799, 1199}},
		{"CustomBackOffIntervalDefaultMax", 100 * time.Millisecond, 0, []uint64{149, 350, 751, 2999, 2999}, []time.Duration{49, 150, 351, 599, 999}},
	}
	for _, c := range cases {
		b := NewBackoff(c.base, c.max)
		for i, d := range c.draws {
			assert.Equal(t, c.want[i]*time.Millisecond, b.Next(d), "%s%s retry %d", rsTest, c.envoy, i+1)
		}
	}
}
