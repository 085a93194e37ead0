package envoy

import (
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// Decisions found by the full mutation run of issue 19 (BENCHMARKS.md,
// "Mutation testing"), each observed on one or two requests.

// reset-before-request retries only a reset that came before the request
// went upstream (retry_state_impl.cc wouldRetryFromReset: the
// upstream_request_started argument, false for a pool failure, that is a
// connect failure or connect timeout): a refused connect and a connect
// timeout are retried on the second host, a remote reset after the
// request was sent is the answer (503 UR).
func TestResetBeforeRequestRetriesOnlyUnsentRequests(t *testing.T) {
	for _, c := range []struct {
		name    string
		first   Result
		retried bool
		flags   []string
	}{
		{"connect failure", Result{Outcome: OutcomeConnectFailure, Latency: time.Millisecond}, true, nil},
		{"connect timeout", Result{Outcome: OutcomeConnectTimeout}, true, nil},
		{"remote reset", Result{Outcome: OutcomeReset, Latency: time.Millisecond}, false, []string{"UR"}},
	} {
		rp := &routev3.RetryPolicy{RetryOn: "reset-before-request", NumRetries: wrapperspb.UInt32(1),
			RetryHostPredicate: previousHosts()}
		s := snap(rp, 0, nil, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})
		p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": c.first}))
		r := run(t, p, clock)
		if c.retried {
			assert.Equal(t, 200, r.Status, c.name)
			assert.Equal(t, []string{"10.0.0.1:80 " + c.first.Outcome, "10.0.0.2:80 response"}, addrs(r), c.name)
		} else {
			assert.Equal(t, 503, r.Status, c.name)
			assert.Len(t, r.Attempts, 1, c.name)
			assert.Equal(t, c.flags, r.Flags, c.name)
		}
	}
}

// A request without a body ends its stream with the headers, so a Wasm
// filter's request headers callback sees end_of_stream and no body
// callback runs (source/common/http/conn_manager_impl.cc decodeHeaders
// passes the codec's end_stream to the filters; Envoy's wasm context
// hands it to on_request_headers); a request with a body sees it in one
// last body callback.
func TestBodylessRequestEndsWithItsHeaders(t *testing.T) {
	for _, c := range []struct {
		body []byte
		want []string
	}{
		{nil, []string{"headers eos=true"}},
		{[]byte("abc"), []string{"headers eos=false", "request body size=3 eos=true"}},
	} {
		p, proc := wasmProxy(t, "body", &fakeNet{})
		x := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/"), Body: c.body})
		proc.Clock.Advance(time.Minute)
		require.True(t, x.Done)
		var got []string
		for _, l := range proc.Logs() {
			if strings.HasPrefix(l.Message, "request headers ") {
				got = append(got, "headers "+l.Message[strings.Index(l.Message, "eos="):])
			}
			if strings.HasPrefix(l.Message, "request body ") {
				got = append(got, l.Message)
			}
		}
		assert.Equal(t, c.want, got, "body %q", c.body)
	}
}

// A gRPC call that fails in a trailers-only 200 is a failed call in the
// record: its status is the HTTP status Envoy maps the grpc-status to
// (source/common/grpc/status.cc grpcToHttpStatus: UNAVAILABLE is 503,
// NOT_FOUND 404); grpc-status OK leaves the 200.
func TestGrpcFailureRecordedAsItsHTTPStatus(t *testing.T) {
	for _, c := range []struct {
		grpcStatus string
		want       int
	}{{"0", 200}, {"14", 503}, {"5", 404}} {
		s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
		p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeResponse, Status: 200,
			Headers: [][2]string{{"content-type", "application/grpc"}, {"grpc-status", c.grpcStatus}}, Latency: time.Millisecond}}))
		x := p.Send(Request{Port: 8080, Headers: append(hdrs("svc", "/"), [2]string{"content-type", "application/grpc"})})
		clock.Advance(time.Second)
		require.True(t, x.Done)
		assert.Equal(t, c.want, x.Record.Status, "grpc-status %s", c.grpcStatus)
	}
}

// Each request the router finds no healthy host for is counted once
// (upstream_cx_none_healthy, as Envoy's cluster stats count it): two
// requests to a cluster without endpoints count two.
func TestNoHealthyUpstreamCounted(t *testing.T) {
	p, clock := newTestProxy(snap(nil, 0, nil), &fakeNet{})
	for range 2 {
		assert.Equal(t, []string{"UH"}, run(t, p, clock).Flags)
	}
	assert.Equal(t, 2, p.Counters().NoHealthyUpstream)
}

// An http_call holds one of the cluster's requests while it is out (the
// AsyncClient's stream goes through the router and its resource
// manager): with max_requests 1, a second call while the first waits for
// its answer overflows; once the first is answered, a third goes.
func TestHTTPCallHoldsARequestSlot(t *testing.T) {
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Clusters[0].CircuitBreakers.Thresholds[0].MaxRequests = wrapperspb.UInt32(1)
	p, clock := newTestProxy(s, &fakeNet{})
	call := &pw.HTTPCallRequest{Cluster: svc, Headers: hdrs("svc", "/"), Timeout: time.Second}
	first := p.HTTPCall(call)
	assert.Empty(t, first.Fault)
	assert.Equal(t, pw.FaultOverflow, p.HTTPCall(call).Fault, "the first is still out")
	clock.Advance(first.Delay)
	assert.Empty(t, p.HTTPCall(call).Fault)
}

// A Wasm filter reads the address of the host that answered
// (upstream.address, from the last attempt's host) in its response
// callbacks.
func TestWasmFilterSeesTheUpstreamAddress(t *testing.T) {
	p, proc := wasmProxy(t, "properties", &fakeNet{})
	x := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
	proc.Clock.Advance(time.Minute)
	require.True(t, x.Done)
	require.Len(t, x.Record.Attempts, 1)
	var got []string
	for _, l := range proc.Logs() {
		if strings.HasPrefix(l.Message, "response property upstream.address=") {
			got = append(got, l.Message)
		}
	}
	assert.Equal(t, []string{"response property upstream.address=\"" + x.Record.Attempts[0].Address + "\" err=ok"}, got)
}

// An http_call is one of its host's active requests only while it is out
// (least request compares hosts by them, load_balancer_impl.cc
// LeastRequestLoadBalancer): once a call to one of two hosts has been
// answered, both are idle again and requests one after the other split
// about evenly; a host whose count the call had lowered would win every
// choice it is drawn in (three in four).
func TestHTTPCallLeavesItsHostIdle(t *testing.T) {
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})
	s.Clusters[0].LbPolicy = clusterv3.Cluster_LEAST_REQUEST
	p, clock := newTestProxy(s, &fakeNet{})
	res := p.HTTPCall(&pw.HTTPCallRequest{Cluster: svc, Headers: hdrs("svc", "/"), Timeout: time.Second})
	require.Empty(t, res.Fault)
	clock.Advance(time.Second)
	counts := map[string]int{}
	for range 200 {
		counts[run(t, p, clock).Attempts[0].Address]++
	}
	for addr, n := range counts {
		assert.InDelta(t, 100, n, 30, addr)
	}
}

// Route and virtual-host matching decisions (source/common/router/
// config_impl.cc): a route with query parameter matchers matches only a
// request that carries them; strip_matching_host_port strips only the
// listener's own port; a suffix wildcard's * matches at least one
// character (RouteMatcher::findWildcardVirtualHost looks only at
// wildcards shorter than the host).
func TestRouteAndVirtualHostMatching(t *testing.T) {
	send := func(p *Proxy, clock *vclock.Clock, authority, path string) *Record {
		x := p.Send(Request{Port: 8080, Headers: hdrs(authority, path)})
		clock.Advance(time.Second)
		require.True(t, x.Done)
		return x.Record
	}

	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	v2 := clusterRoute("/", svc)
	v2.Name = "v2"
	v2.Match.QueryParameters = []*routev3.QueryParameterMatcher{{Name: "v", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_StringMatch{
		StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "2"}}}}}
	vh := s.Routes[0].VirtualHosts[0]
	vh.Routes = append([]*routev3.Route{v2}, vh.Routes...)
	p, clock := newTestProxy(s, &fakeNet{})
	assert.Equal(t, "v2", send(p, clock, "svc", "/?v=2").Route)
	assert.Equal(t, "/", send(p, clock, "svc", "/").Route, "no query parameter: the next route")

	s = snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	var h hcmv3.HttpConnectionManager
	require.NoError(t, s.Listeners[0].FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(&h))
	h.StripPortMode, h.StripMatchingHostPort = nil, true
	s.Listeners[0].FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(&h)}
	p, clock = newTestProxy(s, &fakeNet{})
	assert.Equal(t, 200, send(p, clock, "svc:8080", "/").Status, "the listener's port is stripped")
	r := send(p, clock, "svc:9090", "/")
	assert.Equal(t, 404, r.Status, "another port is kept: no virtual host")
	assert.Equal(t, []string{"NR"}, r.Flags)

	s = snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Routes[0].VirtualHosts[0].Domains = []string{"*.example.com"}
	p, clock = newTestProxy(s, &fakeNet{})
	assert.Equal(t, 200, send(p, clock, "a.example.com", "/").Status)
	assert.Equal(t, 404, send(p, clock, ".example.com", "/").Status, "* matches at least one character")
}

// Each per-try timeout is counted once (upstream_rq_per_try_timeout): a
// host that never answers, one retry, two timeouts.
func TestPerTryTimeoutsCounted(t *testing.T) {
	rp := &routev3.RetryPolicy{RetryOn: "5xx", NumRetries: wrapperspb.UInt32(1), PerTryTimeout: durationpb.New(100 * time.Millisecond)}
	s := snap(rp, 0, nil, ep{addr: "10.0.0.1:80"})
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeHang}}))
	r := run(t, p, clock)
	assert.Equal(t, 504, r.Status)
	assert.Len(t, r.Attempts, 2)
	assert.Equal(t, 2, p.Counters().PerTryTimeouts)
}

// More matching decisions: paths match case-sensitively unless the route
// says otherwise (RouteMatch.case_sensitive defaults to true), and a
// prefix wildcard's * matches at least one character; every request is
// counted once.
func TestCaseSensitivePathAndPrefixWildcard(t *testing.T) {
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Routes[0].VirtualHosts[0].Routes[0].Match.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: "/api"}
	s.Routes[0].VirtualHosts[0].Domains = []string{"svc.*"}
	p, clock := newTestProxy(s, &fakeNet{})
	status := func(authority, path string) int {
		x := p.Send(Request{Port: 8080, Headers: hdrs(authority, path)})
		clock.Advance(time.Second)
		require.True(t, x.Done)
		return x.Record.Status
	}
	assert.Equal(t, 200, status("svc.example", "/api/x"))
	assert.Equal(t, 404, status("svc.example", "/API/x"), "case-sensitive by default")
	assert.Equal(t, 404, status("svc.", "/api/x"), "* matches at least one character")
	assert.Equal(t, 3, p.Counters().Requests)
}
