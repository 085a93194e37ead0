package envoy

import (
	"testing"
	"time"

	xdstype "github.com/cncf/xds/go/xds/type/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	prevprio "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/priority/previous_priorities/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

// Decisions found by the full mutation run of harness/simulator/envoy on
// 5 December (BENCHMARKS.md, "Mutation testing"): survivors and lines no
// test reached.

// Hosts of unequal load_balancing_weight share a host source in proportion
// to their weights (EdfLoadBalancerBase, the EDF scheduler of
// load_balancer_impl.cc; Istio gives an east-west gateway endpoint the
// weight of the endpoints behind it). Least request scales each weight by
// 1 / (active requests + 1) (least_request_lb.cc hostWeight, with the
// default active_request_bias 1). The model draws by weight; 4000 picks
// from a fixed seed, each share within about four standard deviations.
func TestWeightedHostChoice(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lb     clusterv3.Cluster_LbPolicy
		weight [2]uint32
		active [2]int
		want   float64 // the first host's share
	}{
		{"round robin, weights 1 and 3", clusterv3.Cluster_ROUND_ROBIN, [2]uint32{1, 3}, [2]int{0, 0}, 0.25},
		{"round robin ignores active requests", clusterv3.Cluster_ROUND_ROBIN, [2]uint32{1, 3}, [2]int{0, 5}, 0.25},
		{"least request, idle: weights 1 and 3", clusterv3.Cluster_LEAST_REQUEST, [2]uint32{1, 3}, [2]int{0, 0}, 0.25},
		{"least request, 1/1 against 3/2", clusterv3.Cluster_LEAST_REQUEST, [2]uint32{1, 3}, [2]int{0, 1}, 0.4},
		{"least request, 3/2 against 1/1", clusterv3.Cluster_LEAST_REQUEST, [2]uint32{3, 1}, [2]int{1, 0}, 0.6},
		{"least request, 1/1 against 3/6", clusterv3.Cluster_LEAST_REQUEST, [2]uint32{1, 3}, [2]int{0, 5}, 2.0 / 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80", weight: tc.weight[0]}, ep{addr: "10.0.0.2:80", weight: tc.weight[1]})
			s.Clusters[0].LbPolicy = tc.lb
			p, _ := newTestProxy(s, &fakeNet{})
			cl := p.clusters[svc]
			ps := cl.prios[0]
			ps.hosts[0].active, ps.hosts[1].active = tc.active[0], tc.active[1]
			const n = 4000
			first := 0
			for range n {
				if cl.pick(ps, "h", ps.hosts) == ps.hosts[0] {
					first++
				}
			}
			assert.InDelta(t, tc.want*n, first, 120, "picks of the first host")
		})
	}
}

// A cluster without connect_timeout gives up a connect after 5 s
// (cluster.proto: connect_timeout defaults to 5s; Istio always sets it,
// a hand-written cluster may not).
func TestDefaultConnectTimeoutIsFiveSeconds(t *testing.T) {
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Clusters[0].ConnectTimeout = nil
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeConnectTimeout}}))
	r := run(t, p, clock)
	assert.Equal(t, 503, r.Status)
	assert.Equal(t, []string{"UF"}, r.Flags)
	assert.Equal(t, 5*time.Second, r.Latency)
}

// A Wasm filter's http_call that never gets an answer ends only at its
// own timeout (the AsyncClient request's timeout, Context::httpCall in
// source/extensions/common/wasm/context.cc): then it frees its request
// slot and outlier detection counts a local-origin timeout (two eject the
// host here). With no timeout it holds the slot for good and reports
// nothing.
func TestHungHTTPCall(t *testing.T) {
	for _, tc := range []struct {
		timeout   time.Duration
		active    int
		ejections int
	}{{0, 2, 0}, {time.Second, 0, 1}} {
		od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), Consecutive_5Xx: wrapperspb.UInt32(2)}
		s := snap(nil, 0, od, ep{addr: "10.0.0.1:80"}, ep{addr: "10.1.0.1:15443", priority: 1})
		p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeHang}}))
		for range 2 {
			res := p.HTTPCall(&pw.HTTPCallRequest{Cluster: svc, Headers: hdrs("svc", "/check"), Timeout: tc.timeout})
			assert.Equal(t, pw.FaultTimeout, res.Fault)
			clock.Advance(2 * time.Second)
		}
		st, _ := p.ClusterStatus(svc)
		assert.Equal(t, tc.active, st.ActiveRequests, "timeout %s: requests still out", tc.timeout)
		assert.Equal(t, tc.ejections, p.Counters().Ejections, "timeout %s", tc.timeout)
	}
}

// An http_call to a cluster with no healthy host fails at once and counts
// as upstream_cx_none_healthy, as the router's 503 UH does.
func TestHTTPCallWithoutHealthyHostCounted(t *testing.T) {
	s := snap(nil, 0, nil)
	p, _ := newTestProxy(s, &fakeNet{})
	res := p.HTTPCall(&pw.HTTPCallRequest{Cluster: svc, Headers: hdrs("svc", "/check"), Timeout: time.Second})
	assert.Equal(t, pw.FaultNoHealthyUpstream, res.Fault)
	assert.Equal(t, 1, p.Counters().NoHealthyUpstream)
}

// Of several wildcard domains that match, the longest wins, suffix
// wildcards before prefix ones (config_impl.cc RouteMatcher::
// findWildcardVirtualHost walks the wildcards by length, longest first),
// whatever order the virtual hosts come in.
func TestLongestWildcardDomainWins(t *testing.T) {
	vh := func(name string, domains ...string) *routev3.VirtualHost {
		return &routev3.VirtualHost{Name: name, Domains: domains, Routes: []*routev3.Route{clusterRoute("/", svc)}}
	}
	rt := &routeTable{byName: map[string]*routeConfig{}}
	l := &listenerRoutes{rc: rt.compileRouteConfig(newRouteConfig("r",
		vh("short-suffix", "*.com"), vh("long-suffix", "*.example.com"),
		vh("short-prefix", "api.*"), vh("long-prefix", "api.example.*"),
		vh("mid-suffix", "*.b.c"), vh("longer-suffix", "*.a.b.c"), vh("longest-suffix", "*.x.a.b.c")))}
	for host, want := range map[string]string{
		"www.example.com":   "long-suffix",
		"www.other.com":     "short-suffix",
		"api.example.net":   "long-prefix",
		"api.other.net":     "short-prefix",
		"y.x.a.b.c":         "longest-suffix",
		"y.a.b.c":           "longer-suffix",
		"y.b.c":             "mid-suffix",
		"api.example.b.c":   "mid-suffix",
		"api.example.local": "long-prefix",
	} {
		got := l.virtualHost(host)
		require.NotNil(t, got, host)
		assert.Equal(t, want, got.name, host)
	}
}

// A route without timeout gives up after 15 s (route_components.proto:
// RouteAction.timeout defaults to 15s), answering 504 UT.
func TestDefaultRouteTimeoutIsFifteenSeconds(t *testing.T) {
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Routes[0].VirtualHosts[0].Routes[0].GetRoute().Timeout = nil
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeHang}}))
	r := run(t, p, clock)
	assert.Equal(t, 504, r.Status)
	assert.Equal(t, []string{"UT"}, r.Flags)
	assert.Equal(t, 15*time.Second, r.Latency)
}

// path_separated_prefix matches the path (query string aside) when it is
// the prefix itself or the prefix followed by "/" (route_components.proto
// RouteMatch.path_separated_prefix; config_impl.cc
// PathSeparatedPrefixRouteEntryImpl), case-sensitively by default.
func TestPathSeparatedPrefix(t *testing.T) {
	for _, tc := range []struct {
		path          string
		caseSensitive *wrapperspb.BoolValue
		want          int
	}{
		{"/api/dev", nil, 200},
		{"/api/dev/", nil, 200},
		{"/api/dev/v1", nil, 200},
		{"/api/dev?param=true", nil, 200},
		{"/api/developer", nil, 404},
		{"/api", nil, 404},
		{"/API/dev", nil, 404},
		{"/API/dev/v1", wrapperspb.Bool(false), 200},
	} {
		s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
		m := s.Routes[0].VirtualHosts[0].Routes[0].Match
		m.PathSpecifier = &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: "/api/dev"}
		m.CaseSensitive = tc.caseSensitive
		p, clock := newTestProxy(s, &fakeNet{})
		x := p.Send(Request{Port: 8080, Headers: hdrs("svc", tc.path)})
		clock.Advance(time.Second)
		require.True(t, x.Done)
		assert.Equal(t, tc.want, x.Record.Status, "%s (case sensitive %v)", tc.path, tc.caseSensitive)
	}
}

// Query parameter matchers (config_impl.cc ConfigUtility::
// matchQueryParams, query_parameter_matcher): a string_match needs the
// parameter with a value it matches, a present_match only the parameter;
// a request that fails them goes to the next route.
func TestQueryParameterMatching(t *testing.T) {
	for _, tc := range []struct {
		matcher *routev3.QueryParameterMatcher
		path    string
		want    string
	}{
		{exactQuery("v", "2"), "/?v=2", "q"},
		{exactQuery("v", "2"), "/?v=3", "/"},
		{exactQuery("v", "2"), "/?w=2", "/"},
		{presentQuery("debug"), "/?debug", "q"},
		{presentQuery("debug"), "/?debug=1&v=2", "q"},
		{presentQuery("debug"), "/?v=2", "/"},
	} {
		s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
		q := clusterRoute("/", svc)
		q.Name = "q"
		q.Match.QueryParameters = []*routev3.QueryParameterMatcher{tc.matcher}
		vh := s.Routes[0].VirtualHosts[0]
		vh.Routes = append([]*routev3.Route{q}, vh.Routes...)
		p, clock := newTestProxy(s, &fakeNet{})
		require.Empty(t, p.Warnings())
		x := p.Send(Request{Port: 8080, Headers: hdrs("svc", tc.path)})
		clock.Advance(time.Second)
		require.True(t, x.Done)
		assert.Equal(t, tc.want, x.Record.Route, tc.path)
	}
}

func exactQuery(name, v string) *routev3.QueryParameterMatcher {
	return &routev3.QueryParameterMatcher{Name: name, QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_StringMatch{
		StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: v}}}}
}

func presentQuery(name string) *routev3.QueryParameterMatcher {
	return &routev3.QueryParameterMatcher{Name: name, QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_PresentMatch{PresentMatch: true}}
}

// Header matchers decide which route a request takes (header_utility.cc
// HeaderUtility::matchHeaders, StringMatcherImpl in
// source/common/common/matchers.cc): each string kind, ignore_case (not
// for regexes, which match the whole value), range_match's half-open
// [start, end) on an integer value, present_match, invert_match.
func TestHeaderMatchers(t *testing.T) {
	str := func(sm *matcherv3.StringMatcher) *routev3.HeaderMatcher {
		return &routev3.HeaderMatcher{Name: "X-Env", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: sm}}
	}
	rangeM := &routev3.HeaderMatcher{Name: "x-env", HeaderMatchSpecifier: &routev3.HeaderMatcher_RangeMatch{
		RangeMatch: &typev3.Int64Range{Start: 10, End: 20}}}
	for _, tc := range []struct {
		name  string
		m     *routev3.HeaderMatcher
		value string // "" : the header is absent
		want  bool
	}{
		{"exact", str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "canary"}}), "canary", true},
		{"exact, other case", str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "canary"}}), "Canary", false},
		{"exact, ignore case", str(&matcherv3.StringMatcher{IgnoreCase: true, MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "canary"}}), "CANARY", true},
		{"prefix", str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "can"}}), "canary", true},
		{"prefix, not", str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "nary"}}), "canary", false},
		{"prefix, ignore case", str(&matcherv3.StringMatcher{IgnoreCase: true, MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "CAN"}}), "canary", true},
		{"suffix", str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: "nary"}}), "canary", true},
		{"suffix, not", str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: "can"}}), "canary", false},
		{"contains", str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: "nar"}}), "canary", true},
		{"contains, not", str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: "nor"}}), "canary", false},
		{"safe_regex, whole value", str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{
			SafeRegex: &matcherv3.RegexMatcher{Regex: "c[a-z]+y"}}}), "canary", true},
		{"safe_regex, part of the value", str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{
			SafeRegex: &matcherv3.RegexMatcher{Regex: "nar"}}}), "canary", false},
		{"absent header", str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: ""}}), "", false},
		{"range, start included", rangeM, "10", true},
		{"range, end excluded", rangeM, "20", false},
		{"range, below", rangeM, "9", false},
		{"range, not a number", rangeM, "1x", false},
		{"legacy prefix_match", &routev3.HeaderMatcher{Name: "x-env", HeaderMatchSpecifier: &routev3.HeaderMatcher_PrefixMatch{PrefixMatch: "can"}}, "canary", true},
		{"legacy suffix_match", &routev3.HeaderMatcher{Name: "x-env", HeaderMatchSpecifier: &routev3.HeaderMatcher_SuffixMatch{SuffixMatch: "can"}}, "canary", false},
		{"legacy contains_match", &routev3.HeaderMatcher{Name: "x-env", HeaderMatchSpecifier: &routev3.HeaderMatcher_ContainsMatch{ContainsMatch: "nar"}}, "canary", true},
		{"legacy exact_match", &routev3.HeaderMatcher{Name: "x-env", HeaderMatchSpecifier: &routev3.HeaderMatcher_ExactMatch{ExactMatch: "canar"}}, "canary", false},
		{"legacy safe_regex_match", &routev3.HeaderMatcher{Name: "x-env", HeaderMatchSpecifier: &routev3.HeaderMatcher_SafeRegexMatch{
			SafeRegexMatch: &matcherv3.RegexMatcher{Regex: "can.*"}}}, "canary", true},
		{"present", &routev3.HeaderMatcher{Name: "x-env", HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}, "", false},
		{"present: false matches an absent header", &routev3.HeaderMatcher{Name: "x-env", HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: false}}, "", true},
		{"no specifier: presence", &routev3.HeaderMatcher{Name: "x-env"}, "anything", true},
		{"inverted exact", &routev3.HeaderMatcher{Name: "x-env", InvertMatch: true, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
			StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "canary"}}}}, "stable", true},
		{"inverted present", &routev3.HeaderMatcher{Name: "x-env", InvertMatch: true, HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}, "", true},
	} {
		hm, err := compileHeader(tc.m)
		require.NoError(t, err, tc.name)
		h := hdrs("svc", "/")
		if tc.value != "" {
			h = append(h, [2]string{"x-env", tc.value})
		}
		assert.Equal(t, tc.want, hm.matches(h), tc.name)
	}
}

// The retry policy reads a response's grpc-status header (retry_state_
// impl.cc shouldRetryHeaders, Grpc::Common::getGrpcStatus): under
// retry_on cancelled, grpc-status 1 is retried; a value that is not a
// number is no gRPC status Envoy retries on (getGrpcStatus gives
// InvalidCode), so the answer stands.
func TestRetryReadsTheGrpcStatusHeader(t *testing.T) {
	for _, tc := range []struct {
		grpcStatus string
		attempts   int
	}{{"1", 2}, {"14", 1}, {"x", 1}, {"", 1}} {
		rp := &routev3.RetryPolicy{RetryOn: "cancelled", NumRetries: wrapperspb.UInt32(1)}
		s := snap(rp, 0, nil, ep{addr: "10.0.0.1:80"})
		p, clock := newTestProxy(s, &fakeNet{fn: func(time.Time, *Attempt) Result {
			return Result{Outcome: OutcomeResponse, Status: 200, Latency: time.Millisecond,
				Headers: [][2]string{{"content-type", "application/grpc"}, {"grpc-status", tc.grpcStatus}}}
		}})
		r := run(t, p, clock)
		assert.Len(t, r.Attempts, tc.attempts, "grpc-status %q", tc.grpcStatus)
	}
}

// Every gRPC status a 200 can carry, as the record counts it
// (Grpc::Utility::grpcToHttpStatus in source/common/grpc/status.cc; codes
// it does not know are 500): the digits 0 and 9 at the ends of the
// parser's range included; a value that is not a number leaves the 200.
func TestGrpcStatusCodesAsHTTP(t *testing.T) {
	want := map[string]int{"0": 200, "1": 499, "2": 500, "3": 400, "4": 504, "5": 404, "6": 409, "7": 403, "8": 429,
		"9": 400, "10": 409, "11": 400, "12": 501, "13": 500, "14": 503, "15": 500, "16": 401, "17": 500, "90": 500,
		"x": 200, "1x": 200, "-1": 200, "": 200}
	for v, code := range want {
		h := [][2]string{{"content-type", "application/grpc"}, {"Grpc-Status", v}}
		assert.Equal(t, code, userStatus(200, h), "grpc-status %q", v)
		assert.Equal(t, 503, userStatus(503, h), "grpc-status %q on a 503", v)
	}
}

// previous_priorities is found by its typed config's type, whatever its
// name, a TypedStruct's wrapped type included; a name alone finds nothing
// (extensionType), and a config that does not unpack rejects the route
// configuration, as does update_frequency 0
// (previous_priorities_config.proto: gt 0).
func TestRetryPriorityByType(t *testing.T) {
	typed := func(freq int32) *routev3.RetryPolicy_RetryPriority_TypedConfig {
		tc, err := anypb.New(&prevprio.PreviousPrioritiesConfig{UpdateFrequency: freq})
		require.NoError(t, err)
		return &routev3.RetryPolicy_RetryPriority_TypedConfig{TypedConfig: tc}
	}
	wrapped := func(freq float64) *routev3.RetryPolicy_RetryPriority_TypedConfig {
		v, err := structpb.NewStruct(map[string]any{"update_frequency": freq})
		require.NoError(t, err)
		tc, err := anypb.New(&xdstype.TypedStruct{TypeUrl: "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig", Value: v})
		require.NoError(t, err)
		return &routev3.RetryPolicy_RetryPriority_TypedConfig{TypedConfig: tc}
	}
	broken := &routev3.RetryPolicy_RetryPriority_TypedConfig{TypedConfig: &anypb.Any{
		TypeUrl: "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig", Value: []byte{0xff}}}
	for _, tc := range []struct {
		name     string
		priority *routev3.RetryPolicy_RetryPriority
		freq     int
		err      string
	}{
		{"by name, no config", &routev3.RetryPolicy_RetryPriority{Name: "envoy.retry_priorities.previous_priorities"}, 0,
			`no registered retry priority for type ""`},
		{"by name and type", &routev3.RetryPolicy_RetryPriority{Name: "envoy.retry_priorities.previous_priorities", ConfigType: typed(2)}, 2, ""},
		{"by type alone", &routev3.RetryPolicy_RetryPriority{Name: "remote-localities", ConfigType: typed(3)}, 3, ""},
		{"in a TypedStruct", &routev3.RetryPolicy_RetryPriority{Name: "remote-localities", ConfigType: wrapped(4)}, 4, ""},
		{"update_frequency 0", &routev3.RetryPolicy_RetryPriority{Name: "p", ConfigType: typed(0)}, 0, "update_frequency must be greater than 0, got 0"},
		{"does not unpack", &routev3.RetryPolicy_RetryPriority{Name: "p", ConfigType: broken}, 0, "unable to unpack"},
	} {
		p, err := compileRetry(&routev3.RetryPolicy{RetryOn: "connect-failure", RetryPriority: tc.priority}, func(string) {})
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.name)
			continue
		}
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.freq, p.prioFreq, tc.name)
	}
}

// An http_call refused by max_requests counts as an overflow
// (upstream_rq_pending_overflow), as the router's UO does.
func TestHTTPCallOverflowCounted(t *testing.T) {
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Clusters[0].CircuitBreakers.Thresholds[0].MaxRequests = wrapperspb.UInt32(1)
	p, _ := newTestProxy(s, &fakeNet{})
	call := &pw.HTTPCallRequest{Cluster: svc, Headers: hdrs("svc", "/"), Timeout: time.Second}
	require.Empty(t, p.HTTPCall(call).Fault)
	for range 2 {
		assert.Equal(t, pw.FaultOverflow, p.HTTPCall(call).Fault)
	}
	assert.Equal(t, 2, p.Counters().Overflow)
}

// Hosts that entered slow start together have equal slowed weights, and
// Envoy's EDF scheduler over equal weights takes them in turn (an EDF
// pick ties on the deadline and goes by order, load_balancer_impl.cc
// EdfLoadBalancerBase with edf_scheduler.h): two such hosts alternate,
// request by request, as round robin does outside slow start.
func TestSlowStartEqualWeightsAlternate(t *testing.T) {
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Clusters[0].LbConfig = &clusterv3.Cluster_RoundRobinLbConfig_{RoundRobinLbConfig: &clusterv3.Cluster_RoundRobinLbConfig{
		SlowStartConfig: &clusterv3.Cluster_SlowStartConfig{SlowStartWindow: durationpb.New(time.Minute)}}}
	p, clock := newTestProxy(s, &fakeNet{})
	clock.Advance(2 * time.Minute)
	require.NoError(t, p.SetEndpoints(assignment(svc, ep{addr: "10.0.0.3:80"}, ep{addr: "10.0.0.4:80"})))
	clock.Advance(time.Second)
	var xs []*Exchange
	for range 20 {
		xs = append(xs, p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")}))
		clock.Advance(time.Millisecond)
	}
	clock.Advance(time.Second)
	var got []string
	for _, x := range xs {
		require.True(t, x.Done)
		got = append(got, x.Record.Attempts[0].Address)
	}
	for i := 1; i < len(got); i++ {
		assert.NotEqual(t, got[i-1], got[i], "request %d: %v", i, got)
	}
}

// Least request in slow start scales each slowed weight by 1 / (active
// requests + 1) (least_request_lb.cc hostWeight divides by the active
// requests first, then applies the slow start factor): an old host with
// one request out (1/2) against a host just added (0.1 of its weight,
// idle): the new host takes 0.1 / 0.6 of 4000 picks.
func TestLeastRequestSlowStartCountsActiveRequests(t *testing.T) {
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Clusters[0].LbPolicy = clusterv3.Cluster_LEAST_REQUEST
	s.Clusters[0].LbConfig = &clusterv3.Cluster_LeastRequestLbConfig_{LeastRequestLbConfig: &clusterv3.Cluster_LeastRequestLbConfig{
		SlowStartConfig: &clusterv3.Cluster_SlowStartConfig{SlowStartWindow: durationpb.New(10 * time.Second)}}}
	p, clock := newTestProxy(s, &fakeNet{})
	clock.Advance(20 * time.Second)
	require.NoError(t, p.SetEndpoints(assignment(svc, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})))
	cl := p.clusters[svc]
	ps := cl.prios[0]
	ps.hosts[0].active = 1
	const n = 4000
	added := 0
	for range n {
		if cl.pick(ps, "h", ps.hosts) == ps.hosts[1] {
			added++
		}
	}
	assert.InDelta(t, n*0.1/0.6, added, 100)
}

// An http_call without a timeout waits for its answer however late it
// comes (a 0 timeout sets none on the AsyncClient request): the request
// slot is held until then, and outlier detection counts the answer (two
// late 200s eject nothing), not a timeout.
func TestHTTPCallWithoutTimeoutWaitsForTheAnswer(t *testing.T) {
	od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), Consecutive_5Xx: wrapperspb.UInt32(2)}
	s := snap(nil, 0, od, ep{addr: "10.0.0.1:80"}, ep{addr: "10.1.0.1:15443", priority: 1})
	late := Result{Outcome: OutcomeResponse, Status: 200, Latency: 3 * time.Second}
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": late}))
	for range 2 {
		res := p.HTTPCall(&pw.HTTPCallRequest{Cluster: svc, Headers: hdrs("svc", "/check")})
		assert.Empty(t, res.Fault)
		assert.Equal(t, 3*time.Second, res.Delay)
		clock.Advance(time.Second)
		st, _ := p.ClusterStatus(svc)
		assert.Equal(t, 1, st.ActiveRequests, "the call is still out")
		clock.Advance(5 * time.Second)
	}
	st, _ := p.ClusterStatus(svc)
	assert.Equal(t, 0, st.ActiveRequests)
	assert.Equal(t, 0, p.Counters().Ejections)
}

// A Wasm plugin's configuration may be a BytesValue as well as a
// StringValue (Envoy hands the plugin the wrapped value of either,
// anyToBytes in source/extensions/common/wasm/plugin.cc); the bytes reach
// the plugin as they are.
func TestWasmConfigurationBytes(t *testing.T) {
	w := wasmConfig("f", "", false)
	w.Config.Configuration = mustAny(wrapperspb.Bytes([]byte{0, 1, 0xff}))
	w.Config.GetVmConfig().Configuration = mustAny(wrapperspb.String("vm"))
	wf, err := wasmFilter(w.GetConfig())
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 1, 0xff}, wf.Configuration)
	assert.Equal(t, []byte("vm"), wf.VMConfiguration)
}

// The Network is told the host's EDS filter metadata (where Istio puts a
// host's network and cluster), flattened to "filter.key".
func TestEndpointMetadataReachesTheNetwork(t *testing.T) {
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	md, err := structpb.NewStruct(map[string]any{"network": "net-2", "weight": 2.5, "tls": true})
	require.NoError(t, err)
	s.Endpoints[0].Endpoints[0].LbEndpoints[0].Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"istio": md}}
	n := &fakeNet{}
	p, clock := newTestProxy(s, n)
	run(t, p, clock)
	require.Len(t, n.sent, 1)
	assert.Equal(t, map[string]string{"istio.network": "net-2", "istio.weight": "2.5", "istio.tls": "true"}, n.sent[0].Metadata)
}

// An http_call's answer reaches the plugin with its own status and feeds
// outlier detection with it (the AsyncClient stream goes through the
// router, whose onUpstreamHeaders reports the code): two 503s eject the
// host, and a Network answer without a status is a 200.
func TestHTTPCallStatusReachesThePluginAndTheDetector(t *testing.T) {
	for _, tc := range []struct {
		status, want, ejections int
	}{{503, 503, 1}, {0, 200, 0}, {404, 404, 0}} {
		od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), Consecutive_5Xx: wrapperspb.UInt32(2)}
		s := snap(nil, 0, od, ep{addr: "10.0.0.1:80"}, ep{addr: "10.1.0.1:15443", priority: 1})
		answer := Result{Outcome: OutcomeResponse, Status: tc.status, Latency: time.Millisecond}
		p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": answer}))
		for range 2 {
			res := p.HTTPCall(&pw.HTTPCallRequest{Cluster: svc, Headers: hdrs("svc", "/check"), Timeout: time.Second})
			assert.Equal(t, tc.want, res.Status, "status %d", tc.status)
			clock.Advance(time.Second)
		}
		assert.Equal(t, tc.ejections, p.Counters().Ejections, "status %d", tc.status)
	}
}

// A listener whose HTTP connection manager sits in its default filter
// chain (listener.proto default_filter_chain: used when no filter chain
// matches) routes requests as one in a filter chain does. (The route
// configuration's name is not a port's, so the model cannot reach it
// without the listener.)
func TestDefaultFilterChainRoutes(t *testing.T) {
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Listeners[0] = gatewayListener(8080, "gateway-routes")
	s.Routes[0].Name = "gateway-routes"
	l := s.Listeners[0]
	l.DefaultFilterChain, l.FilterChains = l.FilterChains[0], nil
	p, clock := newTestProxy(s, &fakeNet{})
	r := run(t, p, clock)
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, svc, r.Cluster)
}

// A request waiting in the connection pool's queue that the route timeout
// ends leaves the queue (the pending request is cancelled and
// upstream_rq_pending_active goes down, conn_pool_base.cc
// onPendingRequestCancel): with max_pending_requests 1 the next request
// may wait in its place, and times out (504 UT) instead of overflowing
// (503 UO). A hung http_call holds the one connection.
func TestTimedOutQueuedRequestLeavesTheQueue(t *testing.T) {
	s := snap(nil, time.Second, nil, ep{addr: "10.0.0.1:80"})
	th := s.Clusters[0].CircuitBreakers.Thresholds[0]
	th.MaxConnections, th.MaxPendingRequests = wrapperspb.UInt32(1), wrapperspb.UInt32(1)
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeHang}}))
	require.Equal(t, pw.FaultTimeout, p.HTTPCall(&pw.HTTPCallRequest{Cluster: svc, Headers: hdrs("svc", "/check")}).Fault)
	for i := range 2 {
		r := run(t, p, clock)
		assert.Equal(t, 504, r.Status, "request %d", i)
		assert.Equal(t, []string{"UT"}, r.Flags, "request %d", i)
	}
	assert.Equal(t, 0, p.Counters().Overflow)
}

// A record's cause is the Network's explanation of its last attempt (what
// the report lists as the cause of an error): a refused connect retried
// on a host that resets gives the reset's cause.
func TestRecordCauseIsTheLastAttempts(t *testing.T) {
	s := snap(istioDefaultRetry(), 0, nil, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})
	p, clock := newTestProxy(s, byHost(map[string]Result{
		"10.0.0.1:80": {Outcome: OutcomeConnectFailure, Latency: time.Millisecond, Cause: "cluster-1 scaled to 0"},
		"10.0.0.2:80": {Outcome: OutcomeReset, Latency: time.Millisecond, Cause: "cluster-2 pod killed"},
	}))
	r := run(t, p, clock)
	require.Len(t, r.Attempts, 2)
	assert.Equal(t, "10.0.0.2:80", r.Attempts[1].Address)
	assert.Equal(t, "cluster-2 pod killed", r.Cause)
}

// The cause the Network gave for an attempt stays on it when the proxy
// ends the attempt itself (a per-try or route timeout has no cause of its
// own), and a circuit breaker's refusal is its own cause.
func TestRecordCauseOfTimeoutsAndOverflows(t *testing.T) {
	hang := Result{Outcome: OutcomeHang, Cause: "cluster-1 partitioned"}
	perTry := &routev3.RetryPolicy{RetryOn: "5xx", NumRetries: wrapperspb.UInt32(0), PerTryTimeout: durationpb.New(100 * time.Millisecond)}

	for _, tc := range []struct {
		name string
		rp   *routev3.RetryPolicy
	}{{"route timeout", nil}, {"per-try timeout", perTry}} {
		s := snap(tc.rp, time.Second, nil, ep{addr: "10.0.0.1:80"})
		p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": hang}))
		r := run(t, p, clock)
		assert.Equal(t, 504, r.Status, tc.name)
		assert.Equal(t, "cluster-1 partitioned", r.Cause, tc.name)
	}

	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Clusters[0].CircuitBreakers.Thresholds[0].MaxRequests = wrapperspb.UInt32(0)
	p, clock := newTestProxy(s, &fakeNet{})
	r := run(t, p, clock)
	assert.Equal(t, []string{"UO"}, r.Flags)
	assert.Equal(t, "circuit breaker", r.Cause)
}

// Ejections and returns are counted (outlier_detection.ejections_enforced_
// total, and each host's return on an interval tick): one host ejected by
// consecutive 5xx comes back after base_ejection_time.
func TestEjectionAndReturnCounted(t *testing.T) {
	od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), Consecutive_5Xx: wrapperspb.UInt32(1),
		Interval: durationpb.New(time.Second), BaseEjectionTime: durationpb.New(time.Second)}
	s := snap(nil, 0, od, ep{addr: "10.0.0.1:80"}, ep{addr: "10.1.0.1:80", priority: 1})
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeResponse, Status: 503, Latency: time.Millisecond}}))
	run(t, p, clock)
	p.Stop()
	assert.Equal(t, 1, p.Counters().Ejections)
	assert.Equal(t, 1, p.Counters().Unejections)
}
