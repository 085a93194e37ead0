package envoy

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	commonv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/common/v3"
	rrv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/round_robin/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// shares sends n requests 1 ms apart and counts the hosts that answered.
func shares(t *testing.T, p *Proxy, n int) map[string]int {
	t.Helper()
	var xs []*Exchange
	for range n {
		xs = append(xs, p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")}))
		p.clock.Advance(time.Millisecond)
	}
	p.clock.Advance(time.Second)
	out := map[string]int{}
	for _, x := range xs {
		require.True(t, x.Done)
		out[x.Record.Attempts[0].Address]++
	}
	return out
}

// A host added to a warm cluster starts at min_weight_percent and its
// weight grows with (age/window)^(1/aggression) (applySlowStartFactor).
func TestSlowStartNewHost(t *testing.T) {
	for _, c := range []struct {
		name       string
		aggression float64
		age        time.Duration
		newShare   float64 // the new host's expected share against one warm host
	}{
		{"just added: min weight 10%", 1, 0, 0.1 / 1.1},
		{"half the window, linear", 1, 5 * time.Second, 0.5 / 1.5},
		{"aggression 2: sqrt of the time factor", 2, 2500 * time.Millisecond, 0.5 / 1.5},
		{"window over: equal", 1, 10 * time.Second, 0.5},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
			s.Clusters[0].LbConfig = &clusterv3.Cluster_RoundRobinLbConfig_{RoundRobinLbConfig: &clusterv3.Cluster_RoundRobinLbConfig{
				SlowStartConfig: &clusterv3.Cluster_SlowStartConfig{SlowStartWindow: durationpb.New(10 * time.Second),
					Aggression: &corev3.RuntimeDouble{DefaultValue: c.aggression, RuntimeKey: "x"}}}}
			p, clock := newTestProxy(s, &fakeNet{})
			clock.Advance(20 * time.Second) // the first host is out of its window
			require.NoError(t, p.SetEndpoints(assignment(svc, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})))
			clock.Advance(c.age)
			// 200 requests over 0.2 s: the factor moves little at these ages.
			got := shares(t, p, 200)
			assert.InDelta(t, c.newShare, float64(got["10.0.0.2:80"])/200, 0.06, "%v", got)
		})
	}
}

// Hosts that come back together (a whole locality's pods) are all in slow
// start with the same factor: the shares do not move, and nor does the
// priority load (slow start only weighs hosts within a host source).
func TestSlowStartWholePriorityReturns(t *testing.T) {
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"}, ep{addr: "10.0.1.1:80", priority: 1})
	pol, err := anypb.New(&rrv3.RoundRobin{SlowStartConfig: &commonv3.SlowStartConfig{SlowStartWindow: durationpb.New(time.Minute),
		MinWeightPercent: &typev3.Percent{Value: 1}}})
	require.NoError(t, err)
	s.Clusters[0].LoadBalancingPolicy = &clusterv3.LoadBalancingPolicy{Policies: []*clusterv3.LoadBalancingPolicy_Policy{{
		TypedExtensionConfig: &corev3.TypedExtensionConfig{Name: "rr", TypedConfig: pol}}}}
	p, clock := newTestProxy(s, &fakeNet{})
	cl := p.clusters[svc]
	require.NotNil(t, cl.slowStart)
	assert.Equal(t, time.Minute, cl.slowStart.window)
	assert.InDelta(t, 0.01, cl.slowStart.minWeight, 1e-9)
	clock.Advance(2 * time.Minute)
	require.NoError(t, p.SetEndpoints(assignment(svc, ep{addr: "10.0.1.1:80", priority: 1})))
	require.NoError(t, p.SetEndpoints(assignment(svc, ep{addr: "10.0.0.3:80"}, ep{addr: "10.0.0.4:80"}, ep{addr: "10.0.1.1:80", priority: 1})))
	assert.Equal(t, map[string]int{"10.0.0.3:80": 50, "10.0.0.4:80": 50}, shares(t, p, 100))
}
