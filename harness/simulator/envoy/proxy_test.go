package envoy

import (
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/xds"
)

const svc = "outbound|9080||reviews.default.svc.cluster.local"

func basicSnapshot() *xds.Snapshot {
	return &xds.Snapshot{
		Listeners: []*listenerv3.Listener{gatewayListener(8080, "http.8080")},
		Routes: []*routev3.RouteConfiguration{newRouteConfig("http.8080", &routev3.VirtualHost{
			Name: "reviews:80", Domains: []string{"reviews.example.com"}, Routes: []*routev3.Route{clusterRoute("/", svc)}})},
	}
}

func TestNativeRequestReachesUpstream(t *testing.T) {
	s := basicSnapshot()
	s.Clusters = append(s.Clusters, edsCluster(svc, nil))
	s.Endpoints = append(s.Endpoints, assignment(svc, ep{addr: "10.0.0.1:9080"}))
	net := &fakeNet{}
	p, clock := newTestProxy(s, net)
	x := p.Send(Request{Port: 8080, Headers: hdrs("reviews.example.com:8080", "/reviews/1")})
	clock.Advance(time.Second)
	require.True(t, x.Done)
	r := x.Record
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, "via_upstream", r.Details)
	assert.Equal(t, svc, r.Cluster)
	require.Len(t, r.Attempts, 1)
	assert.Equal(t, "10.0.0.1:9080", r.Attempts[0].Address)
	assert.Equal(t, 5*time.Millisecond, r.Latency)
	require.Len(t, net.sent, 1)
	assert.Equal(t, "gw", net.sent[0].Proxy)

	x = p.Send(Request{Port: 8080, Headers: hdrs("other.example.com", "/")})
	clock.Advance(time.Second)
	assert.Equal(t, 404, x.Record.Status)
	assert.Equal(t, []string{"NR"}, x.Record.Flags)
	assert.Equal(t, "route_not_found", x.Record.Details)
}
