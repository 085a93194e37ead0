package sim

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/envoy"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// Requests are numbered from base+1 in arrival order, the number going
// out as x-request-id, and dealt to the workers in turn: with three
// workers the first goes to worker 1, then 2, 0, 1. The worker picks the
// filters' VM, so another order would change which VM's state each
// request meets.
func TestTrafficNumbersAndDealsRequests(t *testing.T) {
	tt := Traffic{Workers: 3, Methods: []Weighted{{Name: "GET", Weight: 1}}, Paths: []string{"/p"},
		Headers: [][2]string{{"x-team", "a"}}}
	for _, tc := range []struct {
		base    uint64
		ids     []uint64
		tags    []string
		workers []int
	}{
		{0, []uint64{1, 2, 3, 4}, []string{"1", "2", "3", "4"}, []int{1, 2, 0, 1}},
		{2 << 40, []uint64{2<<40 + 1, 2<<40 + 2, 2<<40 + 3, 2<<40 + 4},
			[]string{"2199023255553", "2199023255554", "2199023255555", "2199023255556"}, []int{1, 2, 0, 1}},
	} {
		tr := newTraffic(tt, 1, 10, "reviews.default.svc.cluster.local", 9080, tc.base)
		var ids []uint64
		var tags []string
		var workers []int
		for range 4 {
			id, method, req := tr.next()
			assert.Equal(t, "GET", method)
			assert.Equal(t, uint32(9080), req.Port)
			assert.Equal(t, [][2]string{{":method", "GET"}, {":path", "/p"}, {":authority", "reviews.default.svc.cluster.local"},
				{":scheme", "http"}, {RequestIDHeader, req.Tag}, {"x-team", "a"}}, req.Headers)
			ids, tags, workers = append(ids, id), append(tags, req.Tag), append(workers, req.Worker)
		}
		assert.Equal(t, tc.ids, ids)
		assert.Equal(t, tc.tags, tags)
		assert.Equal(t, tc.workers, workers)
	}
}

// The arrivals come in order, inside the traffic's duration, each handed
// over once with the next id.
func TestTrafficArrivals(t *testing.T) {
	clock := vclock.New(time.Time{})
	start := clock.Now()
	tr := newTraffic(Traffic{Workers: 2, Duration: 10 * time.Second, Methods: []Weighted{{Name: "GET", Weight: 1}}, Paths: []string{"/"}}, 5, 20, "a", 80, 0)
	var at []time.Duration
	var ids []uint64
	tr.start(clock, start, func(id uint64, _ string, _ envoy.Request) {
		at = append(at, clock.Now().Sub(start))
		ids = append(ids, id)
	})
	clock.RunUntil(start.Add(time.Hour))
	require.NotEmpty(t, at)
	assert.InDelta(t, 200, len(at), 60, "20 rps for 10 s (Poisson)")
	for i := range at {
		assert.Equal(t, uint64(i+1), ids[i])
		assert.Less(t, at[i], 10*time.Second)
		if i > 0 {
			assert.GreaterOrEqual(t, at[i], at[i-1])
		}
	}
}

// An edge entry sends to a host the edge gateway serves: without
// traffic.host, service.hosts or an intent's edge hosts there is none,
// and the run says so instead of sending an empty :authority.
func TestEdgeEntryNeedsAHost(t *testing.T) {
	istio, err := filepath.Abs("../../../examples/edge-auto/out/bookinfo/productpage")
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "drill.yaml")
	body := "istio: " + istio + `
service: {name: productpage, namespace: bookinfo}
topology:
  clusters:
    - {name: cluster-1a, region: region-1, zone: region-1a, services: [{name: productpage, subsets: {v1: 2}}]}
traffic: {entry: edge, rate: 1, duration: 2s}
`
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	sc, err := Load(p)
	require.NoError(t, err)
	_, err = Run(context.Background(), sc, Options{Generate: replay})
	assert.ErrorContains(t, err, "drill.yaml:6:18: traffic.entry: edge entry, but no host to send to: set traffic.host or service.hosts")
}
