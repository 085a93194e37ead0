package envoy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	prevhosts "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	prevprio "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/priority/previous_priorities/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/detour-mesh/detour/harness/simulator/xds"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// istioDefaultRetry is Istio's default retry policy (1.24+: no 503).
func istioDefaultRetry() *routev3.RetryPolicy {
	return &routev3.RetryPolicy{
		RetryOn:                       "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
		NumRetries:                    wrapperspb.UInt32(2),
		HostSelectionRetryMaxAttempts: 5,
		RetryHostPredicate:            previousHosts(),
	}
}

// previousHosts is Istio's retry host predicate, with its typed config
// (Envoy finds the predicate by the config's type).
func previousHosts() []*routev3.RetryPolicy_RetryHostPredicate {
	tc, err := anypb.New(&prevhosts.PreviousHostsPredicate{})
	if err != nil {
		panic(err)
	}
	return []*routev3.RetryPolicy_RetryHostPredicate{{Name: "envoy.retry_host_predicates.previous_hosts",
		ConfigType: &routev3.RetryPolicy_RetryHostPredicate_TypedConfig{TypedConfig: tc}}}
}

func retryRemoteLocalities(rp *routev3.RetryPolicy) *routev3.RetryPolicy {
	tc, err := anypb.New(&prevprio.PreviousPrioritiesConfig{UpdateFrequency: 2})
	if err != nil {
		panic(err)
	}
	rp.RetryPriority = &routev3.RetryPolicy_RetryPriority{Name: "envoy.retry_priorities.previous_priorities",
		ConfigType: &routev3.RetryPolicy_RetryPriority_TypedConfig{TypedConfig: tc}}
	return rp
}

// snap is a gateway for host "svc" routing everything to svc with rp and
// a route timeout (0: none), and one EDS cluster with eps.
func snap(rp *routev3.RetryPolicy, timeout time.Duration, od *clusterv3.OutlierDetection, eps ...ep) *xds.Snapshot {
	r := clusterRoute("/", svc)
	r.GetRoute().RetryPolicy = rp
	r.GetRoute().Timeout = durationpb.New(timeout)
	return &xds.Snapshot{
		Listeners: []*listenerv3.Listener{gatewayListener(8080, "http.8080")},
		Routes: []*routev3.RouteConfiguration{newRouteConfig("http.8080", &routev3.VirtualHost{
			Name: "svc", Domains: []string{"svc"}, Routes: []*routev3.Route{r}})},
		Clusters:  []*clusterv3.Cluster{edsCluster(svc, od)},
		Endpoints: []*endpointv3.ClusterLoadAssignment{assignment(svc, eps...)},
	}
}

// byHost answers from a per-address script (default 200 after 10ms).
func byHost(m map[string]Result) *fakeNet {
	return &fakeNet{fn: func(_ time.Time, a *Attempt) Result {
		if r, ok := m[a.Address]; ok {
			return r
		}
		return Result{Outcome: OutcomeResponse, Status: 200, Latency: 10 * time.Millisecond}
	}}
}

func run(t *testing.T, p *Proxy, clock *vclock.Clock) *Record {
	t.Helper()
	x := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
	clock.Advance(time.Minute)
	require.True(t, x.Done)
	return x.Record
}

func addrs(r *Record) []string {
	var out []string
	for _, a := range r.Attempts {
		out = append(out, a.Address+" "+a.Outcome)
	}
	return out
}

var refused = Result{Outcome: OutcomeConnectFailure, Latency: time.Millisecond, Cause: "refused"}

func TestConnectFailureRetriedOnAnotherHost(t *testing.T) {
	s := snap(istioDefaultRetry(), 0, nil, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": refused}))
	r := run(t, p, clock)
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, []string{"10.0.0.1:80 connect_failure", "10.0.0.2:80 response"}, addrs(r))
	assert.Equal(t, 1, r.Retries)
	// First retry back-off is U[0,25ms).
	gap := r.Attempts[1].Start.Sub(r.Attempts[0].End)
	assert.Less(t, gap, 25*time.Millisecond)
	assert.Equal(t, "refused", r.Attempts[0].Cause)
	c := p.Counters()
	assert.Equal(t, 1, c.Retries)
	assert.Equal(t, 2, c.Attempts)
}

func TestConnectFailureExhaustsRetries(t *testing.T) {
	s := snap(istioDefaultRetry(), 0, nil, ep{addr: "10.0.0.1:80"})
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": refused}))
	r := run(t, p, clock)
	assert.Equal(t, 503, r.Status)
	assert.Len(t, r.Attempts, 3)
	assert.Equal(t, []string{"URX", "UF"}, r.Flags)
	assert.Equal(t, "upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}", r.Details)
	assert.True(t, strings.HasPrefix(r.Body, "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure"), r.Body)
	assert.Equal(t, 1, p.Counters().RetryLimitExceeded)
}

func TestIstioDefaultDoesNotRetry503(t *testing.T) {
	s := snap(istioDefaultRetry(), 0, nil, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeResponse, Status: 503, Latency: time.Millisecond}}))
	r := run(t, p, clock)
	assert.Equal(t, 503, r.Status)
	assert.Equal(t, "via_upstream", r.Details)
	assert.Len(t, r.Attempts, 1)
	assert.Empty(t, r.Flags)

	// Nor a reset after the connection was made (remote gateway closes).
	p, clock = newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeReset, Reset: ResetConnectionTermination, Latency: time.Millisecond}}))
	r = run(t, p, clock)
	assert.Equal(t, 503, r.Status)
	assert.Equal(t, []string{"UC"}, r.Flags)
	assert.Equal(t, "upstream_reset_before_response_started{connection_termination}", r.Details)

	// With 503 in retriable_status_codes (Istio < 1.24) it is retried.
	rp := istioDefaultRetry()
	rp.RetriableStatusCodes = []uint32{503}
	s = snap(rp, 0, nil, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})
	p, clock = newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeResponse, Status: 503, Latency: time.Millisecond}}))
	r = run(t, p, clock)
	assert.Equal(t, 200, r.Status)
	assert.Len(t, r.Attempts, 2)
}

func TestPerTryAndRouteTimeouts(t *testing.T) {
	hang := Result{Outcome: OutcomeHang}
	rp := &routev3.RetryPolicy{RetryOn: "5xx", NumRetries: wrapperspb.UInt32(1), PerTryTimeout: durationpb.New(time.Second)}
	s := snap(rp, 0, nil, ep{addr: "10.0.0.1:80"})
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": hang}))
	r := run(t, p, clock)
	assert.Equal(t, 504, r.Status)
	assert.Equal(t, "upstream_per_try_timeout", r.Details)
	assert.Equal(t, []string{"URX", "UT"}, r.Flags)
	assert.Equal(t, []string{"10.0.0.1:80 per_try_timeout", "10.0.0.1:80 per_try_timeout"}, addrs(r))
	assert.GreaterOrEqual(t, r.Latency, 2*time.Second)
	assert.Less(t, r.Latency, 2*time.Second+25*time.Millisecond)

	// The route timeout covers every attempt and is never retried.
	s = snap(rp, 1500*time.Millisecond, nil, ep{addr: "10.0.0.1:80"})
	p, clock = newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": hang}))
	r = run(t, p, clock)
	assert.Equal(t, 504, r.Status)
	assert.Equal(t, "upstream_response_timeout", r.Details)
	assert.Equal(t, 1500*time.Millisecond, r.Latency)
	assert.Equal(t, "route_timeout", r.Attempts[1].Outcome)
	assert.Equal(t, 1, p.Counters().RouteTimeouts)

	// A per-try timeout is not a connect failure: Istio's default policy
	// does not retry it.
	rp2 := istioDefaultRetry()
	rp2.PerTryTimeout = durationpb.New(time.Second)
	s = snap(rp2, 0, nil, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})
	p, clock = newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": hang}))
	r = run(t, p, clock)
	assert.Equal(t, 504, r.Status)
	assert.Len(t, r.Attempts, 1)
}

func TestConnectTimeoutUsesClusterTimeout(t *testing.T) {
	// Partition: connect timeouts (cluster connect_timeout 10s) are
	// retried as connect failures; the 15s route timeout ends the second.
	s := snap(istioDefaultRetry(), 15*time.Second, nil, ep{addr: "10.0.0.1:80"})
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeConnectTimeout}}))
	r := run(t, p, clock)
	assert.Equal(t, 504, r.Status)
	assert.Equal(t, "upstream_response_timeout", r.Details)
	assert.Equal(t, 15*time.Second, r.Latency)
	require.Len(t, r.Attempts, 2)
	assert.Equal(t, 10*time.Second, r.Attempts[0].End.Sub(r.Attempts[0].Start))
	assert.Equal(t, OutcomeConnectTimeout, r.Attempts[0].Outcome)
}

func TestNoHealthyUpstreamAndClusterNotFound(t *testing.T) {
	s := snap(nil, 0, nil)
	p, clock := newTestProxy(s, &fakeNet{})
	r := run(t, p, clock)
	assert.Equal(t, 503, r.Status)
	assert.Equal(t, "no_healthy_upstream", r.Details)
	assert.Equal(t, []string{"UH"}, r.Flags)
	assert.Equal(t, "no healthy upstream", r.Body)

	s.Routes[0].VirtualHosts[0].Routes[0].GetRoute().ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: "missing"}
	p, clock = newTestProxy(s, &fakeNet{})
	r = run(t, p, clock)
	assert.Equal(t, 503, r.Status)
	assert.Equal(t, []string{"NC"}, r.Flags)
}

func TestCircuitBreakers(t *testing.T) {
	// max_requests 1: the second concurrent request overflows (UO).
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Clusters[0].CircuitBreakers.Thresholds[0].MaxRequests = wrapperspb.UInt32(1)
	p, clock := newTestProxy(s, &fakeNet{})
	a := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
	b := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
	clock.Advance(time.Second)
	assert.Equal(t, 200, a.Record.Status)
	assert.Equal(t, 503, b.Record.Status)
	assert.Equal(t, []string{"UO"}, b.Record.Flags)
	assert.Equal(t, "upstream_reset_before_response_started{overflow}", b.Record.Details)
	assert.Equal(t, 1, p.Counters().Overflow)

	// max_retries 0: the retry is refused (UO) and the response forwarded.
	rp := &routev3.RetryPolicy{RetryOn: "5xx", NumRetries: wrapperspb.UInt32(2)}
	s = snap(rp, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Clusters[0].CircuitBreakers.Thresholds[0].MaxRetries = wrapperspb.UInt32(0)
	p, clock = newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeResponse, Status: 500, Latency: time.Millisecond}}))
	r := run(t, p, clock)
	assert.Equal(t, 500, r.Status)
	assert.Equal(t, []string{"UO"}, r.Flags)
	assert.Equal(t, 1, p.Counters().RetryOverflow)

	// max_connections 1 with max_pending 1: one queued, the third overflows.
	s = snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Clusters[0].CircuitBreakers.Thresholds[0].MaxConnections = wrapperspb.UInt32(1)
	s.Clusters[0].CircuitBreakers.Thresholds[0].MaxPendingRequests = wrapperspb.UInt32(1)
	p, clock = newTestProxy(s, &fakeNet{})
	xs := []*Exchange{p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")}), p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")}), p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})}
	clock.Advance(time.Second)
	assert.Equal(t, 200, xs[0].Record.Status)
	assert.Equal(t, 200, xs[1].Record.Status)
	assert.Equal(t, 10*time.Millisecond, xs[1].Record.Latency) // 5ms queued + 5ms
	assert.Equal(t, 503, xs[2].Record.Status)
}

func TestRetryBudget(t *testing.T) {
	rp := &routev3.RetryPolicy{RetryOn: "5xx", NumRetries: wrapperspb.UInt32(1)}
	s := snap(rp, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Clusters[0].CircuitBreakers.Thresholds[0].RetryBudget = &clusterv3.CircuitBreakers_Thresholds_RetryBudget{
		MinRetryConcurrency: wrapperspb.UInt32(2)}
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeResponse, Status: 500, Latency: 100 * time.Millisecond}}))
	for range 5 {
		p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
	}
	clock.Advance(time.Second)
	// 5 concurrent failures: budget max(20% of 5 active, 2) = 2 retries.
	assert.Equal(t, 2, p.Counters().Retries)
	assert.Equal(t, 3, p.Counters().RetryOverflow)
}

// Outlier detection ejects the local host; priority load moves to P1 at
// once; the interval tick brings it back.
func TestEjectionFailsOverAndBack(t *testing.T) {
	od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), Consecutive_5Xx: wrapperspb.UInt32(3),
		Interval: durationpb.New(5 * time.Second), BaseEjectionTime: durationpb.New(15 * time.Second)}
	s := snap(nil, 0, od, ep{addr: "10.0.0.1:80", locality: "a"}, ep{addr: "10.1.0.1:15443", priority: 1, locality: "b"})
	down := true
	var events []Event
	net := &fakeNet{fn: func(_ time.Time, a *Attempt) Result {
		if a.Address == "10.0.0.1:80" && down {
			return Result{Outcome: OutcomeResponse, Status: 503, Latency: 10 * time.Millisecond}
		}
		return Result{Outcome: OutcomeResponse, Status: 200, Latency: 10 * time.Millisecond}
	}}
	clock := vclock.New(time.Time{})
	p, err := New(Config{Name: "gw", Snapshot: s, Clock: clock, Network: net, Seed: 3, OnEvent: func(e Event) { events = append(events, e) }})
	require.NoError(t, err)
	// One request every 100ms: three 503s eject the local host (one
	// dispatcher hop after the third), then P1 takes everything.
	var statuses []int
	var prios []int
	for range 6 {
		x := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
		clock.Advance(100 * time.Millisecond)
		statuses = append(statuses, x.Record.Status)
		prios = append(prios, x.Record.Attempts[0].Priority)
	}
	assert.Equal(t, []int{503, 503, 503, 200, 200, 200}, statuses)
	assert.Equal(t, []int{0, 0, 0, 1, 1, 1}, prios)
	st, ok := p.ClusterStatus(svc)
	require.True(t, ok)
	assert.Equal(t, []uint32{0, 100}, st.HealthyLoad)
	assert.True(t, st.Hosts[0].Ejected)
	require.NotEmpty(t, events)
	assert.Equal(t, EventEject, events[0].Kind)
	assert.Equal(t, "10.0.0.1:80", events[0].Host)
	assert.Equal(t, svc, events[0].Cluster)
	assert.Equal(t, DetectorConsecutive5xx, events[0].Detector)
	assert.Equal(t, "gw", events[0].Proxy)
	// The third 503 arrives at 210ms: ejected for 15s, the first tick at or
	// after 15.21s is 20s.
	assert.Equal(t, 210*time.Millisecond, events[0].At.Sub(clock.Start()))
	down = false
	clock.Advance(19*time.Second - clock.Since())
	st, _ = p.ClusterStatus(svc)
	assert.True(t, st.Hosts[0].Ejected)
	clock.Advance(time.Second)
	require.Equal(t, []string{EventEject, EventUneject}, kindsOf(events))
	assert.Equal(t, 20*time.Second, events[1].At.Sub(clock.Start()))
	st, _ = p.ClusterStatus(svc)
	assert.Equal(t, []uint32{100, 0}, st.HealthyLoad)
	r := run(t, p, clock)
	assert.Equal(t, "10.0.0.1:80", r.Attempts[0].Address)
	assert.Equal(t, 0, r.Attempts[0].Priority)
}

func kindsOf(es []Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Kind)
	}
	return out
}

// Envoy's default max_ejection_percent (10) never ejects a remote cluster
// that is one endpoint: failover never happens.
func TestDefaultMaxEjectionPercentNeverEjectsSmallPool(t *testing.T) {
	od := &clusterv3.OutlierDetection{Consecutive_5Xx: wrapperspb.UInt32(3)}
	s := snap(nil, 0, od, ep{addr: "10.0.0.1:80"}, ep{addr: "10.1.0.1:15443", priority: 1})
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeResponse, Status: 503, Latency: time.Millisecond}}))
	for range 20 {
		assert.Equal(t, 503, run(t, p, clock).Status)
	}
	assert.Equal(t, 0, p.Counters().Ejections)
	assert.Positive(t, p.Counters().EjectionsOverflow)
}

// retryRemoteLocalities: previous_priorities with update_frequency 2.
func TestPreviousPriorities(t *testing.T) {
	s := snap(retryRemoteLocalities(istioDefaultRetry()), 0, nil,
		ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"}, ep{addr: "10.1.0.1:15443", priority: 1})
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": refused, "10.0.0.2:80": refused}))
	r := run(t, p, clock)
	assert.Equal(t, 200, r.Status)
	require.Len(t, r.Attempts, 3)
	// Two attempts in P0 (different hosts), then P0 is excluded.
	assert.Equal(t, 0, r.Attempts[0].Priority)
	assert.Equal(t, 0, r.Attempts[1].Priority)
	assert.NotEqual(t, r.Attempts[0].Address, r.Attempts[1].Address)
	assert.Equal(t, 1, r.Attempts[2].Priority)

	// Without the retry priority, every retry stays in P0.
	s = snap(istioDefaultRetry(), 0, nil, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"}, ep{addr: "10.1.0.1:15443", priority: 1})
	p, clock = newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": refused, "10.0.0.2:80": refused}))
	r = run(t, p, clock)
	assert.Equal(t, 503, r.Status)
	for _, a := range r.Attempts {
		assert.Equal(t, 0, a.Priority)
	}
}

func TestRouteMatching(t *testing.T) {
	mk := func(name, cluster string) *routev3.Route {
		r := clusterRoute("/", cluster)
		r.Name = name
		return r
	}
	v1 := &routev3.Route{Name: "v1", Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"},
		Headers: []*routev3.HeaderMatcher{{Name: "x-version", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
			StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "v1"}}}}}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "c-v1"}}}}
	rx := &routev3.Route{Name: "rx", Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{
		SafeRegex: &matcherv3.RegexMatcher{Regex: "/api/[0-9]+"}}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_ClusterHeader{ClusterHeader: "x-cluster"}}}}
	exact := &routev3.Route{Name: "exact", Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/health"}},
		Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 204}}}
	weighted := &routev3.Route{Name: "w", Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/w"}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_WeightedClusters{
			WeightedClusters: &routev3.WeightedCluster{Clusters: []*routev3.WeightedCluster_ClusterWeight{
				{Name: "c-v1", Weight: wrapperspb.UInt32(80)}, {Name: "c-v2", Weight: wrapperspb.UInt32(20)}}}}}}}
	s := &xds.Snapshot{
		Listeners: []*listenerv3.Listener{gatewayListener(8080, "http.8080")},
		Routes: []*routev3.RouteConfiguration{newRouteConfig("http.8080",
			&routev3.VirtualHost{Name: "exact", Domains: []string{"app.example.com"}, Routes: []*routev3.Route{exact, rx, weighted, v1, mk("d", "c-default")}},
			&routev3.VirtualHost{Name: "suffix", Domains: []string{"*.example.com"}, Routes: []*routev3.Route{mk("s", "c-v2")}},
			&routev3.VirtualHost{Name: "prefix", Domains: []string{"app.*"}, Routes: []*routev3.Route{mk("p", "c-v1")}},
			&routev3.VirtualHost{Name: "any", Domains: []string{"*"}, Routes: []*routev3.Route{mk("any", "c-default")}},
		)},
	}
	for _, c := range []string{"c-v1", "c-v2", "c-default"} {
		s.Clusters = append(s.Clusters, edsCluster(c, nil))
		s.Endpoints = append(s.Endpoints, assignment(c, ep{addr: "10.0.0.1:80"}))
	}
	p, clock := newTestProxy(s, &fakeNet{})
	send := func(authority, path string, extra ...[2]string) *Record {
		x := p.Send(Request{Port: 8080, Headers: append(hdrs(authority, path), extra...)})
		clock.Advance(time.Second)
		return x.Record
	}
	cases := []struct {
		auth, path string
		extra      [][2]string
		vh, route  string
		cluster    string
		status     int
	}{
		{"app.example.com", "/", nil, "exact", "d", "c-default", 200},
		{"APP.example.com:8080", "/", [][2]string{{"x-version", "v1"}}, "exact", "v1", "c-v1", 200},
		{"app.example.com", "/health", nil, "exact", "exact", "", 204},
		{"app.example.com", "/health?x=1", nil, "exact", "exact", "", 204},
		{"app.example.com", "/api/12", [][2]string{{"x-cluster", "c-v2"}}, "exact", "rx", "c-v2", 200},
		{"app.example.com", "/api/12", nil, "exact", "rx", "", 503},
		{"www.example.com", "/", nil, "suffix", "s", "c-v2", 200},
		{"app.other.org", "/", nil, "prefix", "p", "c-v1", 200},
		{"nothing.org", "/", nil, "any", "any", "c-default", 200},
	}
	for _, c := range cases {
		t.Run(c.auth+c.path, func(t *testing.T) {
			r := send(c.auth, c.path, c.extra...)
			assert.Equal(t, c.vh, r.VirtualHost)
			assert.Equal(t, c.route, r.Route)
			assert.Equal(t, c.cluster, r.Cluster)
			assert.Equal(t, c.status, r.Status)
		})
	}
	counts := map[string]int{}
	for range 1000 {
		counts[send("app.example.com", "/w").Cluster]++
	}
	assert.InDelta(t, 800, counts["c-v1"], 60)
	assert.InDelta(t, 200, counts["c-v2"], 60)
}

func TestDeterministicWithSeed(t *testing.T) {
	runAll := func() string {
		od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100)}
		s := snap(istioDefaultRetry(), 0, od, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"}, ep{addr: "10.1.0.1:15443", priority: 1})
		s.Clusters[0].LbPolicy = clusterv3.Cluster_LEAST_REQUEST
		n := 0
		net := &fakeNet{fn: func(_ time.Time, a *Attempt) Result {
			n++
			if n%3 == 0 {
				return refused
			}
			return Result{Outcome: OutcomeResponse, Status: 200 + 303*(n%5/4), Latency: time.Duration(n%7) * time.Millisecond}
		}}
		p, clock := newTestProxy(s, net)
		var out strings.Builder
		for range 300 {
			x := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
			clock.Advance(3 * time.Millisecond)
			defer func() { fmt.Fprintf(&out, "%d %v %v|", x.Record.Status, addrs(x.Record), x.Record.Latency) }()
		}
		clock.Advance(time.Minute)
		return out.String()
	}
	assert.Equal(t, runAll(), runAll())
}

// Configuration the model does not know is a warning, not a failure: the
// route answers 503 route_not_modelled, an unknown retry_on token is
// ignored, a route whose match cannot be evaluated is left out.
func TestUnmodelledConfigurationWarns(t *testing.T) {
	s := snap(&routev3.RetryPolicy{RetryOn: "5xx,future-condition"}, 0, nil, ep{addr: "10.0.0.1:80"})
	vh := s.Routes[0].VirtualHosts[0]
	odd := clusterRoute("/odd", svc)
	odd.Name = "odd"
	odd.Action = &routev3.Route_NonForwardingAction{NonForwardingAction: &routev3.NonForwardingAction{}}
	badMatch := clusterRoute("/", svc)
	badMatch.Match.PathSpecifier = &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "(unclosed"}}
	vh.Routes = append([]*routev3.Route{odd, badMatch}, vh.Routes...)
	p, clock := newTestProxy(s, &fakeNet{})
	w := p.Warnings()
	require.Len(t, w, 3, "%v", w)
	assert.Contains(t, w[0], "NonForwardingAction is not modelled")
	assert.Contains(t, w[1], "routes[1]: match: safe_regex")
	assert.Contains(t, w[2], `unknown retry_on condition "future-condition"`)
	x := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/odd")})
	clock.Advance(time.Second)
	assert.Equal(t, 503, x.Record.Status)
	assert.Equal(t, "route_not_modelled", x.Record.Details)
	r := run(t, p, clock)
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, "/", r.Route)
}
