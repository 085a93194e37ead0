package envoy

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Decisions of the model that change what a request gets, each observed
// on requests small enough to count by hand.

// The retry budget's limit counts pending requests as active
// (source/common/upstream/resource_manager_impl.h: RetryBudgetImpl
// canCreate, budget_percent of requests + pending_requests), at 50 %:
//   - one connection, four requests (one active, three pending), the
//     active one answers 500: the budget allows max(50 % of 4, 0) = 2
//     retries in flight, so its retry goes; counting only the active
//     request it would be max(50 % of 1, 0) = 0 and refused;
//   - four connections, six requests (four active, two pending), the
//     first two answer 500: the first retry is judged on 4 + 2 (3
//     allowed); the first attempt's connection then takes a pending
//     request, so the second is judged on 4 + 1 (2 allowed, one in
//     flight): both go. Active less pending would allow one (50 % of 3)
//     and refuse the second.
func TestRetryBudgetCountsPendingRequests(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		connections, requests int
		failures              int // the first answers are 500
	}{
		{"pending only", 1, 4, 1},
		{"added to active", 4, 6, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := &routev3.RetryPolicy{RetryOn: "5xx", NumRetries: wrapperspb.UInt32(1)}
			s := snap(rp, 0, nil, ep{addr: "10.0.0.1:80"})
			th := s.Clusters[0].CircuitBreakers.Thresholds[0]
			th.MaxConnections = wrapperspb.UInt32(uint32(tc.connections))
			th.RetryBudget = &clusterv3.CircuitBreakers_Thresholds_RetryBudget{
				BudgetPercent: &typev3.Percent{Value: 50}, MinRetryConcurrency: wrapperspb.UInt32(0)}
			n := 0
			p, clock := newTestProxy(s, &fakeNet{fn: func(time.Time, *Attempt) Result {
				n++
				if n <= tc.failures {
					return Result{Outcome: OutcomeResponse, Status: 500, Latency: 10 * time.Millisecond}
				}
				return Result{Outcome: OutcomeResponse, Status: 200, Latency: 10 * time.Millisecond}
			}})
			var xs []*Exchange
			for range tc.requests {
				xs = append(xs, p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")}))
			}
			clock.Advance(time.Minute)
			assert.Equal(t, tc.failures, p.Counters().Retries)
			assert.Zero(t, p.Counters().RetryOverflow)
			for i, x := range xs {
				require.True(t, x.Done)
				assert.Equal(t, 200, x.Record.Status, "request %d", i)
			}
		})
	}
}

// A queued request leaves the pending count when it starts: max_pending 1
// admits one queued request at a time, so two rounds of two concurrent
// requests on one connection all succeed (a pending count that never went
// down would overflow the second round's queued request, 503 UO).
func TestPendingCountReleasedWhenQueuedRequestStarts(t *testing.T) {
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	th := s.Clusters[0].CircuitBreakers.Thresholds[0]
	th.MaxConnections, th.MaxPendingRequests = wrapperspb.UInt32(1), wrapperspb.UInt32(1)
	p, clock := newTestProxy(s, &fakeNet{})
	for round := range 2 {
		a := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
		b := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
		clock.Advance(time.Second)
		assert.Equal(t, 200, a.Record.Status, "round %d", round)
		assert.Equal(t, 200, b.Record.Status, "round %d: the queued request", round)
		assert.Equal(t, 10*time.Millisecond, b.Record.Latency, "round %d: 5 ms queued, 5 ms served", round)
	}
	assert.Zero(t, p.Counters().Overflow)
}

// A retry budget without min_retry_concurrency allows 3 retries in flight
// (Envoy's default; budget_percent defaults to 20): five concurrent 500s,
// 20 % of 5 active is 1, so max(1, 3) = 3 retries and 2 refused.
func TestRetryBudgetDefaultMinimumIsThree(t *testing.T) {
	rp := &routev3.RetryPolicy{RetryOn: "5xx", NumRetries: wrapperspb.UInt32(1)}
	s := snap(rp, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Clusters[0].CircuitBreakers.Thresholds[0].RetryBudget = &clusterv3.CircuitBreakers_Thresholds_RetryBudget{}
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeResponse, Status: 500, Latency: 100 * time.Millisecond}}))
	for range 5 {
		p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
	}
	clock.Advance(time.Second)
	assert.Equal(t, 3, p.Counters().Retries)
	assert.Equal(t, 2, p.Counters().RetryOverflow)
}

// A connect timeout is a connect failure for retry_on (retry_state_impl.cc
// wouldRetryFromReset: LocalConnectionFailure, RemoteConnectionFailure or
// ConnectionTimeout under connect-failure): the first host times out after
// the cluster's connect_timeout, the retry reaches the second.
func TestConnectTimeoutRetriedUnderConnectFailure(t *testing.T) {
	rp := &routev3.RetryPolicy{RetryOn: "connect-failure", NumRetries: wrapperspb.UInt32(1),
		RetryHostPredicate: previousHosts()}
	s := snap(rp, 0, nil, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeConnectTimeout}}))
	r := run(t, p, clock)
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, []string{"10.0.0.1:80 connect_timeout", "10.0.0.2:80 response"}, addrs(r))
	assert.Equal(t, 10*time.Second, r.Attempts[0].End.Sub(r.Attempts[0].Start), "the cluster's connect_timeout")

	// retry_on without connect-failure (or 5xx, gateway-error, reset):
	// the timeout is the answer.
	rp.RetryOn = "retriable-status-codes"
	p, clock = newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeConnectTimeout}}))
	r = run(t, p, clock)
	assert.Equal(t, 503, r.Status)
	assert.Len(t, r.Attempts, 1)
	assert.Equal(t, []string{"UF"}, r.Flags)
}
