package envoy

import (
	"strings"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Decisions found by the full mutation run of issue 19 (BENCHMARKS.md,
// "Mutation testing"), each observed on one or two requests.

// reset-before-request retries only a reset that came before the request
// went upstream (retry_state_impl.cc wouldRetryFromReset: the
// upstream_request_started argument, false for a pool failure, that is a
// connect failure or connect timeout): a refused connect and a connect
// timeout are retried on the second host, a remote reset after the
// request was sent is the answer (503 UR).
func TestResetBeforeRequestRetriesOnlyUnsentRequests(t *testing.T) {
	for _, c := range []struct {
		name    string
		first   Result
		retried bool
		flags   []string
	}{
		{"connect failure", Result{Outcome: OutcomeConnectFailure, Latency: time.Millisecond}, true, nil},
		{"connect timeout", Result{Outcome: OutcomeConnectTimeout}, true, nil},
		{"remote reset", Result{Outcome: OutcomeReset, Latency: time.Millisecond}, false, []string{"UR"}},
	} {
		rp := &routev3.RetryPolicy{RetryOn: "reset-before-request", NumRetries: wrapperspb.UInt32(1),
			RetryHostPredicate: []*routev3.RetryPolicy_RetryHostPredicate{{Name: "envoy.retry_host_predicates.previous_hosts"}}}
		s := snap(rp, 0, nil, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})
		p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": c.first}))
		r := run(t, p, clock)
		if c.retried {
			assert.Equal(t, 200, r.Status, c.name)
			assert.Equal(t, []string{"10.0.0.1:80 " + c.first.Outcome, "10.0.0.2:80 response"}, addrs(r), c.name)
		} else {
			assert.Equal(t, 503, r.Status, c.name)
			assert.Len(t, r.Attempts, 1, c.name)
			assert.Equal(t, c.flags, r.Flags, c.name)
		}
	}
}

// A request without a body ends its stream with the headers, so a Wasm
// filter's request headers callback sees end_of_stream and no body
// callback runs (source/common/http/conn_manager_impl.cc decodeHeaders
// passes the codec's end_stream to the filters; Envoy's wasm context
// hands it to on_request_headers); a request with a body sees it in one
// last body callback.
func TestBodylessRequestEndsWithItsHeaders(t *testing.T) {
	for _, c := range []struct {
		body []byte
		want []string
	}{
		{nil, []string{"headers eos=true"}},
		{[]byte("abc"), []string{"headers eos=false", "request body size=3 eos=true"}},
	} {
		p, proc := wasmProxy(t, "body", &fakeNet{})
		x := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/"), Body: c.body})
		proc.Clock.Advance(time.Minute)
		require.True(t, x.Done)
		var got []string
		for _, l := range proc.Logs() {
			if strings.HasPrefix(l.Message, "request headers ") {
				got = append(got, "headers "+l.Message[strings.Index(l.Message, "eos="):])
			}
			if strings.HasPrefix(l.Message, "request body ") {
				got = append(got, l.Message)
			}
		}
		assert.Equal(t, c.want, got, "body %q", c.body)
	}
}
