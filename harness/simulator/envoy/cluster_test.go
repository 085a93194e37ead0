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

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

func TestLocalityWeighted(t *testing.T) {
	s := snap(nil, 0, nil)
	s.Clusters[0].CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{LocalityConfigSpecifier: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig_{
		LocalityWeightedLbConfig: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig{}}}
	cla := assignment(svc, ep{addr: "10.0.0.1:80", locality: "a"}, ep{addr: "10.0.0.2:80", locality: "b"})
	cla.Endpoints[0].LoadBalancingWeight = wrapperspb.UInt32(3)
	cla.Endpoints[1].LoadBalancingWeight = wrapperspb.UInt32(1)
	cla.Endpoints[0].Locality = &corev3.Locality{Region: "r", Zone: "a"}
	s.Endpoints[0] = cla
	p, clock := newTestProxy(s, &fakeNet{})
	counts := map[string]int{}
	for range 400 {
		r := run(t, p, clock)
		counts[r.Attempts[0].Locality]++
	}
	assert.Equal(t, map[string]int{"r/a": 300, "r/b": 100}, counts)
}

// An EDS update (local service scaled to zero) is applied at once: with
// no endpoints left the router answers 503 UH; restored endpoints serve.
func TestSetEndpoints(t *testing.T) {
	s := snap(nil, 0, &clusterv3.OutlierDetection{}, ep{addr: "10.0.0.1:80"})
	p, clock := newTestProxy(s, &fakeNet{})
	assert.Equal(t, 200, run(t, p, clock).Status)
	require.NoError(t, p.SetEndpoints(assignment(svc)))
	r := run(t, p, clock)
	assert.Equal(t, 503, r.Status)
	assert.Equal(t, []string{"UH"}, r.Flags)
	require.NoError(t, p.SetEndpoints(assignment(svc, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})))
	st, _ := p.ClusterStatus(svc)
	assert.Len(t, st.Hosts, 2)
	assert.Equal(t, 200, run(t, p, clock).Status)
	assert.Error(t, p.SetEndpoints(assignment("nope")))
	// Stop cancels the interval timers: the clock drains.
	p.Stop()
	_, pending := clock.Next()
	assert.False(t, pending)
}

// Strict weights with a dead cluster: that cluster's share answers 503
// "no healthy upstream"; the rest is served.
func TestWeightedClusterWithDeadCluster(t *testing.T) {
	const other = "outbound|9080||reviews.other.svc.cluster.local"
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Routes[0].VirtualHosts[0].Routes[0].GetRoute().ClusterSpecifier = &routev3.RouteAction_WeightedClusters{
		WeightedClusters: &routev3.WeightedCluster{Clusters: []*routev3.WeightedCluster_ClusterWeight{
			{Name: svc, Weight: wrapperspb.UInt32(70)}, {Name: other, Weight: wrapperspb.UInt32(30)}}}}
	s.Clusters = append(s.Clusters, edsCluster(other, nil))
	s.Endpoints = append(s.Endpoints, assignment(other))
	p, clock := newTestProxy(s, &fakeNet{})
	byStatus := map[int]int{}
	for range 1000 {
		x := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
		clock.Advance(time.Millisecond)
		clock.Advance(10 * time.Millisecond)
		byStatus[x.Record.Status]++
		if x.Record.Status == 503 {
			assert.Equal(t, other, x.Record.Cluster)
			assert.Equal(t, []string{"UH"}, x.Record.Flags)
		}
	}
	assert.InDelta(t, 300, byStatus[503], 50)
	assert.Equal(t, 1000, byStatus[200]+byStatus[503])
}

// Locality failover without outlier detection: nothing ejects the dead
// local endpoints, so the remote priority never gets traffic.
func TestNoOutlierDetectionNeverFailsOver(t *testing.T) {
	s := snap(istioDefaultRetry(), 0, nil, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"}, ep{addr: "10.1.0.1:15443", priority: 1})
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": refused, "10.0.0.2:80": refused}))
	for range 50 {
		r := run(t, p, clock)
		assert.Equal(t, 503, r.Status)
		for _, a := range r.Attempts {
			assert.Equal(t, 0, a.Priority)
		}
	}
	st, _ := p.ClusterStatus(svc)
	assert.Equal(t, []uint32{100, 0}, st.HealthyLoad)
}

// A Wasm http_call goes through the LB and feeds outlier detection.
func TestHTTPCallFeedsOutlierDetection(t *testing.T) {
	od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), Consecutive_5Xx: wrapperspb.UInt32(2)}
	s := snap(nil, 0, od, ep{addr: "10.0.0.1:80"}, ep{addr: "10.1.0.1:15443", priority: 1})
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": refused}))
	assert.True(t, p.HasCluster(svc))
	assert.False(t, p.HasCluster("nope"))
	call := func() pw.HTTPCallResult {
		res := p.HTTPCall(&pw.HTTPCallRequest{Cluster: svc, Headers: hdrs("svc", "/check"), Timeout: time.Second})
		clock.Advance(time.Second)
		return res
	}
	assert.Equal(t, pw.FaultConnectFailure, call().Fault)
	assert.Equal(t, pw.FaultConnectFailure, call().Fault)
	// Two connect failures (503s to the detector) ejected the host: the
	// next call lands on P1.
	res := call()
	assert.Equal(t, 200, res.Status)
	assert.Equal(t, 10*time.Millisecond, res.Delay)
	assert.Equal(t, 1, p.Counters().Ejections)
	st, _ := p.ClusterStatus(svc)
	assert.Equal(t, 0, st.ActiveRequests)
}

// An http_call whose host closes the connection during the TLS handshake
// (an east-west gateway with nothing behind it) fails as a refused connect
// does, after the handshake's latency: the call's router has no retry
// policy and answers its 503 at once (async_client_impl.cc, router.cc
// onUpstreamReset). Before, the model let such a call hang until its
// timeout, so a retry to a dead cluster cost the whole per-try timeout.
// An outcome the model does not know fails too, never hangs.
func TestHTTPCallHandshakeFailureFailsAtOnce(t *testing.T) {
	for _, outcome := range []string{OutcomeHandshakeFailure, OutcomeConnectFailure, "no-such-outcome"} {
		od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), ConsecutiveLocalOriginFailure: wrapperspb.UInt32(2),
			SplitExternalLocalOriginErrors: true}
		s := snap(nil, 0, od, ep{addr: "10.0.0.1:80"}, ep{addr: "10.1.0.1:15443", priority: 1})
		closed := Result{Outcome: outcome, Latency: 40 * time.Millisecond, Cause: "closed during the TLS handshake"}
		p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": closed}))
		for range 2 {
			res := p.HTTPCall(&pw.HTTPCallRequest{Cluster: svc, Headers: hdrs("svc", "/check"), Timeout: time.Second})
			assert.Equal(t, pw.FaultConnectFailure, res.Fault, outcome)
			assert.Equal(t, 40*time.Millisecond, res.Delay, outcome)
			clock.Advance(50 * time.Millisecond)
		}
		// Two local-origin connect failures eject the host, as the
		// router's own attempts would.
		assert.Equal(t, 1, p.Counters().Ejections, outcome)
		st, _ := p.ClusterStatus(svc)
		assert.Equal(t, 0, st.ActiveRequests, outcome)
	}
}

// Hosts kept across an EDS update keep their outlier state and active
// request counts (in-flight requests release the same host).
func TestSetEndpointsKeepsHostState(t *testing.T) {
	od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), Consecutive_5Xx: wrapperspb.UInt32(1)}
	s := snap(nil, 0, od, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})
	p, clock := newTestProxy(s, byHost(map[string]Result{
		"10.0.0.1:80": {Outcome: OutcomeResponse, Status: 500, Latency: time.Millisecond},
		"10.0.0.2:80": {Outcome: OutcomeResponse, Status: 200, Latency: time.Second}}))
	a := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
	b := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
	clock.Advance(10 * time.Millisecond)
	require.NoError(t, p.SetEndpoints(assignment(svc, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"}, ep{addr: "10.0.0.3:80"})))
	st, _ := p.ClusterStatus(svc)
	assert.True(t, st.Hosts[0].Ejected)
	assert.Equal(t, 1, st.Hosts[1].ActiveRequests)
	clock.Advance(2 * time.Second)
	assert.Equal(t, 500, a.Record.Status)
	assert.Equal(t, 200, b.Record.Status)
	st, _ = p.ClusterStatus(svc)
	for _, h := range st.Hosts {
		assert.Equal(t, 0, h.ActiveRequests, h.Address)
	}
}

// Envoy's default panic threshold (50%) without Istio's override: with
// every host ejected the load balancer routes to all hosts anyway; with
// Istio's 0 it answers "no healthy upstream".
func TestPanicRoutesToEjectedHosts(t *testing.T) {
	od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), Consecutive_5Xx: wrapperspb.UInt32(1)}
	bad := byHost(map[string]Result{
		"10.0.0.1:80": {Outcome: OutcomeResponse, Status: 500, Latency: time.Millisecond},
		"10.0.0.2:80": {Outcome: OutcomeResponse, Status: 500, Latency: time.Millisecond}})
	for _, istio := range []bool{false, true} {
		s := snap(nil, 0, od, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})
		if !istio {
			s.Clusters[0].CommonLbConfig = nil
		}
		p, clock := newTestProxy(s, bad)
		for range 2 {
			p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
			clock.Advance(10 * time.Millisecond)
		}
		st, _ := p.ClusterStatus(svc)
		require.True(t, st.Hosts[0].Ejected && st.Hosts[1].Ejected)
		x := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
		clock.Advance(10 * time.Millisecond)
		if istio {
			assert.Equal(t, []bool{false}, st.Panic)
			assert.Equal(t, []string{"UH"}, x.Record.Flags)
		} else {
			assert.Equal(t, []bool{true}, st.Panic)
			assert.Equal(t, 500, x.Record.Status)
			assert.Len(t, x.Record.Attempts, 1)
		}
	}
}

// EDS DEGRADED hosts take load only when healthy ones cannot (with the
// overprovisioning factor: 3 of 4 healthy is 100% health).
func TestDegradedHosts(t *testing.T) {
	s := snap(nil, 0, nil)
	cla := assignment(svc, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.3:80"}, ep{addr: "10.0.0.4:80"}, ep{addr: "10.0.0.2:80"})
	cla.Endpoints[3].LbEndpoints[0].HealthStatus = corev3.HealthStatus_DEGRADED
	s.Endpoints[0] = cla
	p, clock := newTestProxy(s, &fakeNet{})
	for range 30 {
		assert.NotEqual(t, "10.0.0.2:80", run(t, p, clock).Attempts[0].Address)
	}
	// 1 healthy of 2: health 70, degraded 70 → loads 70 / 30.
	cla = assignment(svc, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})
	cla.Endpoints[1].LbEndpoints[0].HealthStatus = corev3.HealthStatus_DEGRADED
	require.NoError(t, p.SetEndpoints(cla))
	st, _ := p.ClusterStatus(svc)
	assert.Equal(t, []uint32{70}, st.HealthyLoad)
	assert.Equal(t, []uint32{30}, st.DegradedLoad)
	cla = assignment(svc, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})
	cla.Endpoints[0].LbEndpoints[0].HealthStatus = corev3.HealthStatus_UNHEALTHY
	cla.Endpoints[1].LbEndpoints[0].HealthStatus = corev3.HealthStatus_DEGRADED
	require.NoError(t, p.SetEndpoints(cla))
	st, _ = p.ClusterStatus(svc)
	assert.Equal(t, []uint32{0}, st.HealthyLoad)
	assert.Equal(t, []uint32{100}, st.DegradedLoad)
	assert.Equal(t, "10.0.0.2:80", run(t, p, clock).Attempts[0].Address)
}
