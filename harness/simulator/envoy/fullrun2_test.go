package envoy

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/detour-mesh/detour/harness/simulator/xds"
)

// More decisions found by the full mutation run of 5 December (see
// fullrun_test.go).

// A direct_response route answers through a Wasm gateway too: the router
// sends the route's reply itself, with no cluster behind it
// (router.cc decodeHeaders: a direct response entry is answered before
// any cluster lookup).
func TestDirectResponseThroughWasmGateway(t *testing.T) {
	p, proc := wasmProxy(t, "properties", &fakeNet{}, func(s *xds.Snapshot) {
		health := &routev3.Route{Name: "health", Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/health"}},
			Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 204}}}
		vh := s.Routes[0].VirtualHosts[0]
		vh.Routes = append([]*routev3.Route{health}, vh.Routes...)
	})
	x := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/health")})
	proc.Clock.Advance(time.Minute)
	require.True(t, x.Done)
	assert.Equal(t, 204, x.Record.Status)
	assert.Equal(t, "health", x.Record.Route)
	assert.Empty(t, x.Record.Attempts)
}

// An EDS update names its assignment by the cluster's
// eds_cluster_config.service_name when it has one (cluster.proto; Istio
// may name it apart from the cluster): SetEndpoints finds the cluster by
// that name, not by the cluster's own.
func TestSetEndpointsByEDSServiceName(t *testing.T) {
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Clusters[0].EdsClusterConfig.ServiceName = "svc-endpoints"
	s.Endpoints[0].ClusterName = "svc-endpoints"
	p, clock := newTestProxy(s, &fakeNet{})
	require.NoError(t, p.SetEndpoints(assignment("svc-endpoints", ep{addr: "10.0.0.9:80"})))
	r := run(t, p, clock)
	require.Len(t, r.Attempts, 1)
	assert.Equal(t, "10.0.0.9:80", r.Attempts[0].Address)
	assert.ErrorContains(t, p.SetEndpoints(assignment(svc, ep{addr: "10.0.0.8:80"})), "no EDS cluster")
}

// An aggression of 0 (or below) is invalid and taken as 1, linear
// (load_balancer_impl.cc applySlowStartFactor logs it and uses 1.0): a
// host half way through its window has half its weight, not the minimum.
func TestSlowStartAggressionZeroIsOne(t *testing.T) {
	for _, aggression := range []float64{0, -2} {
		s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
		s.Clusters[0].LbConfig = &clusterv3.Cluster_RoundRobinLbConfig_{RoundRobinLbConfig: &clusterv3.Cluster_RoundRobinLbConfig{
			SlowStartConfig: &clusterv3.Cluster_SlowStartConfig{SlowStartWindow: durationpb.New(10 * time.Second),
				Aggression: &corev3.RuntimeDouble{DefaultValue: aggression, RuntimeKey: "x"}}}}
		p, clock := newTestProxy(s, &fakeNet{})
		clock.Advance(20 * time.Second)
		require.NoError(t, p.SetEndpoints(assignment(svc, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})))
		clock.Advance(5 * time.Second)
		got := shares(t, p, 200)
		assert.InDelta(t, 0.5/1.5, float64(got["10.0.0.2:80"])/200, 0.06, "aggression %v: %v", aggression, got)
	}
}

// Round robin over hosts of equal weight takes them in turn
// (round_robin_lb.cc unweightedHostPick: the source's index goes up by one
// each pick): with three hosts, any three requests in a row reach all
// three.
func TestRoundRobinTakesHostsInTurn(t *testing.T) {
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"}, ep{addr: "10.0.0.3:80"})
	p, clock := newTestProxy(s, &fakeNet{})
	var got []string
	for range 12 {
		got = append(got, run(t, p, clock).Attempts[0].Address)
	}
	for i := 2; i < len(got); i++ {
		seen := map[string]bool{got[i-2]: true, got[i-1]: true, got[i]: true}
		assert.Len(t, seen, 3, "requests %d-%d: %v", i-2, i, got)
	}
}

// Without a listener for the port, the model takes the route
// configuration Istio names after it: a sidecar's outbound "9080", a
// gateway's "http.8080".
func TestRoutesByPortWithoutListener(t *testing.T) {
	for _, tc := range []struct {
		rc   string
		port uint32
	}{{"9080", 9080}, {"http.8080", 8080}} {
		s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
		s.Listeners = nil
		s.Routes[0].Name = tc.rc
		p, clock := newTestProxy(s, &fakeNet{})
		x := p.Send(Request{Port: tc.port, Headers: hdrs("svc", "/")})
		clock.Advance(time.Second)
		require.True(t, x.Done)
		assert.Equal(t, 200, x.Record.Status, tc.rc)
	}
}
