// Package explain computes, from a normalised intent alone, where each
// cluster's traffic goes (its failover ladder) and what happens when a
// cluster, a zone or a region is lost (the what-if table).
//
// The model is Envoy's priority load balancing as Istio configures it
// (source/common/upstream/load_balancer_impl.cc): a source sends everything
// to its first tier while that tier's health times the overprovisioning
// factor (1.4) covers 100 %, and spills the rest to the next tiers. Health
// counts hosts, as Envoy does: the source's own cluster has one host per pod
// (endpoints, 1 when unknown), a remote cluster one host per WorkloadEntry
// the compiler writes (one per subset that runs there). Inside a tier traffic is shared by
// host weight: a pod weighs 1, a WorkloadEntry its cluster's endpoints.
// Standby tiers (activeStandby) take traffic only when every tier before
// them is down: the router filter holds the active tier; without the filters
// a standby takes Envoy's spill like any lower tier. A strict weighted split
// never moves traffic: a dead cluster's share fails. A health-aware split
// shares the dead cluster's part among the live ones by weight.
//
// A loss removes the service's endpoints in the lost place; callers there
// keep sending (the classic drill scales the service to zero), which is the
// harder case for the clusters that remain. A cluster whose load is unknown
// adds nothing to the known load: an overload the known load already shows is
// reported, and only a cluster the known load fits is left unjudged.
//
// The JSON form of Report is part of the compiled output (the status of the
// FailoverIntent document) and is read by the policies; its names are stable
// ("strict" and "standby" are omitted when false):
//
//	{"ladders": [{"from": "east", "mode": "auto", "strict": false,
//	              "tiers": [{"priority": 0, "standby": false,
//	                         "clusters": [{"cluster": "east", "percent": 100}]}]}],
//	 "whatIf":  [{"lost": {"kind": "cluster"|"zone"|"region", "name": "east", "clusters": ["east"]},
//	              "moves":   [{"from": "east", "to": "west", "percent": 100, "rps": 400}],
//	              "dropped": [{"from": "east", "percent": 10, "rps": 40}],
//	              "load":    [{"cluster": "west", "rps": 700, "capacity": 800}],
//	              "absorbed": true, "overloaded": [], "stranded": [], "unjudged": []}]}
package explain

import (
	"math"
	"sort"

	"github.com/detour-mesh/detour/compiler/intent"
)

// OverprovisioningFactor is Envoy's default priority overprovisioning (140 %).
const OverprovisioningFactor = 1.4

// Report is the analysis of one intent.
type Report struct {
	// Ladders has one entry per source cluster, in the intent's cluster order.
	Ladders []Ladder `json:"ladders"`
	// WhatIf has one entry per cluster, then per zone, then per region.
	WhatIf []Loss `json:"whatIf"`
	// Subsets has, for each subset that runs in some clusters only, where
	// its traffic goes: every source's ladder cut to those clusters.
	Subsets []SubsetLadders `json:"subsets,omitempty"`
}

// SubsetLadders are the ladders of one subset's traffic.
type SubsetLadders struct {
	Subset   string   `json:"subset"`
	Clusters []string `json:"clusters"`
	Ladders  []Ladder `json:"ladders"`
}

// Ladder is where a source cluster's traffic goes, tier by tier.
type Ladder struct {
	From string `json:"from"`
	Mode string `json:"mode"`
	// Strict is set for a strict weighted split: no failover at all.
	Strict bool   `json:"strict,omitempty"`
	Tiers  []Tier `json:"tiers"`
}

// Tier is one priority level of a ladder.
type Tier struct {
	Priority int `json:"priority"`
	// Standby tiers take traffic only when every earlier tier is down.
	Standby  bool    `json:"standby,omitempty"`
	Clusters []Share `json:"clusters"`
}

// Share is a cluster's part, in percent, of the traffic its tier takes.
type Share struct {
	Cluster string  `json:"cluster"`
	Percent float64 `json:"percent"`
}

// Loss is the outcome of losing one place.
type Loss struct {
	Lost Lost `json:"lost"`
	// Moves is traffic that now lands somewhere it did not before.
	Moves []Move `json:"moves"`
	// Dropped is traffic that has nowhere to go and fails.
	Dropped []Drop `json:"dropped"`
	// Load is every surviving cluster's traffic after the loss.
	Load []Load `json:"load"`
	// Absorbed is true when nothing is dropped and no cluster is pushed past its capacity.
	Absorbed bool `json:"absorbed"`
	// Overloaded lists clusters whose load after the loss exceeds their capacity.
	Overloaded []string `json:"overloaded"`
	// Stranded lists sources that drop some of their traffic.
	Stranded []string `json:"stranded"`
	// Unjudged lists clusters that take moved traffic but whose capacity or
	// callers' load is unknown, so absorption could not be judged for them;
	// a cluster the known load already overloads is Overloaded instead.
	Unjudged []string `json:"unjudged"`
	// CapacityUnknown lists the clusters of Unjudged without a capacity.
	CapacityUnknown []string `json:"capacityUnknown"`
	// LoadUnknown lists the sources without a load whose traffic lands on
	// a cluster of Unjudged.
	LoadUnknown []string `json:"loadUnknown"`
}

// Lost names the place lost and the clusters in it.
type Lost struct {
	Kind     string   `json:"kind"` // cluster | zone | region | regions (two at once)
	Name     string   `json:"name"`
	Clusters []string `json:"clusters"`
}

// Move is traffic of a source that shifts to a cluster.
type Move struct {
	From    string  `json:"from"`
	To      string  `json:"to"`
	Percent float64 `json:"percent"` // of the source's traffic
	RPS     float64 `json:"rps"`     // 0 when the source's load is unknown
}

// Drop is the part of a source's traffic that fails.
type Drop struct {
	From    string  `json:"from"`
	Percent float64 `json:"percent"`
	RPS     float64 `json:"rps"`
}

// Load is a cluster's total traffic after a loss.
type Load struct {
	Cluster  string  `json:"cluster"`
	RPS      float64 `json:"rps"`
	Capacity float64 `json:"capacity"` // 0 = unknown
}

// Analyze computes the ladders and the what-if table. It is pure and
// deterministic: the same intent gives the same report.
func Analyze(in intent.Intent) Report { return AnalyzeDepth(in, 1) }

// AnalyzeDepth is Analyze with losses of up to depth places at once: depth 2
// adds the loss of every pair of regions (kind "regions", name "a+b").
func AnalyzeDepth(in intent.Intent, depth int) Report {
	cs := in.Spec.Clusters
	r := Report{Ladders: make([]Ladder, 0, len(cs)), WhatIf: []Loss{}}
	ladders := make([]ladder, len(cs))
	for i, c := range cs {
		ladders[i] = build(in, c)
		r.Ladders = append(r.Ladders, ladders[i].public(c.Name, in.Spec.Failover.Mode))
	}
	r.Subsets = subsetLadders(in)
	ps := places(cs)
	if depth >= 2 {
		ps = append(ps, regionPairs(ps)...)
	}
	for _, lost := range ps {
		r.WhatIf = append(r.WhatIf, whatIf(cs, ladders, lost))
	}
	return r
}

// subsetLadders: a subset's traffic reaches only the clusters that run it
// (its Envoy cluster holds only their endpoints), so its ladder from each
// source is the intent's restricted to them.
func subsetLadders(in intent.Intent) []SubsetLadders {
	var out []SubsetLadders
	for _, s := range in.Spec.Subsets {
		if len(s.Clusters) == 0 {
			continue
		}
		only := in
		only.Spec.Clusters = nil
		for _, c := range in.Spec.Clusters {
			if s.RunsIn(c.Name) {
				only.Spec.Clusters = append(only.Spec.Clusters, c)
			}
		}
		only.Spec.Subsets = []intent.Subset{s}
		sl := SubsetLadders{Subset: s.Name, Clusters: append([]string{}, s.Clusters...)}
		for _, src := range in.Spec.Clusters {
			sl.Ladders = append(sl.Ladders, build(only, src).public(src.Name, in.Spec.Failover.Mode))
		}
		out = append(out, sl)
	}
	return out
}

// regionPairs are the losses of two regions at once.
func regionPairs(ps []place) []place {
	var regions, out []place
	for _, p := range ps {
		if p.kind == "region" {
			regions = append(regions, p)
		}
	}
	for i, a := range regions {
		for _, b := range regions[i+1:] {
			out = append(out, place{"regions", a.name + "+" + b.name, append(append([]string{}, a.clusters...), b.clusters...)})
		}
	}
	return out
}

// LadderFrom returns the ladder of one source cluster, or false if there is no
// such cluster. The compiler uses it to write the filters' targets.
func LadderFrom(in intent.Intent, cluster string) (Ladder, bool) {
	for _, c := range in.Spec.Clusters {
		if c.Name == cluster {
			return build(in, c).public(c.Name, in.Spec.Failover.Mode), true
		}
	}
	return Ladder{}, false
}

// ladder is the internal form: weights are raw (endpoint counts, intent
// weights) and each tier knows how it spills.
type ladder struct {
	strict      bool // weighted, no health: shares never move
	healthAware bool // weighted, shares move among live clusters only
	// hold: a tier keeps all traffic while any of it is alive (active/standby,
	// strict standby overprovisioning) instead of spilling at 1.4 x health.
	hold  bool
	tiers []tier
}

type tier struct {
	standby  bool
	clusters []string
	weights  []float64
	// hosts is each cluster's number of Envoy hosts (health counts hosts);
	// nil means one host per unit of weight (intent weights).
	hosts []float64
}

// add appends a cluster with its Envoy hosts and their total weight.
func (t *tier) add(name string, h hostSet) {
	t.clusters = append(t.clusters, name)
	t.weights = append(t.weights, h.weight)
	t.hosts = append(t.hosts, h.hosts)
}

// hostsOf is the number of hosts of the i-th cluster.
func (t tier) hostsOf(i int) float64 {
	if t.hosts == nil {
		return t.weights[i]
	}
	return t.hosts[i]
}

// hostSet is what Envoy sees of one cluster from a source.
type hostSet struct{ hosts, weight float64 }

// envoyHosts: the source's own cluster is its pods (one host of weight 1
// each); any other cluster, and every cluster seen from an edge gateway, is
// the WorkloadEntries the compiler writes: one per subset (one without
// subsets), each weighted by the cluster's endpoints (Istio's default 1
// when unknown).
func envoyHosts(in intent.Intent, src, c intent.Cluster) hostSet {
	if in.Spec.Entry.Kind != "edge" && c.Name == src.Name {
		n := endpointWeight(c)
		return hostSet{hosts: n, weight: n}
	}
	n := float64(max(1, len(in.Spec.SubsetsIn(c.Name))))
	return hostSet{hosts: n, weight: n * endpointWeight(c)}
}

func (l ladder) public(from, mode string) Ladder {
	out := Ladder{From: from, Mode: mode, Strict: l.strict, Tiers: make([]Tier, 0, len(l.tiers))}
	for i, t := range l.tiers {
		pt := Tier{Priority: i, Standby: t.standby, Clusters: make([]Share, 0, len(t.clusters))}
		sum := t.sum()
		for j, c := range t.clusters {
			pt.Clusters = append(pt.Clusters, Share{Cluster: c, Percent: round(100 * t.weights[j] / sum)})
		}
		out.Tiers = append(out.Tiers, pt)
	}
	return out
}

func (t tier) sum() float64 {
	s := 0.0
	for _, w := range t.weights {
		s += w
	}
	return s
}

// build computes the ladder of source cluster src.
func build(in intent.Intent, src intent.Cluster) ladder {
	allowed := Allowed(in, src)
	var l ladder
	f := in.Spec.Failover
	switch f.Mode {
	case intent.ModeNamed:
		for _, name := range f.Order {
			if c, ok := find(in.Spec.Clusters, name); ok && allowed[name] {
				var t tier
				t.add(name, envoyHosts(in, src, c))
				l.tiers = append(l.tiers, t)
			}
		}
	case intent.ModeWeighted:
		l.strict, l.healthAware = !f.HealthAware, f.HealthAware
		var t tier
		for _, c := range in.Spec.Clusters {
			if allowed[c.Name] && c.Weight != nil && *c.Weight > 0 {
				t.clusters = append(t.clusters, c.Name)
				t.weights = append(t.weights, float64(*c.Weight))
			}
		}
		if len(t.clusters) > 0 {
			l.tiers = append(l.tiers, t)
		}
	case intent.ModeActiveStandby:
		var active, standby tier
		standby.standby = true
		for _, c := range in.Spec.Clusters {
			switch {
			case !allowed[c.Name]:
			case IsStandby(c):
				standby.add(c.Name, envoyHosts(in, src, c))
			default:
				h := envoyHosts(in, src, c)
				if c.Weight != nil && *c.Weight > 0 {
					// The router filter splits the active tier by weight.
					h.weight = float64(*c.Weight)
				}
				active.add(c.Name, h)
			}
		}
		// The router filter keeps traffic on the active tier while any of
		// it is up. Without the filters nothing does: Envoy's priority
		// spill (1.4) sends part of it to the standby once the active
		// tier's health drops below 72 %.
		l.hold = in.Spec.Plugins.Enabled
		for _, t := range []tier{active, standby} {
			if len(t.clusters) > 0 {
				l.tiers = append(l.tiers, t)
			}
		}
	default: // auto: same sub-zone, same zone, same region, other regions
		byDist := map[int]*tier{}
		for _, c := range in.Spec.Clusters {
			if !allowed[c.Name] {
				continue
			}
			d := distance(src, c)
			if byDist[d] == nil {
				byDist[d] = &tier{}
			}
			byDist[d].add(c.Name, envoyHosts(in, src, c))
		}
		for d := 0; d <= 3; d++ {
			if t := byDist[d]; t != nil {
				l.tiers = append(l.tiers, *t)
			}
		}
	}
	return l
}

// IsStandby reports whether a cluster is a standby of an activeStandby intent.
func IsStandby(c intent.Cluster) bool {
	if c.Role != "" {
		return c.Role == "standby"
	}
	return c.Weight != nil && *c.Weight == 0
}

// distance is the Istio locality priority of dst seen from src.
func distance(src, dst intent.Cluster) int {
	switch {
	case src.Region != dst.Region:
		return 3
	case src.Zone != dst.Zone:
		return 2
	case src.SubZone != dst.SubZone:
		return 1
	}
	return 0
}

func endpointWeight(c intent.Cluster) float64 {
	if c.Endpoints > 0 {
		return float64(c.Endpoints)
	}
	return 1
}

func find(cs []intent.Cluster, name string) (intent.Cluster, bool) {
	for _, c := range cs {
		if c.Name == name {
			return c, true
		}
	}
	return intent.Cluster{}, false
}

// Allowed is the set of clusters that traffic from src may reach under the
// intent's rules. Every rule whose From matches src applies, so rules only
// ever narrow the set; src itself is always allowed.
func Allowed(in intent.Intent, src intent.Cluster) map[string]bool {
	ok := map[string]bool{}
	for _, c := range in.Spec.Clusters {
		ok[c.Name] = true
	}
	for _, r := range in.Spec.Failover.Rules {
		if !Matches(r.From, src) {
			continue
		}
		for _, c := range in.Spec.Clusters {
			var keep bool
			switch {
			case r.None:
				keep = Matches(r.From, c)
			case len(r.Only) > 0:
				keep = matchesAny(r.Only, c)
			case len(r.AnyExcept) > 0:
				keep = !matchesAny(r.AnyExcept, c)
			default: // any
				keep = true
			}
			if !keep {
				ok[c.Name] = false
			}
		}
	}
	ok[src.Name] = true
	return ok
}

// Matches reports whether a cluster lies in a locality; empty fields match anything.
func Matches(l intent.Locality, c intent.Cluster) bool {
	return (l.Cluster == "" || l.Cluster == c.Name) &&
		(l.Region == "" || l.Region == c.Region) &&
		(l.Zone == "" || l.Zone == c.Zone)
}

func matchesAny(ls []intent.Locality, c intent.Cluster) bool {
	for _, l := range ls {
		if Matches(l, c) {
			return true
		}
	}
	return false
}

// distribute returns each cluster's share (percent of the source's traffic)
// and the percent dropped, given the dead clusters.
func (l ladder) distribute(dead map[string]bool) (map[string]float64, float64) {
	share := map[string]float64{}
	if len(l.tiers) == 0 {
		return share, 100
	}
	if l.strict || l.healthAware {
		t := l.tiers[0]
		total, alive := t.sum(), 0.0
		for i, c := range t.clusters {
			if !dead[c] {
				alive += t.weights[i]
			}
		}
		if alive == 0 {
			return share, 100
		}
		base := total
		if l.healthAware {
			base = alive
		}
		for i, c := range t.clusters {
			if !dead[c] {
				share[c] = 100 * t.weights[i] / base
			}
		}
		return share, 100 * (1 - alive/base)
	}
	// Envoy priority load: each tier's health times the overprovisioning
	// factor, normalised when the total health is under 100 %.
	eff := make([]float64, len(l.tiers))
	aliveW := make([]float64, len(l.tiers))
	total := 0.0
	for i, t := range l.tiers {
		aliveH, allH := 0.0, 0.0
		for j, c := range t.clusters {
			allH += t.hostsOf(j)
			if !dead[c] {
				aliveW[i] += t.weights[j]
				aliveH += t.hostsOf(j)
			}
		}
		health := 100 * aliveH / allH
		switch {
		case health == 0:
		case l.hold:
			eff[i] = 100
		default:
			eff[i] = math.Min(100, OverprovisioningFactor*health)
		}
		total += eff[i]
	}
	if total == 0 {
		return share, 100
	}
	norm := math.Min(100, total)
	remaining := 100.0
	for i, t := range l.tiers {
		load := math.Min(remaining, eff[i]*100/norm)
		remaining -= load
		if load <= 0 {
			continue
		}
		for j, c := range t.clusters {
			if !dead[c] {
				share[c] += load * t.weights[j] / aliveW[i]
			}
		}
	}
	return share, 0
}

type place struct {
	kind, name string
	clusters   []string
}

// places lists every cluster (intent order), then zones and regions (sorted).
func places(cs []intent.Cluster) []place {
	var out []place
	zones, regions := map[string][]string{}, map[string][]string{}
	for _, c := range cs {
		out = append(out, place{"cluster", c.Name, []string{c.Name}})
		zones[c.Zone] = append(zones[c.Zone], c.Name)
		regions[c.Region] = append(regions[c.Region], c.Name)
	}
	for _, kv := range []struct {
		kind string
		m    map[string][]string
	}{{"zone", zones}, {"region", regions}} {
		names := make([]string, 0, len(kv.m))
		for n := range kv.m {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			out = append(out, place{kv.kind, n, kv.m[n]})
		}
	}
	return out
}

func whatIf(cs []intent.Cluster, ladders []ladder, p place) Loss {
	dead := map[string]bool{}
	for _, c := range p.clusters {
		dead[c] = true
	}
	loss := Loss{
		Lost:  Lost{Kind: p.kind, Name: p.name, Clusters: p.clusters},
		Moves: []Move{}, Dropped: []Drop{}, Load: []Load{},
		Overloaded: []string{}, Stranded: []string{}, Unjudged: []string{},
		CapacityUnknown: []string{}, LoadUnknown: []string{},
	}
	// after[c] is the known load on c (callers with a load); unknown[c]
	// the callers without one that send to c.
	after := map[string]float64{}
	unknown := map[string][]string{}
	received := map[string]bool{}
	for i, src := range cs {
		load := 0.0
		if src.Load != nil {
			load = *src.Load
		}
		before, _ := ladders[i].distribute(nil)
		now, dropped := ladders[i].distribute(dead)
		for _, dst := range cs {
			if now[dst.Name] > 0 {
				after[dst.Name] += now[dst.Name] / 100 * load
				if src.Load == nil {
					unknown[dst.Name] = append(unknown[dst.Name], src.Name)
				}
			}
			if d := round(now[dst.Name] - before[dst.Name]); d > 0 {
				loss.Moves = append(loss.Moves, Move{From: src.Name, To: dst.Name, Percent: d, RPS: round(d / 100 * load)})
				received[dst.Name] = true
			}
		}
		if dropped = round(dropped); dropped > 0 {
			loss.Dropped = append(loss.Dropped, Drop{From: src.Name, Percent: dropped, RPS: round(dropped / 100 * load)})
			loss.Stranded = append(loss.Stranded, src.Name)
		}
	}
	loadUnknown := map[string]bool{}
	for _, c := range cs {
		if dead[c.Name] {
			continue
		}
		rps := round(after[c.Name])
		loss.Load = append(loss.Load, Load{Cluster: c.Name, RPS: rps, Capacity: c.Capacity})
		switch {
		case c.Capacity > 0 && rps > c.Capacity:
			// The known load alone is too much: unknown callers only add.
			loss.Overloaded = append(loss.Overloaded, c.Name)
		case !received[c.Name]:
		case c.Capacity <= 0:
			loss.Unjudged = append(loss.Unjudged, c.Name)
			loss.CapacityUnknown = append(loss.CapacityUnknown, c.Name)
		case len(unknown[c.Name]) > 0:
			loss.Unjudged = append(loss.Unjudged, c.Name)
			for _, s := range unknown[c.Name] {
				loadUnknown[s] = true
			}
		}
	}
	for _, c := range cs {
		if loadUnknown[c.Name] {
			loss.LoadUnknown = append(loss.LoadUnknown, c.Name)
		}
	}
	loss.Absorbed = len(loss.Overloaded) == 0 && len(loss.Stranded) == 0 && len(loss.Unjudged) == 0
	return loss
}

// round keeps two decimals so reports are stable across platforms.
func round(x float64) float64 { return math.Round(x*100) / 100 }
