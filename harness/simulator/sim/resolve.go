package sim

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/detour-mesh/detour/compiler"
	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/compiler/load"
	"github.com/detour-mesh/detour/compiler/lower"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen/input"
)

// EdgeTarget names the edge gateway's configuration (edge.yaml).
const EdgeTarget = lower.EdgeTarget

// setup is a scenario with everything the run needs resolved: the Istio
// YAML per target (cluster name or EdgeTarget), the service, the entry and
// the full topology.
type setup struct {
	sc     *Scenario
	config map[string]string // target → Istio YAML
	// configPath is the file each target's YAML was read from (--istio).
	configPath map[string]string
	source     string // where the configuration came from
	svc        ServiceRef
	fqdn       string
	authority  string       // the entry's requests' :authority
	edge       *intent.Edge // edge entry from the intent (nil otherwise)
	top        Topology
	entry      string // "edge" or a cluster name
	selector   map[string]string
	loads      map[string]float64 // the intent's per-cluster loads (fleet drills)
	gen        input.Generator    // Options.Generate
}

// resolve compiles the intent (or reads the Istio directory), and fills the
// topology's defaults from the intent.
func resolve(sc *Scenario, istioDir string) (*setup, error) {
	s := &setup{sc: sc, config: map[string]string{}, configPath: map[string]string{}, svc: sc.Service, entry: sc.Traffic.Entry}
	var in *intent.Intent
	if sc.Intent != "" {
		srcs, err := load.Paths(sc.Intent)
		if err != nil {
			return nil, err
		}
		if len(srcs) != 1 {
			return nil, fmt.Errorf("%s: intent: %s holds %d intents; a scenario drills exactly one", sc.Path, sc.Intent, len(srcs))
		}
		in = &srcs[0].Intent
	}
	if istioDir == "" {
		istioDir = sc.Istio
	}
	if in != nil {
		s.loads = intentLoads(in)
		if s.svc.Name == "" {
			s.svc.Name = in.Spec.Service.Host
			if s.svc.Name == "" {
				s.svc.Name = in.Metadata.Name
			}
		}
		if s.svc.Namespace == "" {
			s.svc.Namespace = in.Metadata.Namespace
		}
		if s.svc.Port == 0 {
			s.svc.Port = int(in.Spec.Service.Port)
		}
		if in.Spec.Entry.Edge != nil {
			s.edge = in.Spec.Entry.Edge
			if len(s.svc.Hosts) == 0 {
				s.svc.Hosts = in.Spec.Entry.Edge.Hosts
			}
		}
	}
	if s.svc.Namespace == "" {
		s.svc.Namespace = "default"
	}
	if s.svc.Port == 0 {
		s.svc.Port = 80
	}
	s.fqdn = s.svc.Name + "." + s.svc.Namespace + ".svc.cluster.local"
	if in != nil && in.Spec.Service.ClusterDomain != "" {
		s.fqdn = s.svc.Name + "." + s.svc.Namespace + ".svc." + in.Spec.Service.ClusterDomain
	}
	if istioDir != "" {
		s.source = "istio " + istioDir
		if err := s.readIstio(istioDir, in); err != nil {
			return nil, err
		}
	} else {
		s.source = "compiled " + sc.Intent
		bundles, err := lower.Lower(*in, lower.Options{})
		if err != nil {
			return nil, fmt.Errorf("%s: compiling %s: %w", sc.Path, sc.Intent, err)
		}
		for _, b := range bundles {
			data, err := compiler.Render(b.Objects)
			if err != nil {
				return nil, err
			}
			s.config[b.Target] = string(data)
		}
	}
	s.top = mergeTopology(sc.Topology, in, s.svc.Name)
	if s.entry != "edge" && !slices.ContainsFunc(s.top.Clusters, func(c Cluster) bool { return c.Name == s.entry }) {
		return nil, sc.Position(&Error{File: sc.Path, Path: "traffic.entry", Msg: fmt.Sprintf("no cluster %q (expected edge or one of %s)", s.entry, strings.Join(clusterNames(s.top), ", "))})
	}
	if s.entry == "edge" {
		if _, ok := s.config[EdgeTarget]; !ok {
			return nil, sc.Position(&Error{File: sc.Path, Path: "traffic.entry", Msg: "edge entry, but the configuration has no edge.yaml (the intent's entry is not edge)"})
		}
	} else if _, ok := s.config[s.entry]; !ok {
		return nil, sc.Position(&Error{File: sc.Path, Path: "traffic.entry", Msg: fmt.Sprintf("no Istio configuration for cluster %q", s.entry)})
	}
	s.authority = s.fqdn
	if sc.Traffic.Host != "" {
		s.authority = sc.Traffic.Host
	} else if s.entry == "edge" {
		// An edge gateway serves its hosts, not the service's name.
		if len(s.svc.Hosts) == 0 {
			return nil, sc.Position(&Error{File: sc.Path, Path: "traffic.entry", Msg: "edge entry, but no host to send to: set traffic.host or service.hosts (an intent's entry.edge.hosts give them)"})
		}
		s.authority = s.svc.Hosts[0]
	}
	if err := s.checkTargets(); err != nil {
		return nil, sc.Position(err)
	}
	if s.edge != nil {
		s.selector = s.edge.GatewaySelector
	}
	return s, nil
}

func clusterNames(t Topology) []string {
	var out []string
	for _, c := range t.Clusters {
		out = append(out, c.Name)
	}
	return out
}

// readIstio reads hand-written (or compiled) Istio YAML: for each target,
// the first of DIR/<target>.yaml, DIR/clusters/<target>.yaml and
// DIR/<ns>/<name>/clusters/<target>.yaml (edge: edge.yaml) that exists.
func (s *setup) readIstio(dir string, in *intent.Intent) error {
	var targets []string
	for _, c := range s.sc.Topology.Clusters {
		targets = append(targets, c.Name)
	}
	if in != nil {
		for _, c := range in.Spec.Clusters {
			if !slices.Contains(targets, c.Name) {
				targets = append(targets, c.Name)
			}
		}
	}
	targets = append(targets, EdgeTarget)
	for _, t := range targets {
		file := t + ".yaml"
		if t == EdgeTarget {
			file = "edge.yaml"
		}
		cands := []string{filepath.Join(dir, file), filepath.Join(dir, "clusters", file), filepath.Join(dir, s.svc.Namespace, s.svc.Name, "clusters", file)}
		if t == EdgeTarget {
			cands = []string{filepath.Join(dir, file), filepath.Join(dir, s.svc.Namespace, s.svc.Name, file)}
		}
		for _, p := range cands {
			b, err := os.ReadFile(p)
			if err == nil {
				s.config[t] = string(b)
				s.configPath[t] = p
				break
			}
			if !os.IsNotExist(err) {
				return err
			}
		}
	}
	if len(s.config) == 0 {
		return fmt.Errorf("%s: istio: no <cluster>.yaml or edge.yaml in %s", s.sc.Path, dir)
	}
	return nil
}

// mergeTopology fills the scenario's topology from the intent: every
// intent cluster appears (scenario fields win), the drilled service runs in
// each with the intent's subsets, endpoints and capacity.
func mergeTopology(t Topology, in *intent.Intent, svc string) Topology {
	out := t
	out.Clusters = nil
	byName := map[string]Cluster{}
	var order []string
	for _, c := range t.Clusters {
		byName[c.Name] = c
		order = append(order, c.Name)
	}
	if in != nil {
		for _, ic := range in.Spec.Clusters {
			c, ok := byName[ic.Name]
			if !ok {
				c = Cluster{Name: ic.Name}
				order = append(order, ic.Name)
			}
			c.Region = or(c.Region, ic.Region)
			c.Zone = or(c.Zone, ic.Zone)
			c.SubZone = or(c.SubZone, ic.SubZone)
			c.Network = or(c.Network, ic.Network)
			if a := ic.EastWestGateway.Address; isIP(a) {
				c.EastWest.Address = or(c.EastWest.Address, a)
			} else {
				// A host name: the topology's address (or the default
				// below) is what it resolves to.
				c.EastWest.Name = a
			}
			if c.EastWest.Port == 0 {
				c.EastWest.Port = int(ic.EastWestGateway.Port)
			}
			i := slices.IndexFunc(c.Services, func(s Service) bool { return s.Name == svc })
			if i < 0 {
				c.Services = append(c.Services, Service{Name: svc, P50: DefaultP50, P99: DefaultP99, MaxQueue: DefaultMaxQueue})
				i = len(c.Services) - 1
			}
			s := &c.Services[i]
			if !s.EndpointsSet {
				n := int(max(ic.Endpoints, 1))
				if len(in.Spec.Subsets) == 0 {
					s.Subsets = []Subset{{Endpoints: n}}
				} else {
					s.Subsets = nil
					per := int(math.Ceil(float64(n) / float64(len(in.Spec.Subsets))))
					for _, sub := range in.Spec.Subsets {
						s.Subsets = append(s.Subsets, Subset{Name: subsetVersion(sub), Endpoints: per})
					}
				}
			}
			if !s.CapacitySet && ic.Capacity > 0 {
				s.Capacity = ic.Capacity
			}
			byName[ic.Name] = c
		}
	}
	for i, n := range order {
		c := byName[n]
		if c.EastWest.Address == "" {
			c.EastWest.Address = fmt.Sprintf("10.250.%d.10", i)
		}
		if c.Ingress.Address == "" {
			c.Ingress.Address = fmt.Sprintf("10.250.%d.20", i)
		}
		if c.EastWest.Port == 0 {
			c.EastWest.Port = DefaultEastWestPort
		}
		if c.Ingress.Port == 0 {
			c.Ingress.Port = DefaultIngressPort
		}
		out.Clusters = append(out.Clusters, c)
	}
	return out
}

// subsetVersion is the subset's version label (its name without one).
func subsetVersion(s intent.Subset) string {
	if v := s.Labels["version"]; v != "" {
		return v
	}
	return s.Name
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// withoutKinds drops the YAML documents of the given kinds (the plain
// Istio run leaves the WasmPlugins out).
func withoutKinds(yaml string, kinds ...string) string {
	docs := strings.Split(yaml, "\n---")
	var keep []string
	for _, d := range docs {
		drop := false
		for _, line := range strings.Split(d, "\n") {
			if k, ok := strings.CutPrefix(strings.TrimSpace(line), "kind:"); ok && line == strings.TrimLeft(line, " ") {
				drop = drop || slices.Contains(kinds, strings.TrimSpace(k))
			}
		}
		if !drop {
			keep = append(keep, d)
		}
	}
	return strings.Join(keep, "\n---")
}

// checkTargets rejects fault targets, sources and residency regions that
// name nothing in the topology (a fault that silently hits nothing would
// make a drill pass for nothing).
func (s *setup) checkTargets() error {
	var regions, zones, services, subsets []string
	for _, c := range s.top.Clusters {
		regions = append(regions, c.Region)
		if c.Zone != "" {
			zones = append(zones, c.Zone)
		}
		for _, svc := range c.Services {
			services = append(services, svc.Name)
			for _, sub := range svc.Subsets {
				if sub.Name != "" {
					subsets = append(subsets, sub.Name)
				}
			}
		}
	}
	for _, l := range []*[]string{&regions, &zones, &services, &subsets} {
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
	for i, f := range s.sc.Faults {
		p := fmt.Sprintf("faults[%d].target.", i)
		bad := func(field, what, v string, known []string) error {
			return &Error{File: s.sc.Path, Path: p + field, Msg: fmt.Sprintf("no %s %q in the topology (expected one of %s)", what, v, strings.Join(known, ", "))}
		}
		t := f.Target
		switch {
		case t.Cluster != "" && !slices.Contains(clusterNames(s.top), t.Cluster):
			return bad("cluster", "cluster", t.Cluster, clusterNames(s.top))
		case t.Region != "" && !slices.Contains(regions, t.Region):
			return bad("region", "region", t.Region, regions)
		case t.Zone != "" && !slices.Contains(zones, t.Zone):
			return bad("zone", "zone", t.Zone, zones)
		case t.Service != "" && !slices.Contains(services, t.Service):
			return bad("service", "service", t.Service, services)
		case t.Subset != "" && !slices.Contains(subsets, t.Subset):
			return bad("subset", "subset", t.Subset, subsets)
		}
		for j, r := range t.Regions {
			if !slices.Contains(regions, r) {
				return bad(fmt.Sprintf("regions[%d]", j), "region", r, regions)
			}
		}
	}
	for _, src := range s.sc.Traffic.Sources {
		if !slices.Contains(clusterNames(s.top), src.Name) {
			return &Error{File: s.sc.Path, Path: "traffic.sources." + src.Name,
				Msg: fmt.Sprintf("no cluster %q in the topology (expected one of %s)", src.Name, strings.Join(clusterNames(s.top), ", "))}
		}
	}
	for _, e := range []struct {
		field string
		x     Expect
	}{{"expect", s.sc.Expect}, {"expectBaseline", s.sc.ExpectBaseline}} {
		if r := e.x.MaxShareOutside; r != nil {
			for _, reg := range r.Regions {
				if !slices.Contains(regions, reg) {
					// The list is sorted; the file's order gives the position.
					return &Error{File: s.sc.Path, Path: e.field + ".maxShareOutside.regions",
						Msg: fmt.Sprintf("no region %q in the topology (expected one of %s)", reg, strings.Join(regions, ", "))}
				}
			}
		}
	}
	return nil
}

// isIP reports whether an intent's gateway address is an IP address rather
// than a host name.
func isIP(a string) bool {
	_, err := netip.ParseAddr(a)
	return err == nil
}
