package envoy

import (
	"context"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/xds"
	"github.com/detour-mesh/detour/harness/wasmhost/plugintest"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

const (
	primary = "outbound|80||primary.default.svc.cluster.local"
	backup  = "outbound|80||backup.default.svc.cluster.local"
	auth    = "outbound|80||auth.default.svc.cluster.local"
)

// wasmProxy starts the conformance plugin with config in front of a
// gateway routing x-target: backup to the backup cluster, the rest to
// primary, with Istio's default retry policy.
func wasmProxy(t *testing.T, config string, net Network, edit ...func(*xds.Snapshot)) (*Proxy, *pw.Process) {
	t.Helper()
	ctx := context.Background()
	eng, err := pw.NewEngine(ctx, pw.EngineConfig{})
	require.NoError(t, err)
	mod, err := eng.Compile(ctx, plugintest.MustRead("conformance"))
	require.NoError(t, err)
	proc := pw.NewProcess(nil)
	pl, err := proc.StartPlugin(ctx, pw.PluginSpec{Engine: eng, Module: mod, Workers: 1,
		VM:     pw.VMConfig{VMID: "detour", Seed: 1},
		Plugin: pw.PluginConfig{Name: "f", RootID: "f", Configuration: []byte(config)}})
	require.NoError(t, err)
	t.Cleanup(pl.Close)

	toBackup := clusterRoute("/", backup)
	toBackup.Name = "backup"
	toBackup.Match.Headers = []*routev3.HeaderMatcher{{Name: "x-target", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
		StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "backup"}}}}}
	toPrimary := clusterRoute("/", primary)
	toPrimary.Name = "primary"
	for _, r := range []*routev3.Route{toBackup, toPrimary} {
		r.GetRoute().RetryPolicy = istioDefaultRetry()
	}
	s := &xds.Snapshot{
		Listeners: []*listenerv3.Listener{gatewayListener(8080, "http.8080")},
		Routes: []*routev3.RouteConfiguration{newRouteConfig("http.8080", &routev3.VirtualHost{
			Name: "svc", Domains: []string{"svc"}, Routes: []*routev3.Route{toBackup, toPrimary}})},
		Clusters: []*clusterv3.Cluster{edsCluster(primary, nil), edsCluster(backup, nil), edsCluster(auth, nil)},
		Endpoints: []*endpointv3.ClusterLoadAssignment{
			assignment(primary, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"}),
			assignment(backup, ep{addr: "10.9.0.1:80"}),
			assignment(auth, ep{addr: "10.5.0.1:80"}),
		},
	}
	for _, e := range edit {
		e(s)
	}
	p, err := New(Config{Name: "gw", Snapshot: s, Process: proc, Network: net, Seed: 1, Filters: []*pw.Plugin{pl}})
	require.NoError(t, err)
	proc.HTTPCalls = p
	return p, proc
}

func TestWasmFilterReroutesThroughEnvoyRouter(t *testing.T) {
	net := byHost(map[string]Result{"10.9.0.1:80": refused})
	// "route backup" sets x-target: backup; the header change clears the
	// route cache, so the router re-selects the backup route.
	p, proc := wasmProxy(t, "route backup", net)
	x := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
	proc.Clock.Advance(time.Minute)
	require.True(t, x.Done)
	r := x.Record
	// The backup's only host refuses connections: Istio's policy retries
	// twice, then the router's 503 UF runs back through the filter.
	assert.Equal(t, backup, r.Cluster)
	assert.Equal(t, "backup", r.Route)
	assert.Equal(t, 503, r.Status)
	assert.Equal(t, []string{"URX", "UF"}, r.Flags)
	assert.Len(t, r.Attempts, 3)
	assert.Contains(t, r.Details, "upstream_reset_before_response_started{remote_connection_failure")

	p, proc = wasmProxy(t, "route primary", byHost(map[string]Result{"10.0.0.1:80": refused}))
	x = p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
	proc.Clock.Advance(time.Minute)
	require.True(t, x.Done)
	assert.Equal(t, 200, x.Record.Status)
	assert.Equal(t, "via_upstream", x.Record.Details)
	assert.Equal(t, primary, x.Record.Cluster)
	assert.Equal(t, 1, x.Record.Retries)
}

func TestWasmHTTPCallGoesThroughClusterLB(t *testing.T) {
	net := &fakeNet{}
	p, proc := wasmProxy(t, "httpcall "+auth+" 1000", net)
	x := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
	proc.Clock.Advance(time.Minute)
	require.True(t, x.Done)
	assert.Equal(t, 200, x.Record.Status)
	require.Len(t, net.sent, 2)
	assert.Equal(t, auth, net.sent[0].Cluster)
	assert.Equal(t, "10.5.0.1:80", net.sent[0].Address)
	assert.Equal(t, primary, net.sent[1].Cluster)
	assert.Equal(t, 5*time.Millisecond+5*time.Millisecond, x.Record.Latency)

	// The callout's host refuses: the async client's 503 reaches the
	// filter, which denies the request.
	net = &fakeNet{fn: func(_ time.Time, a *Attempt) Result {
		if a.Cluster == auth {
			return refused
		}
		return Result{Outcome: OutcomeResponse, Status: 200, Latency: time.Millisecond}
	}}
	p, proc = wasmProxy(t, "httpcall "+auth+" 1000", net)
	x = p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
	proc.Clock.Advance(time.Minute)
	require.True(t, x.Done)
	assert.Equal(t, 403, x.Record.Status)
	assert.Len(t, net.sent, 1)
	calls := proc.HTTPCallRecords()
	require.Len(t, calls, 1)
	assert.Equal(t, "503", calls[0].Outcome)
}
