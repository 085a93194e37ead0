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

func TestRunErrors(t *testing.T) {
	withFakeGenerator(t)
	_, err := Run(context.Background(), scenarioFile(t, "traffic: {entry: cluster-9}\n"), Options{})
	assert.ErrorContains(t, err, `traffic.entry: no cluster "cluster-9" (expected edge or one of cluster-1, cluster-2)`)
	_, err = Run(context.Background(), scenarioFile(t, "traffic: {entry: edge}\n"), Options{})
	assert.ErrorContains(t, err, "traffic.entry: edge entry, but the configuration has no edge.yaml")
	_, err = Run(context.Background(), scenarioFile(t, "traffic: {entry: cluster-1}\nfaults: [{kind: clusterOutage, target: {cluster: c3}}]\n"), Options{})
	assert.ErrorContains(t, err, `faults[0].target.cluster: no cluster "c3" in the topology (expected one of cluster-1, cluster-2)`)
	_, err = Run(context.Background(), scenarioFile(t, "traffic: {entry: cluster-1}\nfaults: [{kind: serviceScaledToZero, target: {cluster: cluster-1, service: details}}]\n"), Options{})
	assert.ErrorContains(t, err, `faults[0].target.service: no service "details" in the topology (expected one of reviews)`)
	_, err = Run(context.Background(), scenarioFile(t, "traffic: {entry: cluster-1}\nfaults: [{kind: serviceScaledToZero, target: {region: us-east1, subset: v9}}]\n"), Options{})
	assert.ErrorContains(t, err, `faults[0].target.subset: no subset "v9" in the topology (expected one of v1, v2, v3)`)
	_, err = Run(context.Background(), scenarioFile(t, "traffic: {entry: cluster-1}\nfaults: [{kind: partition, target: {regions: [us-east1, mars]}}]\n"), Options{})
	assert.ErrorContains(t, err, `faults[0].target.regions[1]: no region "mars" in the topology (expected one of us-east1, us-west1)`)
}
