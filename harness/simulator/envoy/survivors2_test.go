package envoy

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/xds"
)

// Least request's choices go to the host with fewer active requests
// (least_request_lb.cc unweightedHostPick keeps a candidate only when its
// rq_active is below the best so far): one host holds every request it
// gets for a minute, the other answers at once. Once the slow host is
// busy it wins a pick only when both choices draw it (one in four), so of
// 200 requests sent 10 ms apart it takes about 50; a pick that kept the
// busier host would give it three in four (about 150).
func TestLeastRequestPicksTheIdlerHost(t *testing.T) {
	s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"}, ep{addr: "10.0.0.2:80"})
	s.Clusters[0].LbPolicy = clusterv3.Cluster_LEAST_REQUEST
	p, clock := newTestProxy(s, &fakeNet{fn: func(_ time.Time, a *Attempt) Result {
		if a.Address == "10.0.0.1:80" {
			return Result{Outcome: OutcomeResponse, Status: 200, Latency: time.Minute}
		}
		return Result{Outcome: OutcomeResponse, Status: 200, Latency: time.Millisecond}
	}})
	slow := 0
	for range 200 {
		x := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
		clock.Advance(10 * time.Millisecond)
		if !x.Done {
			slow++
		}
	}
	assert.InDelta(t, 50, slow, 25, "requests held by the slow host")
}

// A reply the router makes before any attempt (no healthy upstream:
// router.cc decodeHeaders sends the 503 UH before creating an upstream
// request) still runs back through a Wasm gateway's filters, with no
// upstream host to report.
func TestWasmGatewayReplyWithoutAttempts(t *testing.T) {
	p, proc := wasmProxy(t, "properties", &fakeNet{}, func(s *xds.Snapshot) {
		s.Endpoints[0] = assignment(primary)
	})
	x := p.Send(Request{Port: 8080, Headers: hdrs("svc", "/")})
	proc.Clock.Advance(time.Minute)
	require.True(t, x.Done)
	assert.Equal(t, 503, x.Record.Status)
	assert.Equal(t, "no_healthy_upstream", x.Record.Details)
	assert.Empty(t, x.Record.Attempts)
}

// Weighted clusters take the draw modulo the total weight and pick the
// first cluster whose cumulative weight exceeds it (weighted_cluster_
// specifier.cc pickWeightedCluster: a cluster owns the half-open range
// [begin, end) of the draws): with weights 1, 2 and 1, draw 0 is a's,
// 1 and 2 are b's, 3 is c's, and 4 wraps to a.
func TestWeightedClusterBoundaries(t *testing.T) {
	r := &route{weighted: []weightedCluster{{"a", 1}, {"b", 2}, {"c", 1}}, totalWeight: 4}
	var got []string
	for draw := range uint64(5) {
		got = append(got, r.pickCluster(nil, draw))
	}
	assert.Equal(t, []string{"a", "b", "b", "c", "a"}, got)
}
