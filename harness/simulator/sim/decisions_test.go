package sim

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/harness/simulator/xds"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen/input"
)

// The intent's subsets become the topology's by their version label (what
// Istio's DestinationRule subsets select pods by), their name when they
// have none; the endpoints are spread evenly, rounded up: 3 over 2
// subsets is 2 each.
func TestMergeTopologySubsetVersions(t *testing.T) {
	in := &intent.Intent{Spec: intent.Spec{
		Clusters: []intent.Cluster{{Name: "c1", Region: "r1", Endpoints: 3}},
		Subsets:  []intent.Subset{{Name: "stable", Labels: map[string]string{"version": "v1"}}, {Name: "canary"}},
	}}
	top := mergeTopology(Topology{}, in, "reviews")
	assert.Equal(t, []string{"c1"}, clusterNames(top))
	assert.Equal(t, []Subset{{Name: "v1", Endpoints: 2}, {Name: "canary", Endpoints: 2}}, top.Clusters[0].Services[0].Subsets)
}

// A scenario's name is its file's base name, whatever the separator, also
// for a file at the root.
func TestBaseName(t *testing.T) {
	for in, want := range map[string]string{"/d.yaml": "d.yaml", "a/b/d.yaml": "d.yaml", `a\d.yaml`: "d.yaml", "d.yaml": "d.yaml"} {
		assert.Equal(t, want, baseName(in), in)
	}
}

// Methods are drawn by weight: of 4000 requests with weights 1, 1 and 2,
// about 1000, 1000 and 2000 (within five standard deviations of the
// binomial counts, 27 and 32); paths uniformly.
func TestDrawByWeight(t *testing.T) {
	tr := Traffic{Methods: []Weighted{{Name: "DELETE", Weight: 1}, {Name: "GET", Weight: 1}, {Name: "POST", Weight: 2}}, Paths: []string{"/a", "/b"}}
	rng := rand.New(rand.NewPCG(1, 2))
	methods, paths := map[string]int{}, map[string]int{}
	for range 4000 {
		m, p := draw(rng, tr, 4)
		methods[m]++
		paths[p]++
	}
	assert.InDelta(t, 1000, methods["DELETE"], 5*27.4, "%v", methods)
	assert.InDelta(t, 1000, methods["GET"], 5*27.4, "%v", methods)
	assert.InDelta(t, 2000, methods["POST"], 5*31.6, "%v", methods)
	assert.InDelta(t, 2000, paths["/a"], 5*31.6, "%v", paths)
}

// A latency without a median is none (the p99 alone gives no
// distribution); a p99 at the median is the median.
func TestSampleDegenerate(t *testing.T) {
	n := NewNetwork(Topology{}, nil, time.Time{}, 1, "")
	assert.Zero(t, n.sample(0, 10*time.Millisecond))
	assert.Zero(t, n.sample(0, 0))
	assert.Equal(t, 5*time.Millisecond, n.sample(5*time.Millisecond, 5*time.Millisecond))
	assert.Equal(t, 5*time.Millisecond, n.sample(5*time.Millisecond, time.Millisecond))

	// A fixed latency draws no random number: the next latency is the
	// one a fresh network of the same seed draws first.
	a, b := NewNetwork(Topology{}, nil, time.Time{}, 1, ""), NewNetwork(Topology{}, nil, time.Time{}, 1, "")
	a.sample(5*time.Millisecond, 5*time.Millisecond)
	assert.Equal(t, b.sample(time.Millisecond, 10*time.Millisecond), a.sample(time.Millisecond, 10*time.Millisecond))
}

// Traffic headers are added to every request, however many: six here,
// more than the request's five pseudo and id headers, from the entry and
// from the fleet's other source (cluster-2).
func TestRunManyTrafficHeaders(t *testing.T) {
	rep, err := Run(context.Background(), scenarioFile(t, `traffic: {entry: cluster-1, fleet: true, duration: 2s, seed: 1,
  headers: {x-a: "1", x-b: "2", x-c: "3", x-d: "4", x-e: "5", x-f: "6"}}
`), Options{Generate: replay})
	require.NoError(t, err)
	require.Len(t, rep.Runs, 1)
	run := rep.Runs[0]
	assert.Positive(t, run.Requests)
	assert.Zero(t, run.UserVisibleErrors)
	require.NotNil(t, run.Fleet)
	require.Len(t, run.Fleet.Sources, 2)
	assert.Positive(t, run.Fleet.Sources[1].Requests)
	assert.Zero(t, run.Fleet.Sources[1].UserVisibleErrors)
}

// The edge entry sends to the intent's edge port. The recorded edge
// gateway listens on the intent's port, 80: told the edge port is 8081,
// the run sends there, where nothing listens, and the proxy answers every
// request itself (no attempt upstream). No port is port 80.
func TestEdgeEntryPort(t *testing.T) {
	run := func(port uint32) RunReport {
		t.Helper()
		sc, err := Load("testdata/runs/edge-fleet.yaml")
		require.NoError(t, err)
		sc.Traffic.Fleet, sc.Traffic.Sources = false, nil
		sc.Traffic.Duration, sc.Traffic.Rate, sc.Traffic.RateSet = 2*time.Second, 20, true
		s, err := resolve(sc, "")
		require.NoError(t, err)
		require.NotNil(t, s.edge)
		require.Equal(t, uint32(80), s.edge.Port)
		e := *s.edge
		e.Port = port
		s.edge, s.gen = &e, replay
		r, err := s.run(context.Background(), RunIstio, s.source, func(y string) string { return withoutKinds(y, "WasmPlugin") }, nil, nil, Expect{})
		require.NoError(t, err)
		require.Positive(t, r.Requests)
		return r
	}
	for _, port := range []uint32{80, 0} { // 0: none given, Envoy's default 80
		ok := run(port)
		assert.Zero(t, ok.UserVisibleErrors, port)
		assert.Positive(t, ok.Attempts, port)
	}
	r := run(8081)
	assert.Equal(t, r.Requests, r.UserVisibleErrors)
	assert.Zero(t, r.Attempts)
}

// A source with no traffic sends none: the entry given rate 0 in a fleet
// drill (cluster-2 keeps the intent's 300 rps), and a source so slow that
// its first arrival is far past the run (1e-12 rps: on average every
// 31,700 years). Both used to schedule arrivals forever.
func TestRunSourcesWithoutTraffic(t *testing.T) {
	rep, err := Run(context.Background(), scenarioFile(t, "traffic: {entry: cluster-1, duration: 2s, seed: 1, sources: {cluster-1: 0, cluster-2: 0.000000000001}}\n"), Options{Generate: replay})
	require.NoError(t, err)
	run := rep.Runs[0]
	assert.Zero(t, run.Requests)
	require.NotNil(t, run.Fleet)
	require.Len(t, run.Fleet.Sources, 2)
	assert.Zero(t, run.Fleet.Sources[0].Requests)
	assert.Zero(t, run.Fleet.Sources[1].Requests)

	rep, err = Run(context.Background(), scenarioFile(t, "traffic: {entry: cluster-1, duration: 2s, seed: 1, sources: {cluster-1: 0}}\n"), Options{Generate: replay})
	require.NoError(t, err)
	assert.Zero(t, rep.Runs[0].Requests)
	assert.InDelta(t, 600, rep.Runs[0].Fleet.Sources[1].Requests, 5*24.5, "cluster-2 at the intent's 300 rps for 2 s (Poisson, sd 24.5)")
}

// The next arrival is an exponential draw over the rate after the last
// one, kept only before the end: with the draw scaled to a 3 s gap, from
// 5 s it lands at 8 s, inside a 10 s run and past a 6 s one. A rate of 0
// gives none.
func TestNextArrival(t *testing.T) {
	e := rand.New(rand.NewPCG(7, 7)).ExpFloat64()
	rate := e / 3 // a gap of e/rate = 3 s
	s := time.Second
	at, ok := nextArrival(rand.New(rand.NewPCG(7, 7)), 5*s, 10*s, rate)
	assert.True(t, ok)
	assert.InDelta(t, float64(8*s), float64(at), 1)
	_, ok = nextArrival(rand.New(rand.NewPCG(7, 7)), 5*s, 6*s, rate)
	assert.False(t, ok)
	_, ok = nextArrival(rand.New(rand.NewPCG(7, 7)), 0, 6*s, 0)
	assert.False(t, ok)
}

// An EDS update the proxy rejects (an assignment for a cluster it does not
// have) fails the run, from the entry and from a fleet source alike: each
// proxy's updates after its first xDS are its first answer plus such an
// assignment.
func TestEDSUpdateErrorFailsTheRun(t *testing.T) {
	for _, cluster := range []string{"cluster-1", "cluster-2"} {
		t.Run(cluster, func(t *testing.T) {
			first := map[string]input.Input{}
			gen := func(ctx context.Context, in input.Input) (*xds.Snapshot, error) {
				f, seen := first[in.Proxy.Name]
				if !seen {
					first[in.Proxy.Name] = in
					return replay(ctx, in)
				}
				snap, err := replay(ctx, f)
				if err != nil {
					return nil, err
				}
				snap.Endpoints = append(snap.Endpoints, &endpointv3.ClusterLoadAssignment{ClusterName: "outbound|1||nowhere.example"})
				return snap, nil
			}
			sc := scenarioFile(t, `traffic: {entry: cluster-1, fleet: true, duration: 10s, seed: 1}
faults:
  - {name: down, kind: serviceScaledToZero, start: 2s, end: 4s, target: {cluster: `+cluster+`}}
`)
			_, err := Run(context.Background(), sc, Options{Generate: gen})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "EDS update")
			assert.Contains(t, err.Error(), "nowhere.example")
		})
	}
}

// A fleet source's Kubernetes change reaches its proxy after the
// control-plane delay (1 s), if that is still inside the run: a scale to
// zero at 8 s is generated and pushed at 9 s, one at 9 s would land at the
// run's end (10 s) and is not generated at all.
func TestFleetSourceEDSTiming(t *testing.T) {
	for start, want := range map[string]int{"8s": 2, "9s": 1} {
		t.Run(start, func(t *testing.T) {
			calls, first := map[string]int{}, map[string]input.Input{}
			gen := func(ctx context.Context, in input.Input) (*xds.Snapshot, error) {
				calls[in.Proxy.Cluster]++
				if _, seen := first[in.Proxy.Cluster]; !seen {
					first[in.Proxy.Cluster] = in
				}
				return replay(ctx, first[in.Proxy.Cluster]) // the recorded first answer
			}
			sc := scenarioFile(t, `traffic: {entry: cluster-1, fleet: true, duration: 10s, seed: 1}
faults:
  - {name: down, kind: serviceScaledToZero, start: `+start+`, target: {cluster: cluster-2}}
`)
			_, err := Run(context.Background(), sc, Options{Generate: gen})
			require.NoError(t, err)
			assert.Equal(t, map[string]int{"cluster-1": 1, "cluster-2": want}, calls)
		})
	}
}

// The records and events are sorted by these three-way comparisons.
func TestCompare(t *testing.T) {
	assert.Equal(t, []int{-1, 0, 1}, []int{cmpU64(1, 2), cmpU64(2, 2), cmpU64(3, 2)})
	assert.Equal(t, []int{-1, 0, 1}, []int{cmpDur(time.Second, 2*time.Second), cmpDur(time.Second, time.Second), cmpDur(2*time.Second, time.Second)})
}

// The run stops with the last response, not at the drain's limit: the
// three local pods ejected at 15 s would return after their ejection time,
// long after the traffic stopped at 20 s, and a run that went on would
// show those returns.
func TestRunStopsWithTheLastResponse(t *testing.T) {
	rep, err := Run(context.Background(), scenarioFile(t, `traffic: {entry: cluster-1, rate: 50, duration: 20s, seed: 1}
faults:
  - {name: out, kind: clusterOutage, start: 15s, target: {cluster: cluster-1}}
`), Options{Generate: replay})
	require.NoError(t, err)
	var ejected []string
	for _, e := range rep.Runs[0].Events {
		assert.Less(t, e.AtS, 21.0, "%s %s", e.Kind, e.Host)
		if e.Kind == "eject" {
			assert.InDelta(t, 15, e.AtS, 0.5)
			ejected = append(ejected, e.Host)
		}
	}
	assert.ElementsMatch(t, []string{"10.100.1.1:9080", "10.100.1.2:9080", "10.100.1.3:9080"}, ejected)
}

// What each cluster's sidecars send in a fleet drill: a source's own rate
// first; at an edge entry nothing else; the entry the traffic's rate when
// the scenario sets one, else its intent load, else the traffic's default
// rate; another cluster its intent load, else nothing.
func TestRateOf(t *testing.T) {
	s := &setup{sc: &Scenario{Traffic: Traffic{Rate: 7, Sources: []Weighted{{Name: "src", Weight: 3}}}},
		entry: "c1", loads: map[string]float64{"c2": 5}}
	assert.Equal(t, []float64{3, 7, 5, 0}, []float64{s.rateOf("src"), s.rateOf("c1"), s.rateOf("c2"), s.rateOf("c3")})
	s.sc.Traffic.RateSet, s.loads["c1"] = true, 4
	assert.Equal(t, 7.0, s.rateOf("c1"), "the scenario's rate wins")
	s.sc.Traffic.RateSet = false
	assert.Equal(t, 4.0, s.rateOf("c1"), "the intent's load")
	s.entry = "edge"
	assert.Equal(t, []float64{3, 0, 0}, []float64{s.rateOf("src"), s.rateOf("c1"), s.rateOf("c2")})
}

// A fleet drill's sources are held to 50 million requests, as
// traffic.rate is, where the intent's loads set their rates: 2 sidecar
// clusters at 0.5 million rps for 60 s (plus the entry's 10 rps) is 60
// million; the same at 0.4 million rps is 48 million and runs.
func TestFleetVolume(t *testing.T) {
	s := &setup{sc: &Scenario{Path: "drill.yaml", Traffic: Traffic{Fleet: true, Rate: 10, Duration: time.Minute}},
		entry: "c1", loads: map[string]float64{"c2": 5e5, "c3": 5e5},
		top: Topology{Clusters: []Cluster{{Name: "c1"}, {Name: "c2"}, {Name: "c3"}}}}
	err := s.fleetVolume()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "60000600 requests")
	s.loads["c2"], s.loads["c3"] = 4e5, 4e5
	assert.NoError(t, s.fleetVolume())
	// Exactly 50 million (10 + 2 × 416,661.67 rps would not be exact; 100 s
	// of 10 + 249,995 + 249,995 rps is) is still allowed: "at most".
	s.sc.Traffic.Duration, s.loads["c2"], s.loads["c3"] = 100*time.Second, 249_995, 249_995
	assert.NoError(t, s.fleetVolume())
}
