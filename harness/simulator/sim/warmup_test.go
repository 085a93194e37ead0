package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/detour-mesh/detour/harness/simulator/envoy"
	"github.com/detour-mesh/detour/harness/simulator/sim/scenario"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// A pod back from a fault with a warm-up serves at a fraction of its
// capacity and adds latency, both moving linearly to normal.
func TestNetworkWarmUp(t *testing.T) {
	top := testTopology()
	top.Clusters[0].Services[0].Subsets = []Subset{{Endpoints: 1}}
	top.Clusters[0].Services[0].Capacity = 10 // 100 ms per request when warm
	top.Clusters[0].Services[0].MaxQueue = 10 * time.Second
	s, ms := time.Second, time.Millisecond
	f := Fault{Name: "down", Kind: ServiceScaledToZero, Start: 10 * s, End: 20 * s, Target: Target{Cluster: "c1", Share: 1},
		WarmUp: &scenario.WarmUp{Duration: 10 * s, Capacity: 0.5, Latency: 200 * ms}}
	n := NewNetwork(top, []Fault{f}, vclock.Epoch, 1, "reviews")
	var faults [][]string
	n.Record = func(r AttemptRecord) { faults = append(faults, r.Faults) }
	send := func(at time.Duration) time.Duration {
		return n.Send(vclock.Epoch.Add(at), &envoy.Attempt{Address: "10.100.1.1:9080"}).Latency
	}
	// At the return: half the capacity (200 ms per request), 200 ms more.
	assert.Equal(t, 205*ms, send(20*s))
	assert.Equal(t, 405*ms, send(20*s), "the second request waits one cold service time")
	// Half way: 75 % capacity (133 ms per request), 100 ms more.
	assert.Equal(t, 105*ms, send(25*s))
	assert.Equal(t, 238*ms, send(25*s).Round(ms))
	// Warm again.
	assert.Equal(t, 5*ms, send(30*s))
	assert.Equal(t, 105*ms, send(30*s))
	assert.Equal(t, [][]string{{"down"}, {"down"}, {"down"}, {"down"}, nil, nil}, faults)
}
