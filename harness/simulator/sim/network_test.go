package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/envoy"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

func testTopology() Topology {
	svc := func() []Service {
		return []Service{{Name: "reviews", Subsets: []Subset{{Name: "v1", Endpoints: 2}, {Name: "v2", Endpoints: 2}}, P50: 5 * time.Millisecond, P99: 5 * time.Millisecond, MaxQueue: time.Second}}
	}
	return Topology{CrossRegion: 40 * time.Millisecond, GatewayLatency: time.Millisecond, Clusters: []Cluster{
		{Name: "c1", Region: "r1", EastWest: Gateway{Address: "10.0.1.1"}, Ingress: Gateway{Address: "10.0.1.2"}, Services: svc()},
		{Name: "c2", Region: "r2", EastWest: Gateway{Address: "10.0.2.1"}, Ingress: Gateway{Address: "10.0.2.2"}, Services: svc()},
	}}
}

func TestPodEndpoints(t *testing.T) {
	top := testTopology()
	eps := PodEndpoints(1, 0, &top.Clusters[1].Services[0])
	assert.Equal(t, []PodEndpoint{{"10.101.1.1", "v1", 0, 4}, {"10.101.1.2", "v1", 1, 4}, {"10.101.1.3", "v2", 2, 4}, {"10.101.1.4", "v2", 3, 4}}, eps)
}

func TestNetworkFaults(t *testing.T) {
	const remote = "outbound|9080|v2|reviews.bookinfo.svc.cluster.local"
	const edge = "outbound|80||bookinfo.example.com"
	s := func(x int) time.Duration { return time.Duration(x) * time.Second }
	tests := []struct {
		name    string
		fault   Fault
		at      time.Duration
		addr    string
		cluster string
		want    envoy.Result
		faults  []string
	}{
		{"healthy pod", Fault{}, 0, "10.100.1.1:9080", "", envoy.Result{Outcome: envoy.OutcomeResponse, Latency: 5 * time.Millisecond, Status: 200}, nil},
		{"remote gateway adds hop and region latency", Fault{}, 0, "10.0.2.1:15443", remote, envoy.Result{Outcome: envoy.OutcomeResponse, Latency: 46 * time.Millisecond, Status: 200}, nil},
		{"unknown address", Fault{}, 0, "1.2.3.4:80", "", envoy.Result{Outcome: envoy.OutcomeConnectFailure, Cause: "no such address in the topology: 1.2.3.4:80"}, nil},
		{"local pod scaled to zero refuses", Fault{Kind: ServiceScaledToZero, Start: s(1), Target: Target{Cluster: "c1", Service: "reviews", Share: 1}}, s(2), "10.100.1.1:9080", "",
			envoy.Result{Outcome: envoy.OutcomeConnectFailure, Cause: "c1 reviews scaled to 0 (pod gone)"}, []string{"f"}},
		{"before the fault starts", Fault{Kind: ServiceScaledToZero, Start: s(1), Target: Target{Cluster: "c1", Share: 1}}, 0, "10.100.1.1:9080", "",
			envoy.Result{Outcome: envoy.OutcomeResponse, Latency: 5 * time.Millisecond, Status: 200}, nil},
		{"after recovery", Fault{Kind: ServiceScaledToZero, Start: s(1), End: s(2), Target: Target{Cluster: "c1", Share: 1}}, s(2), "10.100.1.1:9080", "",
			envoy.Result{Outcome: envoy.OutcomeResponse, Latency: 5 * time.Millisecond, Status: 200}, nil},
		{"remote service scaled to zero: east-west gateway closes in the handshake", Fault{Kind: ServiceScaledToZero, Target: Target{Cluster: "c2", Service: "reviews", Share: 1}}, 0, "10.0.2.1:15443", remote,
			envoy.Result{Outcome: envoy.OutcomeHandshakeFailure, Latency: 41 * time.Millisecond, Cause: "c2 reviews: no healthy upstream behind the east-west gateway (closed during the TLS handshake)"}, []string{"f"}},
		{"remote service half scaled to zero: the east-west gateway serves from the rest", Fault{Kind: ServiceScaledToZero, Target: Target{Cluster: "c2", Share: 0.5}}, 0, "10.0.2.1:15443", edge,
			envoy.Result{Outcome: envoy.OutcomeResponse, Latency: 46 * time.Millisecond, Status: 200}, nil},
		{"remote subset scaled to zero: other subsets do not serve it", Fault{Kind: ServiceScaledToZero, Target: Target{Cluster: "c2", Subset: "v2", Share: 1}}, 0, "10.0.2.1:15443", remote,
			envoy.Result{Outcome: envoy.OutcomeHandshakeFailure, Latency: 41 * time.Millisecond, Cause: "c2 reviews: no healthy upstream behind the east-west gateway (closed during the TLS handshake)"}, []string{"f"}},
		{"remote service scaled to zero: ingress answers 503 UH", Fault{Kind: ServiceScaledToZero, Target: Target{Cluster: "c2", Share: 1}}, 0, "10.0.2.2:80", edge,
			envoy.Result{Outcome: envoy.OutcomeResponse, Latency: 41 * time.Millisecond, Status: 503, Headers: [][2]string{{"content-type", "text/plain"}}, Body: []byte("no healthy upstream"), Cause: "c2 reviews: no healthy upstream (503 UH at the ingress gateway)"}, []string{"f"}},
		{"ingress gateway passes a pod's answer on", Fault{}, 0, "10.0.2.2:80", edge,
			envoy.Result{Outcome: envoy.OutcomeResponse, Latency: 46 * time.Millisecond, Status: 200}, nil},
		{"ingress scaled to zero refuses", Fault{Kind: GatewayScaledToZero, Target: Target{Cluster: "c2", Gateway: Ingress}}, 0, "10.0.2.2:80", edge,
			envoy.Result{Outcome: envoy.OutcomeConnectFailure, Cause: "c2 ingress gateway scaled to 0"}, []string{"f"}},
		{"ingress fault spares the east-west gateway", Fault{Kind: GatewayScaledToZero, Target: Target{Cluster: "c2", Gateway: Ingress}}, 0, "10.0.2.1:15443", remote,
			envoy.Result{Outcome: envoy.OutcomeResponse, Latency: 46 * time.Millisecond, Status: 200}, nil},
		{"Gateway resource deleted: ingress 404", Fault{Kind: GatewayResourceDeleted, Target: Target{Cluster: "c2"}}, 0, "10.0.2.2:80", edge,
			envoy.Result{Outcome: envoy.OutcomeResponse, Latency: 41 * time.Millisecond, Status: 404, Cause: "c2 Gateway resource deleted (404 NR)"}, []string{"f"}},
		{"Gateway resource deleted: east-west closes", Fault{Kind: GatewayResourceDeleted, Target: Target{Cluster: "c2"}}, 0, "10.0.2.1:15443", remote,
			envoy.Result{Outcome: envoy.OutcomeHandshakeFailure, Latency: 41 * time.Millisecond, Cause: "c2 Gateway resource deleted (no filter chain)"}, []string{"f"}},
		{"region outage", Fault{Kind: RegionOutage, Target: Target{Region: "r2"}}, 0, "10.0.2.1:15443", remote,
			envoy.Result{Outcome: envoy.OutcomeConnectFailure, Cause: "c2 down"}, []string{"f"}},
		{"cluster outage takes pods down", Fault{Kind: ClusterOutage, Target: Target{Cluster: "c1"}}, 0, "10.100.1.3:9080", "",
			envoy.Result{Outcome: envoy.OutcomeConnectFailure, Cause: "c1 down"}, []string{"f"}},
		{"partition", Fault{Kind: Partition, Target: Target{Regions: []string{"r2", "r1"}}}, 0, "10.0.2.1:15443", remote,
			envoy.Result{Outcome: envoy.OutcomeConnectTimeout, Cause: "partition r1 / r2"}, []string{"f"}},
		{"partition, regions in the other order", Fault{Kind: Partition, Target: Target{Regions: []string{"r1", "r2"}}}, 0, "10.0.2.1:15443", remote,
			envoy.Result{Outcome: envoy.OutcomeConnectTimeout, Cause: "partition r1 / r2"}, []string{"f"}},
		{"partition spares the local region", Fault{Kind: Partition, Target: Target{Regions: []string{"r2", "r1"}}}, 0, "10.100.1.1:9080", "",
			envoy.Result{Outcome: envoy.OutcomeResponse, Latency: 5 * time.Millisecond, Status: 200}, nil},
		{"error rate 100%", Fault{Kind: ErrorRate, Status: 500, Rate: 1, Target: Target{Cluster: "c1", Share: 1}}, 0, "10.100.1.1:9080", "",
			envoy.Result{Outcome: envoy.OutcomeResponse, Latency: 5 * time.Millisecond, Status: 500, Cause: "c1 reviews error rate (500)"}, []string{"f"}},
		{"error rate on half the endpoints hits the first half", Fault{Kind: ErrorRate, Status: 500, Rate: 1, Target: Target{Cluster: "c1", Share: 0.5}}, 0, "10.100.1.2:9080", "",
			envoy.Result{Outcome: envoy.OutcomeResponse, Latency: 5 * time.Millisecond, Status: 500, Cause: "c1 reviews error rate (500)"}, []string{"f"}},
		{"error rate on half the endpoints spares the second half", Fault{Kind: ErrorRate, Status: 500, Rate: 1, Target: Target{Cluster: "c1", Share: 0.5}}, 0, "10.100.1.3:9080", "",
			envoy.Result{Outcome: envoy.OutcomeResponse, Latency: 5 * time.Millisecond, Status: 200}, nil},
		{"share of a subset", Fault{Kind: ErrorRate, Status: 500, Rate: 1, Target: Target{Cluster: "c1", Subset: "v2", Share: 0.5}}, 0, "10.100.1.3:9080", "",
			envoy.Result{Outcome: envoy.OutcomeResponse, Latency: 5 * time.Millisecond, Status: 500, Cause: "c1 reviews error rate (500)"}, []string{"f"}},
		{"added latency", Fault{Kind: AddedLatency, Delay: time.Second, Target: Target{Cluster: "c1", Share: 1}}, 0, "10.100.1.1:9080", "",
			envoy.Result{Outcome: envoy.OutcomeResponse, Latency: time.Second + 5*time.Millisecond, Status: 200}, []string{"f"}},
		{"flapping, off phase", Fault{Kind: ClusterOutage, Target: Target{Cluster: "c1"}, FlapPeriod: s(10), FlapDuty: 0.5}, s(17), "10.100.1.1:9080", "",
			envoy.Result{Outcome: envoy.OutcomeResponse, Latency: 5 * time.Millisecond, Status: 200}, nil},
		{"flapping, on phase", Fault{Kind: ClusterOutage, Target: Target{Cluster: "c1"}, FlapPeriod: s(10), FlapDuty: 0.5}, s(12), "10.100.1.1:9080", "",
			envoy.Result{Outcome: envoy.OutcomeConnectFailure, Cause: "c1 down"}, []string{"f"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var faults []Fault
			if tc.fault.Kind != "" {
				tc.fault.Name = "f"
				faults = append(faults, tc.fault)
			}
			n := NewNetwork(testTopology(), faults, vclock.Epoch, 1, "reviews")
			n.Place("client", ProxyPlace{Cluster: "c1", Region: "r1"})
			var recs []AttemptRecord
			n.Record = func(r AttemptRecord) { recs = append(recs, r) }
			got := n.Send(vclock.Epoch.Add(tc.at), &envoy.Attempt{Proxy: "client", Cluster: tc.cluster, Address: tc.addr, Headers: [][2]string{{RequestIDHeader, "42"}}})
			assert.Equal(t, tc.want, got)
			require.Len(t, recs, 1)
			assert.Equal(t, uint64(42), recs[0].RequestID)
			assert.Equal(t, tc.faults, recs[0].Faults)
		})
	}
}

func TestNetworkCapacityQueuesThenOverflows(t *testing.T) {
	top := testTopology()
	top.Clusters[0].Services[0].Subsets = []Subset{{Endpoints: 1}}
	top.Clusters[0].Services[0].Capacity = 10 // 100 ms per request
	top.Clusters[0].Services[0].MaxQueue = 300 * time.Millisecond
	n := NewNetwork(top, nil, vclock.Epoch, 1, "reviews")
	var lat []time.Duration
	var status []int
	for i := 0; i < 5; i++ {
		r := n.Send(vclock.Epoch, &envoy.Attempt{Address: "10.100.1.1:9080"})
		lat, status = append(lat, r.Latency), append(status, r.Status)
	}
	ms := time.Millisecond
	assert.Equal(t, []int{200, 200, 200, 200, 503}, status)
	assert.Equal(t, []time.Duration{5 * ms, 105 * ms, 205 * ms, 305 * ms, 0}, lat)
	// Once the queue drains, requests are served at once again.
	r := n.Send(vclock.Epoch.Add(time.Second), &envoy.Attempt{Address: "10.100.1.1:9080"})
	assert.Equal(t, 5*ms, r.Latency)
}

func TestNetworkRoundRobinBehindGateway(t *testing.T) {
	n := NewNetwork(testTopology(), nil, vclock.Epoch, 1, "reviews")
	var got []string
	n.Record = func(r AttemptRecord) { got = append(got, r.Endpoint) }
	for i := 0; i < 3; i++ {
		n.Send(vclock.Epoch, &envoy.Attempt{Cluster: "outbound|9080|v2|reviews.bookinfo.svc.cluster.local", Address: "10.0.2.1:15443"})
	}
	n.Send(vclock.Epoch, &envoy.Attempt{Cluster: "outbound|9080|cluster-c2|reviews.bookinfo.svc.cluster.local", Address: "10.0.2.1:15443"})
	n.Send(vclock.Epoch, &envoy.Attempt{Cluster: "outbound|9080||reviews.bookinfo.svc.cluster.local", Address: "10.0.2.1:15443"})
	// v2 has its own turn over its two pods; an attempt for no version
	// subset (a cluster's subset, or the whole service) takes the next of
	// all four in one turn of their own, whatever v2 took.
	assert.Equal(t, []string{"10.101.1.3", "10.101.1.4", "10.101.1.3", "10.101.1.1", "10.101.1.2"}, got)
}

func TestLatencyDistribution(t *testing.T) {
	n := NewNetwork(Topology{}, nil, vclock.Epoch, 3, "")
	var xs []time.Duration
	for i := 0; i < 20000; i++ {
		xs = append(xs, n.sample(10*time.Millisecond, 50*time.Millisecond))
	}
	sortDurations(xs)
	assert.InDelta(t, float64(10*time.Millisecond), float64(xs[10000]), float64(time.Millisecond))
	assert.InDelta(t, float64(50*time.Millisecond), float64(xs[19800]), float64(6*time.Millisecond))
}

// A service with no pods behind a gateway (endpoints: 0, which the
// scenario allows) has no healthy upstream there, and no fault is named
// for it.
func TestNetworkGatewayWithoutPods(t *testing.T) {
	top := testTopology()
	top.Clusters[1].Services[0].Subsets = []Subset{{Name: "v1", Endpoints: 0}}
	n := NewNetwork(top, nil, vclock.Epoch, 1, "reviews")
	var recs []AttemptRecord
	n.Record = func(r AttemptRecord) { recs = append(recs, r) }
	got := n.Send(vclock.Epoch, &envoy.Attempt{Cluster: "outbound|9080||reviews.bookinfo.svc.cluster.local", Address: "10.0.2.1:15443"})
	assert.Equal(t, envoy.OutcomeHandshakeFailure, got.Outcome)
	got = n.Send(vclock.Epoch, &envoy.Attempt{Cluster: "outbound|9080||reviews.bookinfo.svc.cluster.local", Address: "10.0.2.2:80"})
	assert.Equal(t, 503, got.Status, "the ingress gateway answers no healthy upstream")
	require.Len(t, recs, 2)
	assert.Empty(t, recs[0].Faults)
	assert.Empty(t, recs[1].Faults)
}
