package envoy

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Decisions found by mutation testing (BENCHMARKS.md, "Beyond the
// cores"), each observed on a handful of requests.

// A retry holds one of the cluster's max_retries slots only while it is in
// flight (Envoy's retry_state_impl releases the retry resource when the
// retried request completes): with max_retries 1, three requests one after
// the other each fail once and each get their retry; a slot never given
// back would refuse the second (UO).
func TestRetrySlotReleasedWhenTheRetryEnds(t *testing.T) {
	rp := &routev3.RetryPolicy{RetryOn: "5xx", NumRetries: wrapperspb.UInt32(1)}
	s := snap(rp, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Clusters[0].CircuitBreakers.Thresholds[0].MaxRetries = wrapperspb.UInt32(1)
	n := 0
	p, clock := newTestProxy(s, &fakeNet{fn: func(time.Time, *Attempt) Result {
		n++
		if n%2 == 1 {
			return Result{Outcome: OutcomeResponse, Status: 500, Latency: 10 * time.Millisecond}
		}
		return Result{Outcome: OutcomeResponse, Status: 200, Latency: 10 * time.Millisecond}
	}})
	for round := range 3 {
		x := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
		clock.Advance(time.Second)
		require.True(t, x.Done, "round %d", round)
		assert.Equal(t, 200, x.Record.Status, "round %d: the retry answered", round)
	}
	assert.Equal(t, 3, p.Counters().Retries)
	assert.Zero(t, p.Counters().RetryOverflow)
}

// On a gRPC request, outlier detection counts the mapped grpc-status
// whatever the HTTP status (the router's onUpstreamHeaders hands
// grpcToHttpStatus of any grpc-status present to putHttpResponseCode):
// a 503 carrying grpc-status 0 (OK) counts as a 200, so six of them in a
// row eject nothing; a 503 with grpc-status 14 still ejects.
func TestGrpcStatusOKOverridesTheHTTPStatusForOutlierDetection(t *testing.T) {
	for _, c := range []struct {
		grpcStatus string
		ejected    bool
	}{{"0", false}, {"14", true}} {
		od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100)}
		s := snap(nil, 0, od, ep{addr: "10.0.0.1:80"}, ep{addr: "10.1.0.1:80", priority: 1})
		p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeResponse, Status: 503,
			Headers: [][2]string{{"grpc-status", c.grpcStatus}}, Latency: time.Millisecond}}))
		for range 6 {
			x := p.Send(Request{Port: 8080, Headers: append(hdrs("svc", "/"), [2]string{"content-type", "application/grpc"})})
			clock.Advance(time.Second)
			require.True(t, x.Done)
		}
		assert.Equal(t, c.ejected, p.Counters().Ejections == 1, "grpc-status %s", c.grpcStatus)
	}
}

// Queued requests start one at a time as connections free up (Envoy's
// connection pool attaches one pending request per ready connection):
// with max_connections 1, three requests sent at once are served one
// after another, 5 ms each, so they finish at 5, 10 and 15 ms.
func TestQueuedRequestsStartOneConnectionAtATime(t *testing.T) {
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	th := s.Clusters[0].CircuitBreakers.Thresholds[0]
	th.MaxConnections, th.MaxPendingRequests = wrapperspb.UInt32(1), wrapperspb.UInt32(2)
	p, clock := newTestProxy(s, &fakeNet{})
	var xs []*Exchange
	for range 3 {
		xs = append(xs, p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")}))
	}
	clock.Advance(time.Second)
	for i, x := range xs {
		require.True(t, x.Done)
		assert.Equal(t, 200, x.Record.Status, "request %d", i)
		assert.Equal(t, time.Duration(i+1)*5*time.Millisecond, x.Record.Latency, "request %d", i)
	}
	assert.Zero(t, p.Counters().Overflow)
}

// A locality's effective weight counts its excluded (draining) hosts out
// of its size (load_balancer_impl.cc effectiveLocalityWeight: healthy
// hosts over all hosts less the excluded ones): a locality of one healthy
// and one draining host is fully available and keeps its whole weight, so
// two localities of weight 1 split the traffic evenly.
func TestDrainingHostLeavesTheLocalityWeightWhole(t *testing.T) {
	s := snap(nil, 0, nil)
	s.Clusters[0].CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{LocalityConfigSpecifier: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig_{
		LocalityWeightedLbConfig: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig{}}}
	cla := assignment(svc, ep{addr: "10.0.0.1:80", locality: "a"}, ep{addr: "10.0.0.2:80", locality: "b"})
	draining := assignment(svc, ep{addr: "10.0.0.3:80", locality: "a"}).Endpoints[0].LbEndpoints[0]
	draining.HealthStatus = corev3.HealthStatus_DRAINING
	cla.Endpoints[0].LbEndpoints = append(cla.Endpoints[0].LbEndpoints, draining)
	cla.Endpoints[0].LoadBalancingWeight = wrapperspb.UInt32(1)
	cla.Endpoints[1].LoadBalancingWeight = wrapperspb.UInt32(1)
	cla.Endpoints[0].Locality = &corev3.Locality{Region: "r", Zone: "a"}
	s.Endpoints[0] = cla
	p, clock := newTestProxy(s, &fakeNet{})
	counts := map[string]int{}
	for range 400 {
		r := run(t, p, clock)
		counts[r.Attempts[0].Locality]++
		assert.NotEqual(t, "10.0.0.3:80", r.Attempts[0].Address, "a draining host takes no new request")
	}
	assert.Equal(t, map[string]int{"r/a": 200, "r/b": 200}, counts)
}
