package explain

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"istio.io/api/networking/v1alpha3"

	"github.com/detour-mesh/detour/compiler/intent"
)

func w(v uint32) *uint32 { return &v }

// cl builds a cluster; load 0 stands for an unknown load.
func cl(name, region, zone string, capacity, load float64) intent.Cluster {
	c := intent.Cluster{Name: name, Region: region, Zone: zone, Capacity: capacity}
	if load > 0 {
		c.Load = &load
	}
	return c
}

func rps(v float64) *float64 { return &v }

func mk(mode string, cs ...intent.Cluster) intent.Intent {
	return intent.Intent{
		APIVersion: intent.APIVersion, Kind: intent.Kind,
		Metadata: intent.Metadata{Name: "svc", Namespace: "ns"},
		Spec:     intent.Spec{Clusters: cs, Failover: intent.Failover{Mode: mode}},
	}
}

func lossOf(t *testing.T, r Report, kind, name string) Loss {
	t.Helper()
	for _, l := range r.WhatIf {
		if l.Lost.Kind == kind && l.Lost.Name == name {
			return l
		}
	}
	require.Failf(t, "no loss", "%s %s", kind, name)
	return Loss{}
}

func tiersOf(l Ladder) [][]string {
	var out [][]string
	for _, t := range l.Tiers {
		var names []string
		for _, s := range t.Clusters {
			names = append(names, s.Cluster)
		}
		out = append(out, names)
	}
	return out
}

func TestLadders(t *testing.T) {
	three := []intent.Cluster{
		cl("a1", "r1", "z1", 0, 0), cl("a2", "r1", "z2", 0, 0), cl("b", "r2", "z3", 0, 0),
	}
	named := mk(intent.ModeNamed, three...)
	named.Spec.Failover.Order = []string{"b", "a2", "a1"}
	as := mk(intent.ModeActiveStandby, cl("x", "r1", "z1", 0, 0), cl("y", "r2", "z2", 0, 0))
	as.Spec.Clusters[0].Weight, as.Spec.Clusters[1].Weight = w(100), w(0)
	ruled := mk(intent.ModeAuto, three...)
	ruled.Spec.Failover.Rules = []intent.Rule{{From: intent.Locality{Region: "r1"}, Only: []intent.Locality{{Region: "r1"}}}}
	none := mk(intent.ModeAuto, three...)
	none.Spec.Failover.Rules = []intent.Rule{{From: intent.Locality{Cluster: "b"}, None: true}}
	except := mk(intent.ModeAuto, three...)
	except.Spec.Failover.Rules = []intent.Rule{{From: intent.Locality{}, AnyExcept: []intent.Locality{{Zone: "z2"}}}}

	tests := []struct {
		name string
		in   intent.Intent
		from string
		want [][]string
	}{
		{"auto: zone, region, others", mk(intent.ModeAuto, three...), "a1", [][]string{{"a1"}, {"a2"}, {"b"}}},
		{"auto from other region", mk(intent.ModeAuto, three...), "b", [][]string{{"b"}, {"a1", "a2"}}},
		{"named keeps the order for every source", named, "a1", [][]string{{"b"}, {"a2"}, {"a1"}}},
		{"active first, then standby", as, "y", [][]string{{"x"}, {"y"}}},
		{"only cuts other regions", ruled, "a1", [][]string{{"a1"}, {"a2"}}},
		{"rule does not apply to other sources", ruled, "b", [][]string{{"b"}, {"a1", "a2"}}},
		{"none keeps the source only", none, "b", [][]string{{"b"}}},
		{"anyExcept drops a zone, not the source", except, "a1", [][]string{{"a1"}, {"b"}}},
		{"anyExcept keeps the source in the excluded zone", except, "a2", [][]string{{"a2"}, {"a1"}, {"b"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, ok := LadderFrom(tc.in, tc.from)
			require.True(t, ok)
			assert.Equal(t, tc.want, tiersOf(l))
		})
	}
	_, ok := LadderFrom(mk(intent.ModeAuto, three...), "nope")
	assert.False(t, ok)
}

func TestTierShares(t *testing.T) {
	in := mk(intent.ModeAuto, cl("a", "r1", "z1", 0, 0), cl("b", "r1", "z1", 0, 0), cl("c", "r2", "z2", 0, 0))
	in.Spec.Clusters[0].Endpoints, in.Spec.Clusters[1].Endpoints = 3, 1
	l, _ := LadderFrom(in, "a")
	require.Len(t, l.Tiers, 2)
	assert.Equal(t, []Share{{"a", 75}, {"b", 25}}, l.Tiers[0].Clusters)

	wt := mk(intent.ModeWeighted, cl("a", "r1", "z1", 0, 0), cl("b", "r2", "z2", 0, 0))
	wt.Spec.Clusters[0].Weight, wt.Spec.Clusters[1].Weight = w(90), w(10)
	l, _ = LadderFrom(wt, "b")
	assert.True(t, l.Strict)
	assert.Equal(t, []Tier{{Priority: 0, Clusters: []Share{{"a", 90}, {"b", 10}}}}, l.Tiers)
}

func TestWhatIf(t *testing.T) {
	// Two clusters of one region share tier 0 from each other's view.
	spill := mk(intent.ModeAuto, cl("a1", "r1", "z1", 1000, 100), cl("a2", "r1", "z1", 1000, 100), cl("b", "r2", "z2", 1000, 100))
	tight := mk(intent.ModeAuto, cl("east", "r1", "z1", 500, 400), cl("west", "r2", "z2", 500, 300))
	roomy := mk(intent.ModeAuto, cl("east", "r1", "z1", 800, 400), cl("west", "r2", "z2", 800, 300))
	unknown := mk(intent.ModeAuto, cl("east", "r1", "z1", 0, 400), cl("west", "r2", "z2", 0, 300))
	strict := mk(intent.ModeWeighted, cl("stable", "r1", "z1", 1000, 200), cl("canary", "r1", "z2", 1000, 0))
	strict.Spec.Clusters[0].Weight, strict.Spec.Clusters[1].Weight = w(90), w(10)
	strict.Spec.Clusters[1].Load = rps(100)
	aware := strict
	aware.Spec.Failover.HealthAware = true
	as := mk(intent.ModeActiveStandby, cl("east", "r1", "z1", 1000, 300), cl("west", "r2", "z2", 1000, 100))
	as.Spec.Clusters[0].Weight, as.Spec.Clusters[1].Weight = w(100), w(0)
	eu := mk(intent.ModeAuto, cl("fra", "eu", "eu-a", 1000, 100), cl("nyc", "us", "us-a", 1000, 100))
	eu.Spec.Failover.Rules = []intent.Rule{{From: intent.Locality{Region: "eu"}, Only: []intent.Locality{{Region: "eu"}}}}

	tests := []struct {
		name                           string
		in                             intent.Intent
		kind, lost                     string
		moves                          []Move
		dropped                        []Drop
		absorbed                       bool
		overloaded, stranded, unjudged []string
	}{
		{
			name: "half of tier 0 lost spills 30 % at factor 1.4", in: spill, kind: "cluster", lost: "a1",
			moves: []Move{
				{From: "a1", To: "a2", Percent: 20, RPS: 20}, {From: "a1", To: "b", Percent: 30, RPS: 30},
				{From: "a2", To: "a2", Percent: 20, RPS: 20}, {From: "a2", To: "b", Percent: 30, RPS: 30},
			},
			absorbed: true,
		},
		{
			name: "region loss sends everything to the other region", in: spill, kind: "region", lost: "r1",
			moves: []Move{
				{From: "a1", To: "b", Percent: 100, RPS: 100}, {From: "a2", To: "b", Percent: 100, RPS: 100},
			},
			absorbed: true,
		},
		{
			name: "remaining capacity too small", in: tight, kind: "cluster", lost: "east",
			moves: []Move{{From: "east", To: "west", Percent: 100, RPS: 400}}, overloaded: []string{"west"},
		},
		{
			name: "remaining capacity enough", in: roomy, kind: "zone", lost: "z1",
			moves: []Move{{From: "east", To: "west", Percent: 100, RPS: 400}}, absorbed: true,
		},
		{
			name: "capacity unknown is not judged", in: unknown, kind: "cluster", lost: "east",
			moves:    []Move{{From: "east", To: "west", Percent: 100, RPS: 400}},
			unjudged: []string{"west"},
		},
		{
			name: "strict weights drop the dead share", in: strict, kind: "cluster", lost: "canary",
			dropped:  []Drop{{From: "stable", Percent: 10, RPS: 20}, {From: "canary", Percent: 10, RPS: 10}},
			stranded: []string{"stable", "canary"},
		},
		{
			name: "health-aware weights redistribute", in: aware, kind: "cluster", lost: "canary",
			moves:    []Move{{From: "stable", To: "stable", Percent: 10, RPS: 20}, {From: "canary", To: "stable", Percent: 10, RPS: 10}},
			absorbed: true,
		},
		{
			name: "standby takes over when every active is down", in: as, kind: "cluster", lost: "east",
			moves:    []Move{{From: "east", To: "west", Percent: 100, RPS: 300}, {From: "west", To: "west", Percent: 100, RPS: 100}},
			absorbed: true,
		},
		{
			name: "losing the standby moves nothing", in: as, kind: "cluster", lost: "west", absorbed: true,
		},
		{
			name: "residency strands the source", in: eu, kind: "region", lost: "eu",
			moves:    []Move{},
			dropped:  []Drop{{From: "fra", Percent: 100, RPS: 100}},
			stranded: []string{"fra"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := lossOf(t, Analyze(tc.in), tc.kind, tc.lost)
			nz := func(v []Move) []Move {
				if v == nil {
					return []Move{}
				}
				return v
			}
			assert.Equal(t, nz(tc.moves), l.Moves)
			if tc.dropped == nil {
				tc.dropped = []Drop{}
			}
			assert.Equal(t, tc.dropped, l.Dropped)
			assert.Equal(t, tc.absorbed, l.Absorbed)
			for _, p := range []*[]string{&tc.overloaded, &tc.stranded, &tc.unjudged} {
				if *p == nil {
					*p = []string{}
				}
			}
			assert.Equal(t, tc.overloaded, l.Overloaded, "overloaded")
			assert.Equal(t, tc.stranded, l.Stranded, "stranded")
			assert.Equal(t, tc.unjudged, l.Unjudged, "unjudged")
		})
	}
}

func TestEnvoySpillCurve(t *testing.T) {
	// The documented points of Envoy's priority spill at factor 1.4:
	// 72 % healthy keeps everything, 71 % spills 0.6 %, 50 % spills 30 %.
	for _, tc := range []struct {
		healthy, total int
		wantP0         float64
	}{{72, 100, 100}, {71, 100, 99.4}, {50, 100, 70}, {25, 100, 35}, {0, 100, 0}} {
		l := ladder{tiers: []tier{
			{clusters: []string{"up", "down"}, weights: []float64{float64(tc.healthy), float64(tc.total - tc.healthy)}},
			{clusters: []string{"p1"}, weights: []float64{1}},
		}}
		if tc.healthy == 0 {
			l.tiers[0] = tier{clusters: []string{"down"}, weights: []float64{100}}
		}
		share, dropped := l.distribute(map[string]bool{"down": true})
		assert.Zero(t, dropped)
		assert.InDelta(t, tc.wantP0, share["up"], 1e-9, "healthy %d%%", tc.healthy)
		assert.InDelta(t, 100-tc.wantP0, share["p1"], 1e-9, "healthy %d%%", tc.healthy)
	}
}

func TestReportShape(t *testing.T) {
	in := mk(intent.ModeAuto, cl("east", "r1", "z1", 0, 0), cl("west", "r2", "z2", 0, 0))
	r := Analyze(in)
	assert.Len(t, r.Ladders, 2)
	// 2 clusters + 2 zones + 2 regions, in that order.
	var kinds []string
	for _, l := range r.WhatIf {
		kinds = append(kinds, l.Lost.Kind+":"+l.Lost.Name)
	}
	assert.Equal(t, []string{"cluster:east", "cluster:west", "zone:z1", "zone:z2", "region:r1", "region:r2"}, kinds)
	// Empty lists are [] in JSON, never null: policies iterate them.
	b, err := json.Marshal(r.WhatIf[0])
	require.NoError(t, err)
	assert.Contains(t, string(b), `"overloaded":[]`)
	assert.Contains(t, string(b), `"dropped":[]`)
	assert.Equal(t, Analyze(in), r, "deterministic")
}

// TestDistributionInvariants checks, over many generated topologies and
// every loss, that each source's traffic is fully accounted for (shares
// plus dropped make 100 %), that nothing lands on a lost cluster, and that
// nothing lands outside the source's allowed set.
func TestDistributionInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	modes := []string{intent.ModeAuto, intent.ModeNamed, intent.ModeWeighted, intent.ModeActiveStandby}
	for n := range 300 {
		k := 2 + rng.IntN(4)
		var cs []intent.Cluster
		var order []string
		for i := range k {
			c := cl(fmt.Sprintf("c%d", i), fmt.Sprintf("r%d", rng.IntN(2)), fmt.Sprintf("z%d", rng.IntN(3)), float64(rng.IntN(1000)), float64(rng.IntN(500)))
			c.Endpoints = uint32(rng.IntN(5))
			cs = append(cs, c)
			order = append([]string{c.Name}, order...)
		}
		mode := modes[n%len(modes)]
		in := mk(mode, cs...)
		switch mode {
		case intent.ModeNamed:
			in.Spec.Failover.Order = order
		case intent.ModeWeighted:
			in.Spec.Failover.HealthAware = rng.IntN(2) == 0
			left := uint32(100)
			for i := range in.Spec.Clusters {
				v := left
				if i < k-1 {
					v = uint32(rng.IntN(int(left) + 1))
				}
				in.Spec.Clusters[i].Weight = w(v)
				left -= v
			}
		case intent.ModeActiveStandby:
			for i := range in.Spec.Clusters {
				in.Spec.Clusters[i].Weight = w(uint32(100 * (1 - i%2)))
			}
		}
		if rng.IntN(3) == 0 {
			in.Spec.Failover.Rules = []intent.Rule{{From: intent.Locality{Region: "r0"}, Only: []intent.Locality{{Region: "r0"}}}}
		}
		for i, src := range in.Spec.Clusters {
			lad := build(in, src)
			allowed := Allowed(in, src)
			for _, p := range places(in.Spec.Clusters) {
				dead := map[string]bool{}
				for _, c := range p.clusters {
					dead[c] = true
				}
				share, dropped := lad.distribute(dead)
				sum := dropped
				for c, s := range share {
					sum += s
					assert.False(t, dead[c], "case %d source %d: traffic to lost %s", n, i, c)
					assert.True(t, allowed[c], "case %d source %d: traffic to forbidden %s", n, i, c)
					assert.GreaterOrEqual(t, s, 0.0)
				}
				assert.InDelta(t, 100, sum, 1e-6, "case %d source %s loss %s %s: %v dropped %v", n, src.Name, p.kind, p.name, share, dropped)
			}
		}
	}
}

// TestWhatIfJudgesWhatItCan: a caller without a load (a standby's own
// callers, usually) no longer hides an overload the known load shows, and a
// load of 0 is a known load.
func TestWhatIfJudgesWhatItCan(t *testing.T) {
	overload := mk(intent.ModeAuto, cl("big", "r1", "z1", 2000, 1500), cl("small", "r2", "z2", 400, 0))
	l := lossOf(t, Analyze(overload), "cluster", "big")
	assert.Equal(t, []string{"small"}, l.Overloaded)
	assert.Empty(t, l.Unjudged)
	assert.False(t, l.Absorbed)

	zero := overload
	zero.Spec.Clusters = []intent.Cluster{cl("big", "r1", "z1", 2000, 300), cl("small", "r2", "z2", 400, 0)}
	zero.Spec.Clusters[1].Load = rps(0)
	l = lossOf(t, Analyze(zero), "cluster", "big")
	assert.True(t, l.Absorbed, "300 rps fit in 400 and small's own callers send nothing")
	assert.Empty(t, l.Unjudged)

	unknownLoad := zero
	unknownLoad.Spec.Clusters = []intent.Cluster{cl("big", "r1", "z1", 2000, 300), cl("small", "r2", "z2", 400, 0)}
	l = lossOf(t, Analyze(unknownLoad), "cluster", "big")
	assert.False(t, l.Absorbed)
	assert.Equal(t, []string{"small"}, l.Unjudged)
	assert.Equal(t, []string{"small"}, l.LoadUnknown)
	assert.Empty(t, l.CapacityUnknown, "small has a capacity")

	var b strings.Builder
	require.NoError(t, WriteText(&b, overload, Analyze(overload)))
	assert.Contains(t, b.String(), "OVERLOADED small")
	assert.NotContains(t, b.String(), "capacity unknown")
	b.Reset()
	require.NoError(t, WriteText(&b, unknownLoad, Analyze(unknownLoad)))
	assert.Contains(t, b.String(), "not judged: small (load unknown: small)")
	assert.NotContains(t, b.String(), "capacity unknown")
}

// TestWhatIfTwoRegions: depth 2 adds the loss of every pair of regions.
func TestWhatIfTwoRegions(t *testing.T) {
	in := mk(intent.ModeAuto, cl("a", "r1", "z1", 1000, 100), cl("b", "r2", "z2", 1000, 100), cl("c", "r3", "z3", 150, 100))
	for _, l := range Analyze(in).WhatIf {
		assert.NotEqual(t, "regions", l.Lost.Kind, "depth 1 loses one place at a time")
	}
	l := lossOf(t, AnalyzeDepth(in, 2), "regions", "r1+r2")
	assert.Equal(t, []string{"a", "b"}, l.Lost.Clusters)
	assert.Equal(t, []string{"c"}, l.Overloaded, "c takes 300 rps on 150")
	assert.Len(t, AnalyzeDepth(in, 2).WhatIf, len(Analyze(in).WhatIf)+3)
}

// TestWhatIfCountsEnvoyHosts: Envoy's priority health counts hosts. The
// local cluster is its pods; a remote cluster in the same tier is one
// WorkloadEntry (per subset) weighted by its endpoints, so losing it leaves
// 4 of 5 hosts healthy (80 % x 1.4 > 100 %): nothing spills to the next tier.
func TestWhatIfCountsEnvoyHosts(t *testing.T) {
	in := mk(intent.ModeAuto, cl("a", "r1", "z1", 1000, 100), cl("b", "r1", "z1", 1000, 100), cl("c", "r2", "z2", 1000, 100))
	for i := range in.Spec.Clusters {
		in.Spec.Clusters[i].Endpoints = 4
	}
	l := lossOf(t, Analyze(in), "cluster", "b")
	for _, m := range l.Moves {
		if m.From == "a" {
			assert.NotEqual(t, "c", m.To, "no spill out of a's tier 0: %+v", m)
		}
	}
	// b's own callers (load kept, pods gone) see 1 healthy host of 5.
	assert.Contains(t, l.Moves, Move{From: "b", To: "c", Percent: 72, RPS: 72})
	assert.Contains(t, l.Moves, Move{From: "a", To: "a", Percent: 50, RPS: 50})

	// Two subsets: two WorkloadEntries of weight 4 for b against a's 4 pods.
	in.Spec.Subsets = []intent.Subset{{Name: "v1", Labels: map[string]string{"v": "1"}}, {Name: "v2", Labels: map[string]string{"v": "2"}}}
	lad, _ := LadderFrom(in, "a")
	assert.Equal(t, []Share{{"a", 33.33}, {"b", 66.67}}, lad.Tiers[0].Clusters)
	var b strings.Builder
	require.NoError(t, WriteText(&b, in, Analyze(in)))
	assert.Contains(t, b.String(), "a WorkloadEntry per remote cluster and subset (2)")
}

// TestStandbyHeldByTheRouterFilter: the active tier keeps everything while
// any of it is up only because the router filter holds it; without the
// filters Envoy spills to the standby at 1.4 x health (no EnvoyFilter can
// change that for an EDS cluster).
func TestStandbyHeldByTheRouterFilter(t *testing.T) {
	as := mk(intent.ModeActiveStandby, cl("a1", "r1", "z1", 1000, 100), cl("a2", "r1", "z2", 1000, 100), cl("s", "r2", "z3", 1000, 0))
	as.Spec.Clusters[0].Weight, as.Spec.Clusters[1].Weight, as.Spec.Clusters[2].Weight = w(50), w(50), w(0)
	as.Spec.Plugins.Enabled = true
	l := lossOf(t, Analyze(as), "cluster", "a1")
	for _, m := range l.Moves {
		assert.NotEqual(t, "s", m.To, "the filter holds the active tier: %+v", m)
	}
	as.Spec.Plugins.Enabled = false
	l = lossOf(t, Analyze(as), "cluster", "a1")
	assert.Contains(t, l.Moves, Move{From: "a2", To: "s", Percent: 30, RPS: 30}, "half the active tier: 70 %% stays, 30 %% spills")
}

// TestSubsetLadders: a subset placed in some clusters fails over only
// there, and explain says so.
func TestSubsetLadders(t *testing.T) {
	in := mk(intent.ModeAuto, cl("east", "r1", "z1", 0, 0), cl("west", "r2", "z2", 0, 0), cl("north", "r3", "z3", 0, 0))
	in.Spec.Subsets = []intent.Subset{
		{Name: "v1", Labels: map[string]string{"version": "v1"}},
		{Name: "v2", Labels: map[string]string{"version": "v2"}, Clusters: []string{"west", "north"}},
	}
	r := Analyze(in)
	require.Len(t, r.Subsets, 1, "only placed subsets have their own ladders")
	s := r.Subsets[0]
	assert.Equal(t, "v2", s.Subset)
	require.Len(t, s.Ladders, 3)
	assert.Equal(t, [][]string{{"west", "north"}}, tiersOf(s.Ladders[0]), "from east: v2 is only remote")
	assert.Equal(t, [][]string{{"west"}, {"north"}}, tiersOf(s.Ladders[1]), "from west: never to east")
	var b strings.Builder
	require.NoError(t, WriteText(&b, in, r))
	assert.Contains(t, b.String(), "v2 (in west,north) from east")
}

// TestComposedRoutesLine: explain names the team's composed routes and
// where each sends, in one line.
func TestComposedRoutesLine(t *testing.T) {
	in := mk(intent.ModeAuto, cl("a", "r1", "z1", 0, 0), cl("b", "r2", "z2", 0, 0))
	var b strings.Builder
	require.NoError(t, WriteText(&b, in, Analyze(in)))
	assert.NotContains(t, b.String(), "Composed routes")

	dest := func(subset string, weight int32) *v1alpha3.HTTPRouteDestination {
		return &v1alpha3.HTTPRouteDestination{Destination: &v1alpha3.Destination{Host: "svc.ns.svc.cluster.local", Subset: subset}, Weight: weight}
	}
	in.Spec.Compose = &intent.Compose{VirtualService: "routes/canary.yaml", Routes: []*v1alpha3.HTTPRoute{
		{Name: "testers", Route: []*v1alpha3.HTTPRouteDestination{dest("v2", 0)}},
		{Route: []*v1alpha3.HTTPRouteDestination{dest("", 90), dest("v2", 10)}},
	}}
	b.Reset()
	require.NoError(t, WriteText(&b, in, Analyze(in)))
	assert.Contains(t, b.String(), "\nComposed routes (routes/canary.yaml), ahead of Detour's, with its retries and ladder: "+
		"testers -> v2; team-1 -> any version 90%, v2 10%\n")
}

// TestWhatIfAtCapacity: a load equal to the capacity fits; one request per
// second more overloads.
func TestWhatIfAtCapacity(t *testing.T) {
	for _, tc := range []struct {
		westLoad   float64
		overloaded []string
	}{
		{300, []string{}},       // 400 + 300 = 700 = west's capacity
		{301, []string{"west"}}, // 701 > 700
	} {
		in := mk(intent.ModeAuto, cl("east", "r1", "z1", 500, 400), cl("west", "r2", "z2", 700, tc.westLoad))
		l := lossOf(t, Analyze(in), "cluster", "east")
		assert.Equal(t, tc.overloaded, l.Overloaded, "west load %v", tc.westLoad)
		assert.Equal(t, len(tc.overloaded) == 0, l.Absorbed, "west load %v", tc.westLoad)
		assert.Empty(t, l.Unjudged)
	}
}

// TestWhatIfLostSourceWithoutLoad: the callers of a lost cluster whose
// load is unknown move to the survivor, which can then not be judged even
// though its own load fits.
func TestWhatIfLostSourceWithoutLoad(t *testing.T) {
	in := mk(intent.ModeAuto, cl("east", "r1", "z1", 500, 0), cl("west", "r2", "z2", 700, 300))
	l := lossOf(t, Analyze(in), "cluster", "east")
	assert.Equal(t, []Move{{From: "east", To: "west", Percent: 100, RPS: 0}}, l.Moves)
	assert.Empty(t, l.Overloaded)
	assert.Equal(t, []string{"west"}, l.Unjudged)
	assert.Equal(t, []string{"east"}, l.LoadUnknown)
	assert.Empty(t, l.CapacityUnknown)
	assert.False(t, l.Absorbed)
}

// TestWeightedAndActiveLadders: a weight of 0 takes no place in a weighted
// tier (and a source that may reach none gets no tier at all); the active
// tier of activeStandby splits by weight, and an active cluster given by
// role without a weight splits by endpoints.
func TestWeightedAndActiveLadders(t *testing.T) {
	weighted := mk(intent.ModeWeighted, cl("a", "r1", "z1", 0, 0), cl("b", "r1", "z2", 0, 0), cl("c", "r2", "z3", 0, 0))
	weighted.Spec.Clusters[0].Weight, weighted.Spec.Clusters[1].Weight, weighted.Spec.Clusters[2].Weight = w(100), w(0), w(0)
	weighted.Spec.Failover.HealthAware = true
	l, ok := LadderFrom(weighted, "a")
	require.True(t, ok)
	assert.Equal(t, [][]string{{"a"}}, tiersOf(l))
	weighted.Spec.Failover.Rules = []intent.Rule{{From: intent.Locality{Cluster: "b"}, None: true}}
	l, ok = LadderFrom(weighted, "b")
	require.True(t, ok)
	assert.Empty(t, l.Tiers, "b may reach only itself, which takes no weighted share")

	as := mk(intent.ModeActiveStandby, cl("x", "r1", "z1", 0, 0), cl("y", "r2", "z2", 0, 0), cl("s", "r3", "z3", 0, 0))
	as.Spec.Clusters[0].Weight, as.Spec.Clusters[1].Weight, as.Spec.Clusters[2].Weight = w(80), w(20), w(0)
	l, ok = LadderFrom(as, "s")
	require.True(t, ok)
	require.Len(t, l.Tiers, 2)
	assert.Equal(t, []Share{{Cluster: "x", Percent: 80}, {Cluster: "y", Percent: 20}}, l.Tiers[0].Clusters)

	byRole := mk(intent.ModeActiveStandby, cl("x", "r1", "z1", 0, 0), cl("y", "r2", "z2", 0, 0), cl("s", "r3", "z3", 0, 0))
	byRole.Spec.Clusters[0].Role, byRole.Spec.Clusters[1].Role, byRole.Spec.Clusters[2].Role = "active", "active", "standby"
	byRole.Spec.Clusters[0].Endpoints = 3
	l, ok = LadderFrom(byRole, "s")
	require.True(t, ok)
	require.Len(t, l.Tiers, 2)
	assert.Equal(t, []Share{{Cluster: "x", Percent: 75}, {Cluster: "y", Percent: 25}}, l.Tiers[0].Clusters, "by endpoints: 3 and 1")
}

// TestWhatIfUnknownLoadOnlyWhereItGoes: a caller without a load leaves
// unjudged only the clusters it sends to.
func TestWhatIfUnknownLoadOnlyWhereItGoes(t *testing.T) {
	in := mk(intent.ModeAuto, cl("a", "r1", "z1", 1000, 0), cl("b", "r2", "z2", 1000, 100), cl("c", "r3", "z3", 1000, 100))
	l := lossOf(t, Analyze(in), "cluster", "b")
	assert.Equal(t, []string{"a"}, l.Unjudged, "a's own callers have no load; c gets only b's known load")
	assert.Equal(t, []string{"a"}, l.LoadUnknown)
}
