package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/detour-mesh/detour/harness/simulator/xds"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen"
)

// fakeGenerator stands in for Istio's generator in the runner's own tests
// (the tests under testdata/weak run the real one): a sidecar's xDS in the
// shape Istio gives it for the bookinfo example, local pods from the
// Kubernetes input at priority 0 and cluster-2's east-west gateway at
// priority 1, with outlier detection and connect-failure retries.
func fakeGenerator(ctx context.Context, in xdsgen.Input) (*xds.Snapshot, error) {
	const name = "outbound|9080||reviews.bookinfo.svc.cluster.local"
	h := &hcmv3.HttpConnectionManager{StatPrefix: "outbound_0.0.0.0_9080",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{RouteConfigName: "9080"}}}
	tc, err := anypb.New(h)
	if err != nil {
		return nil, err
	}
	lis := &listenerv3.Listener{Name: "0.0.0.0_9080",
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 9080}}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name: "envoy.filters.network.http_connection_manager", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: tc}}}}}}
	rt := &routev3.RouteConfiguration{Name: "9080", VirtualHosts: []*routev3.VirtualHost{{
		Name: "reviews.bookinfo.svc.cluster.local:9080", Domains: []string{"reviews.bookinfo.svc.cluster.local", "reviews.bookinfo.svc.cluster.local:9080"},
		Routes: []*routev3.Route{{Name: "default", Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: name},
				Timeout: durationpb.New(0),
				RetryPolicy: &routev3.RetryPolicy{RetryOn: "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
					NumRetries: wrapperspb.UInt32(2)}}}}}}}}
	maxU := wrapperspb.UInt32(^uint32(0))
	cl := &clusterv3.Cluster{Name: name, ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{ServiceName: name}, ConnectTimeout: durationpb.New(time.Second),
		CircuitBreakers: &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
			MaxConnections: maxU, MaxPendingRequests: maxU, MaxRequests: maxU, MaxRetries: maxU}}},
		OutlierDetection: &clusterv3.OutlierDetection{Consecutive_5Xx: wrapperspb.UInt32(5), Interval: durationpb.New(5 * time.Second),
			BaseEjectionTime: durationpb.New(30 * time.Second), MaxEjectionPercent: wrapperspb.UInt32(100)},
		CommonLbConfig: &clusterv3.Cluster_CommonLbConfig{HealthyPanicThreshold: &typev3.Percent{Value: 0}}}
	lbe := func(ip string, port uint32) *endpointv3.LbEndpoint {
		return &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}}}}
	}
	local := &endpointv3.LocalityLbEndpoints{Locality: &corev3.Locality{Region: in.Proxy.Region, Zone: in.Proxy.Zone}}
	for _, c := range in.ControlPlane.Clusters {
		for _, s := range c.Services {
			for _, e := range s.Endpoints {
				local.LbEndpoints = append(local.LbEndpoints, lbe(e.IP, 9080))
			}
		}
	}
	remote := &endpointv3.LocalityLbEndpoints{Locality: &corev3.Locality{Region: "us-west1", Zone: "us-west1-a"}, Priority: 1,
		LbEndpoints: []*endpointv3.LbEndpoint{lbe("10.20.0.10", 15443)}}
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: name, Endpoints: []*endpointv3.LocalityLbEndpoints{remote}}
	if len(local.LbEndpoints) > 0 {
		cla.Endpoints = []*endpointv3.LocalityLbEndpoints{local, remote}
	}
	return &xds.Snapshot{Node: "sidecar~" + in.Proxy.IP, Listeners: []*listenerv3.Listener{lis}, Routes: []*routev3.RouteConfiguration{rt},
		Clusters: []*clusterv3.Cluster{cl}, Endpoints: []*endpointv3.ClusterLoadAssignment{cla}}, nil
}

func withFakeGenerator(t *testing.T) {
	old := generateXDS
	generateXDS = fakeGenerator
	t.Cleanup(func() { generateXDS = old })
}

func scenarioFile(t *testing.T, body string) *Scenario {
	intent, err := filepath.Abs("../../../examples/bookinfo/intent.yaml")
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "drill.yaml")
	require.NoError(t, os.WriteFile(p, []byte(fmt.Sprintf("intent: %s\n%s", intent, body)), 0o644))
	sc, err := Load(p)
	require.NoError(t, err)
	return sc
}

const scaleToZero = `
name: local-scaled-to-zero
traffic: {entry: cluster-1, rate: 50, duration: 60s, seed: 3, methods: {GET: 9, POST: 1}}
faults:
  - {name: down, kind: serviceScaledToZero, start: 20s, end: 40s, target: {cluster: cluster-1, service: reviews}}
expect: {maxUserVisibleErrors: 0}
`

func TestRunDeterministic(t *testing.T) {
	withFakeGenerator(t)
	sc := scenarioFile(t, scaleToZero)
	var out [2][]byte
	for i := range out {
		rep, err := Run(context.Background(), sc, Options{})
		require.NoError(t, err)
		out[i], err = rep.JSON()
		require.NoError(t, err)
	}
	assert.Equal(t, string(out[0]), string(out[1]))
	sc.Traffic.Seed++
	rep, err := Run(context.Background(), sc, Options{})
	require.NoError(t, err)
	other, err := rep.JSON()
	require.NoError(t, err)
	assert.NotEqual(t, string(out[0]), string(other), "another seed, another run")
}

func TestRunScaleToZeroThroughEDS(t *testing.T) {
	withFakeGenerator(t)
	rep, err := Run(context.Background(), scenarioFile(t, scaleToZero), Options{})
	require.NoError(t, err)
	require.Len(t, rep.Runs, 1)
	run := rep.Runs[0]
	assert.Equal(t, "istio", run.Name)
	assert.InDelta(t, 3000, run.Requests, 300)
	assert.Equal(t, []string{"cluster-1", "cluster-2", "none"}, run.Clusters)
	// Healthy: everything stays local. Outside the fault only the way back
	// is remote (the share counts failback), a few percent of the run.
	assert.Equal(t, []float64{1, 0, 0}, run.Seconds[5].Share)
	assert.Greater(t, run.CrossRegionShare, 0.0)
	assert.Less(t, run.CrossRegionShare, 0.05)
	// Pods gone at 20 s, EDS without them at 21 s: connect failures are
	// retried (connect-failure) until then, then everything goes remote.
	assert.Equal(t, []float64{0, 1, 0}, run.Seconds[25].Share)
	assert.Equal(t, []float64{1, 0, 0}, run.Seconds[50].Share)
	var eds []float64
	for _, e := range run.Events {
		if e.Kind == "eds" {
			eds = append(eds, e.AtS)
		}
	}
	assert.Equal(t, []float64{21, 41}, eds, "Kubernetes changes at 20 s and 40 s, pushed after the control-plane delay")
	f := run.Faults[0]
	require.NotNil(t, f.DetectS)
	assert.LessOrEqual(t, *f.DetectS, 1.0)
	require.NotNil(t, f.FailOverS)
	require.NotNil(t, f.FailBackS)
	assert.LessOrEqual(t, *f.FailBackS, 2.0)
	assert.Greater(t, run.Retries, 0)
	t.Log(rep.Summary())
}

// Errors about references to the topology (which the intent may give)
// point at the line and column of the reference in the scenario file.
func TestRunErrors(t *testing.T) {
	withFakeGenerator(t)
	for _, tc := range []struct{ body, want string }{
		{"traffic: {entry: cluster-9}\n", `:2:18: traffic.entry: no cluster "cluster-9" (expected edge or one of cluster-1, cluster-2)`},
		{"traffic: {entry: edge}\n", ":2:18: traffic.entry: edge entry, but the configuration has no edge.yaml"},
		{"traffic: {entry: cluster-1}\nfaults: [{kind: clusterOutage, target: {cluster: c3}}]\n", `:3:50: faults[0].target.cluster: no cluster "c3" in the topology (expected one of cluster-1, cluster-2)`},
		{"traffic: {entry: cluster-1}\nfaults: [{kind: serviceScaledToZero, target: {cluster: cluster-1, service: details}}]\n", `:3:76: faults[0].target.service: no service "details" in the topology (expected one of reviews)`},
		{"traffic: {entry: cluster-1}\nfaults: [{kind: serviceScaledToZero, target: {region: us-east1, subset: v9}}]\n", `:3:73: faults[0].target.subset: no subset "v9" in the topology (expected one of v1, v2, v3)`},
		{"traffic: {entry: cluster-1}\nfaults: [{kind: partition, target: {regions: [us-east1, mars]}}]\n", `:3:57: faults[0].target.regions[1]: no region "mars" in the topology (expected one of us-east1, us-west1)`},
		{"traffic: {entry: cluster-1}\nfaults: [{kind: clusterOutage, target: {zone: moon-1a}}]\n", `:3:47: faults[0].target.zone: no zone "moon-1a" in the topology (expected one of us-east1-b, us-west1-a)`},
		{"traffic: {entry: cluster-1, sources: {cluster-7: 10}}\n", `:2:50: traffic.sources.cluster-7: no cluster "cluster-7" in the topology (expected one of cluster-1, cluster-2)`},
		{"traffic: {entry: cluster-1}\nexpect: {maxShareOutside: {regions: [us-east1, atlantis], max: 0}}\n", `:3:37: expect.maxShareOutside.regions: no region "atlantis" in the topology (expected one of us-east1, us-west1)`},
	} {
		_, err := Run(context.Background(), scenarioFile(t, tc.body), Options{})
		require.Error(t, err, tc.body)
		assert.Contains(t, err.Error(), "drill.yaml"+tc.want)
	}
}

// A zone fault hits every endpoint of the zone's clusters; the residency
// expectation measures the share of requests that left the regions, over
// the whole run.
func TestZoneFaultAndResidency(t *testing.T) {
	withFakeGenerator(t)
	sc := scenarioFile(t, `traffic: {entry: cluster-1, rate: 50, duration: 40s, seed: 3}
faults:
  - {name: zone-down, kind: serviceScaledToZero, start: 10s, end: 20s, target: {zone: us-east1-b}}
expect:
  maxShareOutside: {regions: [us-east1], max: 0%}
expectBaseline:
  maxShareOutside: {regions: [us-east1, us-west1], max: 0%}
`)
	rep, err := Run(context.Background(), sc, Options{})
	require.NoError(t, err)
	run := rep.Runs[0]
	assert.Equal(t, "zone us-east1-b", rep.Faults[0].Target)
	assert.Equal(t, []float64{0, 1, 0}, run.Seconds[15].Share, "cluster-1's pods are down: cluster-2 answers")
	assert.Equal(t, []float64{1, 0, 0}, run.Seconds[5].Share)
	west := run.RegionShare["us-west1"]
	assert.Greater(t, west, 0.2, "the fault's 10 s of 40 went to us-west1")
	assert.Less(t, west, 0.35)
	var got []Expectation
	for _, x := range run.Expectations {
		if x.Name == "maxShareOutside" {
			got = append(got, x)
		}
	}
	require.Len(t, got, 2, "both blocks apply to the one run without filters, expectBaseline first")
	assert.Equal(t, "share outside us-east1 | us-west1", got[0].Unit)
	assert.Equal(t, 0.0, *got[0].Measured)
	assert.True(t, got[0].OK)
	assert.Equal(t, "share outside us-east1", got[1].Unit)
	assert.Equal(t, west, *got[1].Measured, "every request that left us-east1 went to us-west1")
	assert.False(t, got[1].OK)
	assert.False(t, run.Passed)
}
