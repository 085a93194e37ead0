package envoy

import (
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	commonv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/common/v3"
	lrv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/least_request/v3"
	rrv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/round_robin/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

// TestEDSServiceNameDefaultsToClusterName: an EDS cluster without
// eds_cluster_config.service_name takes its endpoints from the assignment
// named after the cluster (api/envoy/config/cluster/v3/cluster.proto:
// service_name is an optional alternative to the cluster name).
func TestEDSServiceNameDefaultsToClusterName(t *testing.T) {
	for _, name := range []string{"", svc} {
		s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
		s.Clusters[0].EdsClusterConfig.ServiceName = name
		p, clock := newTestProxy(s, &fakeNet{})
		r := run(t, p, clock)
		assert.Equal(t, 200, r.Status, "service_name %q", name)
		require.Len(t, r.Attempts, 1)
		assert.Equal(t, "10.0.0.1:80", r.Attempts[0].Address)
	}
}

// TestLeastRequestChoiceCount: least_request_lb_config.choice_count sets
// how many hosts a pick compares; without it Envoy compares two
// (api/envoy/config/cluster/v3/cluster.proto, choice_count defaults to 2).
func TestLeastRequestChoiceCount(t *testing.T) {
	for _, tc := range []struct {
		cfg  *clusterv3.Cluster_LeastRequestLbConfig
		want int
	}{
		{nil, 2},
		{&clusterv3.Cluster_LeastRequestLbConfig{}, 2},
		{&clusterv3.Cluster_LeastRequestLbConfig{ChoiceCount: wrapperspb.UInt32(5)}, 5},
	} {
		s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
		c := s.Clusters[0]
		c.LbPolicy = clusterv3.Cluster_LEAST_REQUEST
		if tc.cfg != nil {
			c.LbConfig = &clusterv3.Cluster_LeastRequestLbConfig_{LeastRequestLbConfig: tc.cfg}
		}
		p, _ := newTestProxy(s, &fakeNet{})
		cl, err := p.buildCluster(c)
		require.NoError(t, err)
		assert.Equal(t, lbLeastRequest, cl.lb)
		assert.Equal(t, tc.want, cl.choiceCount, "%v", tc.cfg)
	}
}

// TestResetBodyNamesRetriesOnlyWhenRetried: the local reply after a reset
// says "retried and the latest" only when more than one attempt was made
// (source/common/router/router.cc, the upstream reset's local reply).
func TestResetBodyNamesRetriesOnlyWhenRetried(t *testing.T) {
	for _, tc := range []struct {
		retry   bool
		retried bool
	}{{false, false}, {true, true}} {
		s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
		if tc.retry {
			s = snap(istioDefaultRetry(), 0, nil, ep{addr: "10.0.0.1:80"})
		}
		p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": refused}))
		r := run(t, p, clock)
		assert.Equal(t, 503, r.Status)
		assert.Equal(t, tc.retried, strings.Contains(r.Body, "retried and the latest"), r.Body)
		assert.Contains(t, r.Body, "reset reason: remote connection failure")
	}
}

// TestWasmFilterEnvironment: a Wasm filter's VM environment variables are
// handed on as given; a VM without any has none (nil, not an empty map).
func TestWasmFilterEnvironment(t *testing.T) {
	for _, kv := range []map[string]string{nil, {"DETOUR_NODE": "gw-1"}} {
		pc := &wasmv3.PluginConfig{Name: "detour", Vm: &wasmv3.PluginConfig_VmConfig{VmConfig: &wasmv3.VmConfig{
			EnvironmentVariables: &wasmv3.EnvironmentVariables{KeyValues: kv}}}}
		w, err := wasmFilter(pc)
		require.NoError(t, err)
		assert.Equal(t, kv, w.Env)
	}
}

// TestHTTPCallTimeoutAtTheDeadline: a call answered exactly at its timeout
// is a timeout for the Wasm host (proxywasm's httpcall.go: delay >=
// timeout), so outlier detection counts it as a local-origin timeout, not
// as the 200 that arrived too late: two of them eject the host.
func TestHTTPCallTimeoutAtTheDeadline(t *testing.T) {
	for _, tc := range []struct {
		latency  time.Duration
		ejection int
	}{{999 * time.Millisecond, 0}, {time.Second, 1}, {1001 * time.Millisecond, 1}} {
		od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), Consecutive_5Xx: wrapperspb.UInt32(2)}
		s := snap(nil, 0, od, ep{addr: "10.0.0.1:80"}, ep{addr: "10.1.0.1:15443", priority: 1})
		slow := Result{Outcome: OutcomeResponse, Status: 200, Latency: tc.latency}
		p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": slow}))
		for range 2 {
			p.HTTPCall(&pw.HTTPCallRequest{Cluster: svc, Headers: hdrs("svc", "/check"), Timeout: time.Second})
			clock.Advance(2 * time.Second)
		}
		assert.Equal(t, tc.ejection, p.Counters().Ejections, "latency %s", tc.latency)
	}
}

// TestPreviousHostsWithRandomLB: with the previous_hosts predicate a retry
// never lands on the host that just failed, even where the load balancer
// alone would pick it again (random; host_selection_retry_max_attempts
// gives the re-draws, router/retry_state_impl.cc shouldSelectAnotherHost).
func TestPreviousHostsWithRandomLB(t *testing.T) {
	rp := &routev3.RetryPolicy{RetryOn: "connect-failure", NumRetries: wrapperspb.UInt32(1),
		HostSelectionRetryMaxAttempts: 50,
		RetryHostPredicate:            previousHosts()}
	s := snap(rp, 0, nil, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})
	s.Clusters[0].LbPolicy = clusterv3.Cluster_RANDOM
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": refused, "10.0.0.2:80": refused}))
	for range 40 {
		r := run(t, p, clock)
		require.Len(t, r.Attempts, 2)
		assert.NotEqual(t, r.Attempts[0].Address, r.Attempts[1].Address, "the retry avoids the host that failed")
	}
}

// TestBackOffMaxDefault: without max_interval the back-off's cap is ten
// times its base (route_components.proto RetryBackOff.max_interval).
func TestBackOffMaxDefault(t *testing.T) {
	for _, tc := range []struct{ base, max, want time.Duration }{
		{0, 0, 250 * time.Millisecond},
		{100 * time.Millisecond, 0, time.Second},
		{100 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond},
	} {
		rp := &routev3.RetryPolicy{RetryOn: "5xx"}
		if tc.base > 0 {
			rp.RetryBackOff = &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(tc.base)}
			if tc.max > 0 {
				rp.RetryBackOff.MaxInterval = durationpb.New(tc.max)
			}
		}
		p, err := compileRetry(rp, func(string) {})
		require.NoError(t, err)
		assert.Equal(t, tc.want, p.max, "base %s max %s", tc.base, tc.max)
	}
}

// TestTypedLoadBalancingPolicy: load_balancing_policy's typed round robin
// and least request (what Istio sends for locality-weighted clusters) set
// the pick and its locality weighting.
func TestTypedLoadBalancingPolicy(t *testing.T) {
	weighted := &commonv3.LocalityLbConfig{LocalityConfigSpecifier: &commonv3.LocalityLbConfig_LocalityWeightedLbConfig_{
		LocalityWeightedLbConfig: &commonv3.LocalityLbConfig_LocalityWeightedLbConfig{}}}
	rr, err := anypb.New(&rrv3.RoundRobin{LocalityLbConfig: weighted})
	require.NoError(t, err)
	lr, err := anypb.New(&lrv3.LeastRequest{ChoiceCount: wrapperspb.UInt32(4)})
	require.NoError(t, err)
	for _, tc := range []struct {
		policy   *anypb.Any
		lb       lbPolicy
		choices  int
		weighted bool
	}{{rr, lbRoundRobin, 2, true}, {lr, lbLeastRequest, 4, false}} {
		s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
		c := s.Clusters[0]
		c.LbPolicy = clusterv3.Cluster_LOAD_BALANCING_POLICY_CONFIG
		c.LoadBalancingPolicy = &clusterv3.LoadBalancingPolicy{Policies: []*clusterv3.LoadBalancingPolicy_Policy{{
			TypedExtensionConfig: &corev3.TypedExtensionConfig{Name: "lb", TypedConfig: tc.policy}}}}
		p, _ := newTestProxy(s, &fakeNet{})
		cl, err := p.buildCluster(c)
		require.NoError(t, err, tc.policy.GetTypeUrl())
		assert.Equal(t, tc.lb, cl.lb)
		assert.Equal(t, tc.choices, cl.choiceCount)
		assert.Equal(t, tc.weighted, cl.localityWeighted)
	}
}
