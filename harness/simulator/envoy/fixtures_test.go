package envoy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/detour-mesh/detour/harness/simulator/xds"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// Hand-built xDS fixtures in the shape Istio generates for an ingress
// gateway: listener 0.0.0.0_8080 → RDS http.8080 → one virtual host per
// host name, EDS clusters outbound|PORT|SUBSET|FQDN.

func gatewayListener(port uint32, rds string) *listenerv3.Listener {
	h := &hcmv3.HttpConnectionManager{
		StatPrefix:     "outbound_0.0.0.0_" + fmt.Sprint(port),
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{RouteConfigName: rds}},
		StripPortMode:  &hcmv3.HttpConnectionManager_StripAnyHostPort{StripAnyHostPort: true},
	}
	tc, err := anypb.New(h)
	if err != nil {
		panic(err)
	}
	return &listenerv3.Listener{
		Name: fmt.Sprintf("0.0.0.0_%d", port),
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name: "envoy.filters.network.http_connection_manager", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: tc}}}}},
	}
}

func clusterRoute(prefix, cluster string) *routev3.Route {
	return &routev3.Route{Name: prefix, Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: prefix}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: cluster},
			Timeout:          durationpb.New(0)}}}
}

func newRouteConfig(name string, vhs ...*routev3.VirtualHost) *routev3.RouteConfiguration {
	return &routev3.RouteConfiguration{Name: name, VirtualHosts: vhs}
}

// edsCluster is an EDS cluster with Istio's circuit breaker defaults
// (MaxUint32) and, if od is set, outlier detection with panic disabled.
func edsCluster(name string, od *clusterv3.OutlierDetection) *clusterv3.Cluster {
	maxU := wrapperspb.UInt32(^uint32(0))
	c := &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{ServiceName: name},
		ConnectTimeout:       durationpb.New(10 * time.Second),
		LbPolicy:             clusterv3.Cluster_ROUND_ROBIN,
		CircuitBreakers: &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
			MaxConnections: maxU, MaxPendingRequests: maxU, MaxRequests: maxU, MaxRetries: maxU}}},
		OutlierDetection: od,
	}
	if od != nil {
		c.CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{HealthyPanicThreshold: &typev3.Percent{Value: 0}}
	}
	return c
}

type ep struct {
	addr     string
	priority uint32
	locality string // zone
	weight   uint32
}

func assignment(name string, eps ...ep) *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: name}
	for _, e := range eps {
		host, ps, _ := strings.Cut(e.addr, ":")
		port64, _ := strconv.ParseUint(ps, 10, 32)
		port := uint32(port64)
		le := &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}}}}
		if e.weight > 0 {
			le.LoadBalancingWeight = wrapperspb.UInt32(e.weight)
		}
		cla.Endpoints = append(cla.Endpoints, &endpointv3.LocalityLbEndpoints{
			Locality: &corev3.Locality{Region: "r", Zone: e.locality}, Priority: e.priority,
			LbEndpoints: []*endpointv3.LbEndpoint{le}})
	}
	return cla
}

func hdrs(authority, path string) [][2]string {
	return [][2]string{{":method", "GET"}, {":path", path}, {":authority", authority}, {":scheme", "http"}}
}

// fakeNet answers by host address with a scripted function.
type fakeNet struct {
	fn   func(now time.Time, a *Attempt) Result
	sent []Attempt
}

func (f *fakeNet) Send(now time.Time, a *Attempt) Result {
	f.sent = append(f.sent, *a)
	if f.fn == nil {
		return Result{Outcome: OutcomeResponse, Status: 200, Latency: 5 * time.Millisecond}
	}
	return f.fn(now, a)
}

func newTestProxy(s *xds.Snapshot, n Network) (*Proxy, *vclock.Clock) {
	clock := vclock.New(time.Time{})
	p, err := New(Config{Name: "gw", Snapshot: s, Clock: clock, Network: n, Seed: 1})
	if err != nil {
		panic(err)
	}
	return p, clock
}
