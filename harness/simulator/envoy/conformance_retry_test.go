package envoy

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	prevprio "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/priority/previous_priorities/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// Router-level expectations ported from Envoy's test/common/router/
// retry_state_impl_test.cc (RouterRetryStateImplTest.*), with the retry
// policy given as route configuration.

const rsTest = "test/common/router/retry_state_impl_test.cc RouterRetryStateImplTest."

func mustRetry(t *testing.T, rp *routev3.RetryPolicy) *retryPolicy {
	t.Helper()
	p, err := compileRetry(rp, func(msg string) { t.Errorf("unexpected warning: %s", msg) })
	require.NoError(t, err)
	return p
}

func present(name string) *routev3.HeaderMatcher { return &routev3.HeaderMatcher{Name: name} }

func exact(name, v string) *routev3.HeaderMatcher {
	return &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_ExactMatch{ExactMatch: v}}
}

func TestConformanceRetriableHeaders(t *testing.T) {
	// RetriableHeadersPolicyViaRetryPolicyConfiguration.
	p := mustRetry(t, &routev3.RetryPolicy{RetryOn: "retriable-headers", RetriableHeaders: []*routev3.HeaderMatcher{
		present("X-Upstream-Pushback"),
		exact("should-retry", "yes"),
		{Name: "X-Verdict", HeaderMatchSpecifier: &routev3.HeaderMatcher_PrefixMatch{PrefixMatch: "retry"}},
		{Name: ":status", HeaderMatchSpecifier: &routev3.HeaderMatcher_RangeMatch{RangeMatch: &typev3.Int64Range{Start: 500, End: 505}}},
	}})
	cases := []struct {
		status  int
		headers [][2]string
		want    bool
	}{
		{200, nil, false},
		{200, [][2]string{{"x-upstream-pushback", "true"}}, true},
		{200, [][2]string{{"x-upstream-pushback", "false"}}, true},
		{200, [][2]string{{"should-retry", "yes"}}, true},
		{200, [][2]string{{"should-retry", "no"}}, false},
		{200, [][2]string{{"x-verdict", "retry-please"}}, true},
		{200, [][2]string{{"x-verdict", "dont-retry-please"}}, false},
		{499, nil, false},
		{500, nil, true},
		{503, nil, true},
		{504, nil, true},
		{505, nil, false}, // the range is half-open
	}
	for i, c := range cases {
		assert.Equal(t, c.want, p.retriableHeaders(c.status, c.headers), "%sRetriableHeadersPolicyViaRetryPolicyConfiguration row %d", rsTest, i)
	}

	// RetriableHeadersMergedConfigAndRequestHeaders (the configuration
	// part): retry if :status is not 200.
	p = mustRetry(t, &routev3.RetryPolicy{RetryOn: "retriable-headers", RetriableHeaders: []*routev3.HeaderMatcher{
		{Name: ":status", HeaderMatchSpecifier: &routev3.HeaderMatcher_ExactMatch{ExactMatch: "200"}, InvertMatch: true}}})
	assert.False(t, p.retriableHeaders(200, nil), rsTest+"RetriableHeadersMergedConfigAndRequestHeaders")
	assert.True(t, p.retriableHeaders(503, nil), rsTest+"RetriableHeadersMergedConfigAndRequestHeaders")
}

// PolicyLimitedByRequestHeaders: retriable_request_headers :method GET or
// HEAD; other requests get no retry state.
func TestConformanceRetriableRequestHeaders(t *testing.T) {
	p := mustRetry(t, &routev3.RetryPolicy{RetryOn: "5xx", RetriableRequestHeaders: []*routev3.HeaderMatcher{
		exact(":method", "GET"), exact(":method", "HEAD")}})
	cases := []struct {
		headers [][2]string
		want    bool
	}{
		{nil, false},
		{[][2]string{{":method", "GET"}}, true},
		{[][2]string{{":method", "HEAD"}}, true},
		{[][2]string{{":method", "POST"}}, false},
	}
	for i, c := range cases {
		assert.Equal(t, c.want, p.appliesTo(c.headers), "%sPolicyLimitedByRequestHeaders row %d", rsTest, i)
	}

	// Through the router: a POST is not retried, a GET is.
	rp := &routev3.RetryPolicy{RetryOn: "5xx", NumRetries: wrapperspb.UInt32(1), RetriableRequestHeaders: []*routev3.HeaderMatcher{exact(":method", "GET")}}
	s := snap(rp, 0, nil, ep{addr: "10.0.0.1:80"})
	p2, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeResponse, Status: 503, Latency: time.Millisecond}}))
	x := p2.Send(Request{Port: 8080, Headers: [][2]string{{":method", "POST"}, {":path", "/"}, {":authority", "svc"}}})
	clock.Advance(time.Minute)
	require.True(t, x.Done)
	assert.Len(t, x.Record.Attempts, 1, "POST: no retry")
	assert.Len(t, run(t, p2, clock).Attempts, 2, "GET: retried")
}

// HostSelectionAttempts.
func TestConformanceHostSelectionAttempts(t *testing.T) {
	p := mustRetry(t, &routev3.RetryPolicy{RetryOn: "connect-failure", HostSelectionRetryMaxAttempts: 2})
	assert.Equal(t, int64(2), p.hostSelectionMax, rsTest+"HostSelectionAttempts")
}

// RouteConfigNoRetriesAllowed, NoAvailableRetries, NoPreferredOverLimitExceeded
// through the router.
func TestConformanceRetryLimits(t *testing.T) {
	// RouteConfigNoRetriesAllowed: num_retries 0 → retry limit exceeded (URX).
	s := snap(&routev3.RetryPolicy{RetryOn: "connect-failure", NumRetries: wrapperspb.UInt32(0)}, 0, nil, ep{addr: "10.0.0.1:80"})
	p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": refused}))
	r := run(t, p, clock)
	assert.Len(t, r.Attempts, 1, rsTest+"RouteConfigNoRetriesAllowed")
	assert.Contains(t, r.Flags, "URX", rsTest+"RouteConfigNoRetriesAllowed")

	// NoAvailableRetries: max_retries 0 → retry overflow (UO).
	s = snap(&routev3.RetryPolicy{RetryOn: "connect-failure", NumRetries: wrapperspb.UInt32(1)}, 0, nil, ep{addr: "10.0.0.1:80"})
	s.Clusters[0].CircuitBreakers.Thresholds[0].MaxRetries = wrapperspb.UInt32(0)
	p, clock = newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": refused}))
	r = run(t, p, clock)
	assert.Len(t, r.Attempts, 1, rsTest+"NoAvailableRetries")
	assert.Contains(t, r.Flags, "UO", rsTest+"NoAvailableRetries")
	assert.Equal(t, 1, p.Counters().RetryOverflow, rsTest+"NoAvailableRetries")

	// NoPreferredOverLimitExceeded: 503 retried, then a 200 with no retry
	// left is a plain success, not URX.
	s = snap(&routev3.RetryPolicy{RetryOn: "5xx", NumRetries: wrapperspb.UInt32(1)}, 0, nil, ep{addr: "10.0.0.1:80"})
	n := 0
	p, clock = newTestProxy(s, &fakeNet{fn: func(time.Time, *Attempt) Result {
		n++
		if n == 1 {
			return Result{Outcome: OutcomeResponse, Status: 503, Latency: time.Millisecond}
		}
		return Result{Outcome: OutcomeResponse, Status: 200, Latency: time.Millisecond}
	}})
	r = run(t, p, clock)
	assert.Equal(t, 200, r.Status, rsTest+"NoPreferredOverLimitExceeded")
	assert.NotContains(t, r.Flags, "URX", rsTest+"NoPreferredOverLimitExceeded")
}

// BudgetAvailableRetries, BudgetNoAvailableRetries,
// BudgetVerifyMinimumConcurrency: the retries resource under a budget.
func TestConformanceRetryBudget(t *testing.T) {
	cases := []struct {
		envoy                     string
		percent                   float64
		min                       uint64
		maxRetries                uint64
		activeRetries, activeReqs int
		want                      bool
	}{
		{"BudgetAvailableRetries", 20, 3, 0, 0, 0, true},
		{"BudgetNoAvailableRetries", 0, 0, 5, 0, 0, false},
		{"BudgetVerifyMinimumConcurrency", 20, 3, 0, 2, 0, true},
		{"BudgetVerifyMinimumConcurrency", 20, 3, 0, 3, 0, false},
		{"BudgetVerifyMinimumConcurrency", 20, 3, 0, 3, 20, true},
		{"BudgetVerifyMinimumConcurrency", 20, 3, 0, 4, 20, false},
		{"BudgetVerifyMinimumConcurrency", 100, 3, 0, 4, 20, true},
	}
	for i, c := range cases {
		cl := &cluster{hasBudget: true, budgetPercent: c.percent, budgetMin: c.min, maxRetries: c.maxRetries,
			activeRetries: c.activeRetries, active: c.activeReqs}
		assert.Equal(t, c.want, cl.canRetry(), "row %d: %s%s", i, rsTest, c.envoy)
	}
}

// previous_priorities' update_frequency must be > 0
// (previous_priorities_config.proto): Envoy rejects the route configuration.
func TestUpdateFrequencyZeroRejected(t *testing.T) {
	rp := retryRemoteLocalities(istioDefaultRetry())
	tc, err := anypb.New(&prevprio.PreviousPrioritiesConfig{UpdateFrequency: 0})
	require.NoError(t, err)
	rp.RetryPriority.ConfigType = &routev3.RetryPolicy_RetryPriority_TypedConfig{TypedConfig: tc}
	_, err = New(Config{Name: "gw", Snapshot: snap(rp, 0, nil, ep{addr: "10.0.0.1:80"}), Clock: vclock.New(time.Time{}), Network: &fakeNet{}, Seed: 1})
	assert.ErrorContains(t, err, "update_frequency must be greater than 0")
}

// Istio's remote-locality retry priority (update_frequency 2) with every
// host refusing: the attempted count restarts once both priorities were
// tried, so the 7th attempt goes to P1 (previous_priorities.cc clears
// attempted_hosts_).
func TestPreviousPrioritiesSeventhAttempt(t *testing.T) {
	rp := retryRemoteLocalities(istioDefaultRetry())
	rp.NumRetries = wrapperspb.UInt32(6)
	s := snap(rp, 0, nil, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"}, ep{addr: "10.1.0.1:15443", priority: 1}, ep{addr: "10.1.0.2:15443", priority: 1})
	p, clock := newTestProxy(s, &fakeNet{fn: func(time.Time, *Attempt) Result { return refused }})
	r := run(t, p, clock)
	require.Len(t, r.Attempts, 7)
	var prios []int
	for _, a := range r.Attempts {
		prios = append(prios, a.Priority)
	}
	assert.Equal(t, []int{0, 0, 1, 1, 0, 0, 1}, prios)
}

// A DRAINING endpoint is excluded (upstream_impl.cc setEdsHealthFlag,
// exclude_host_in_eds_status_draining): 1 healthy of 2 with the other
// draining is a fully healthy P0, where an UNHEALTHY one would spill 30%
// to P1 (LoadBalancerBaseTest.GentleFailover's excluded rows).
func TestDrainingHostExcluded(t *testing.T) {
	for _, c := range []struct {
		status corev3.HealthStatus
		want   []uint32
	}{
		{corev3.HealthStatus_DRAINING, []uint32{100, 0}},
		{corev3.HealthStatus_UNHEALTHY, []uint32{70, 30}},
	} {
		cla := assignment(svc, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"}, ep{addr: "10.1.0.1:80", priority: 1})
		cla.Endpoints[1].LbEndpoints[0].HealthStatus = c.status
		s := snap(nil, 0, nil)
		s.Endpoints = []*endpointv3.ClusterLoadAssignment{cla}
		p, _ := newTestProxy(s, &fakeNet{})
		assert.Equal(t, c.want, p.clusters[svc].load.Healthy, c.status.String())
	}
}

// A gRPC request's response feeds outlier detection by its grpc-status
// mapped to HTTP (router.cc onUpstreamHeaders, Grpc::Utility::
// grpcToHttpStatus): 200 with grpc-status 14 counts as a 503, so the host
// is ejected and traffic fails over. Without application/grpc the same
// response is a success.
func TestGrpcStatusFeedsOutlierDetection(t *testing.T) {
	for _, c := range []struct {
		contentType string
		ejected     bool
	}{{"application/grpc", true}, {"application/grpc+proto", true}, {"application/json", false}} {
		od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100)}
		s := snap(nil, 0, od, ep{addr: "10.0.0.1:80"}, ep{addr: "10.1.0.1:80", priority: 1})
		p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": {Outcome: OutcomeResponse, Status: 200,
			Headers: [][2]string{{"grpc-status", "14"}}, Latency: time.Millisecond}}))
		var last *Record
		for range 6 {
			x := p.Send(Request{Port: 8080, Headers: append(hdrs("svc", "/"), [2]string{"content-type", c.contentType})})
			clock.Advance(time.Second)
			require.True(t, x.Done)
			last = x.Record
		}
		assert.Equal(t, c.ejected, p.Counters().Ejections == 1, c.contentType)
		if c.ejected {
			assert.Equal(t, 1, last.Attempts[0].Priority, "failed over to P1")
		}
	}
	assert.Equal(t, 503, grpcToHTTP(14))
	assert.Equal(t, 504, grpcToHTTP(4))
	assert.Equal(t, 200, grpcToHTTP(0))
	assert.Equal(t, 500, grpcToHTTP(99))
}
