package xdsgen_test

import (
	"context"
	"fmt"
	"net/netip"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/compiler"
	"github.com/detour-mesh/detour/compiler/explain"
	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/compiler/load"
	"github.com/detour-mesh/detour/harness/simulator/xds"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen"
)

// TestExamplesXDSIsIstios compiles every example, runs Istio's generator
// for a proxy in each cluster (its sidecar for an east-west entry, its
// east-west gateway always) and for the edge gateway, and checks what
// Envoy would receive against the intent itself: failover priorities
// against the intent's ladder, outlier detection, retry policies, remote
// clusters as endpoints at their east-west gateway, and the Wasm filters'
// configuration.
func TestExamplesXDSIsIstios(t *testing.T) {
	dirs := exampleDirs(t)
	require.NotEmpty(t, dirs)
	for _, dir := range dirs {
		srcs, err := load.Paths(dir)
		require.NoError(t, err, dir)
		files, err := compiler.Compile(srcs, compiler.Options{})
		require.NoError(t, err, dir)
		out := map[string]string{}
		for _, f := range files {
			out[f.Path] = string(f.Data)
		}
		for _, src := range srcs {
			in := src.Intent
			base := path.Join(in.Metadata.Namespace, in.Metadata.Name)
			for _, c := range in.Spec.Clusters {
				file := path.Join(base, "clusters", c.Name+".yaml")
				cfg, ok := out[file]
				require.True(t, ok, "%s: no %s in the compiled output", dir, file)
				ex := example{t: t, in: in, file: file, config: cfg}
				t.Run(filepath.Base(dir)+"/"+c.Name+"/eastwest-gateway", func(t *testing.T) {
					ex.t = t
					ex.eastWestGateway(c)
				})
				if in.Spec.Entry.Kind != "edge" {
					t.Run(filepath.Base(dir)+"/"+c.Name+"/sidecar", func(t *testing.T) {
						ex.t = t
						ex.sidecar(c)
					})
				}
			}
			if in.Spec.Entry.Kind == "edge" {
				file := path.Join(base, "edge.yaml")
				cfg, ok := out[file]
				require.True(t, ok, "%s: no %s in the compiled output", dir, file)
				t.Run(filepath.Base(dir)+"/edge", func(t *testing.T) {
					ex := example{t: t, in: in, file: file, config: cfg}
					ex.edge()
				})
			}
		}
	}
}

func exampleDirs(t *testing.T) []string {
	var dirs []string
	for _, pat := range []string{"../../../examples/*/intent.yaml", "../../../examples/*/intent.cue"} {
		m, err := filepath.Glob(pat)
		require.NoError(t, err)
		for _, f := range m {
			dirs = append(dirs, filepath.Dir(f))
		}
	}
	sort.Strings(dirs)
	return dirs
}

type example struct {
	t      *testing.T
	in     intent.Intent
	file   string
	config string
}

func (e example) fqdn() string {
	host := e.in.Spec.Service.Host
	if host == "" {
		host = e.in.Metadata.Name
	}
	domain := e.in.Spec.Service.ClusterDomain
	if domain == "" {
		domain = "cluster.local"
	}
	return fmt.Sprintf("%s.%s.svc.%s", host, e.in.Metadata.Namespace, domain)
}

// portName is the Service port name Istio infers the intent's protocol from.
func (e example) portName() string {
	switch e.in.Spec.Service.Protocol {
	case "HTTP2":
		return "http2"
	case "GRPC":
		return "grpc"
	}
	return "http"
}

// topology is a cluster as the intent describes it: the service with its
// endpoint count, spread over the subsets (each subset gets at least one).
func (e example) topology(c intent.Cluster, index int) xdsgen.Cluster {
	n := int(c.Endpoints)
	if n < 1 {
		n = 1
	}
	subs := e.in.Spec.Subsets
	if n < len(subs) {
		n = len(subs)
	}
	svc := xdsgen.Service{
		Name: e.serviceName(), Namespace: e.in.Metadata.Namespace,
		Ports: []xdsgen.Port{{Name: e.portName(), Port: e.in.Spec.Service.Port}},
	}
	for i := range n {
		ep := xdsgen.Endpoint{IP: fmt.Sprintf("10.%d.0.%d", index+1, i+1), Labels: map[string]string{}}
		if len(subs) > 0 {
			for k, v := range subs[i%len(subs)].Labels {
				ep.Labels[k] = v
			}
		}
		svc.Endpoints = append(svc.Endpoints, ep)
	}
	return xdsgen.Cluster{
		ID: c.Name, Network: c.Network, Region: c.Region, Zone: c.Zone, Subzone: c.SubZone,
		Services: []xdsgen.Service{svc},
	}
}

func (e example) serviceName() string {
	if h := e.in.Spec.Service.Host; h != "" {
		return h
	}
	return e.in.Metadata.Name
}

func (e example) clusterIndex(name string) int {
	for i, c := range e.in.Spec.Clusters {
		if c.Name == name {
			return i
		}
	}
	e.t.Fatalf("no cluster %s", name)
	return -1
}

func (e example) generate(cp xdsgen.ControlPlane, p xdsgen.Proxy) *xds.Snapshot {
	e.t.Helper()
	cp.Config, cp.ConfigName = e.config, e.file
	snap, err := xdsgen.Generate(context.Background(), xdsgen.Input{ControlPlane: cp, Proxy: p})
	require.NoError(e.t, err)
	require.NotEmpty(e.t, snap.Listeners)
	require.NotEmpty(e.t, snap.Clusters)
	return snap
}

// sidecar: a client sidecar in cluster c (east-west entry).
func (e example) sidecar(c intent.Cluster) {
	t := e.t
	snap := e.generate(
		xdsgen.ControlPlane{Clusters: []xdsgen.Cluster{e.topology(c, e.clusterIndex(c.Name))}, NetworkGateways: e.resolvedGateways()},
		xdsgen.Proxy{Cluster: c.Name, Network: c.Network, Region: c.Region, Zone: c.Zone, Subzone: c.SubZone,
			Namespace: e.in.Metadata.Namespace, IP: "10.250.0.1"},
	)
	lad, ok := explain.LadderFrom(e.in, c.Name)
	require.True(t, ok)
	e.checkOutlier(snap)
	e.checkPriorities(snap, lad, c.Name, e.exactPriorities(lad, c.Name))
	e.checkRoutes(snap, e.fqdn())
	e.checkWasm(snap)
	assert.Empty(t, overprovisioned(snap), "Detour sets no overprovisioning factor")
}

// resolvedGateways are the east-west gateways the intent knows by host
// name, as istiod holds them once it has resolved the names (one address
// each here): the compiled WorkloadEntries of such a cluster carry no
// address and Istio puts the network's gateway there.
func (e example) resolvedGateways() []xdsgen.NetworkGateway {
	var out []xdsgen.NetworkGateway
	for i, c := range e.in.Spec.Clusters {
		if isHostName(c.EastWestGateway.Address) {
			out = append(out, xdsgen.NetworkGateway{Network: c.Network, Cluster: c.Name, Address: resolvedIP(i), Port: c.EastWestGateway.Port})
		}
	}
	return out
}

// resolvedIP is what the host name of the i-th cluster's gateway resolves
// to in these tests.
func resolvedIP(i int) string { return fmt.Sprintf("192.0.2.%d", 10+i) }

func isHostName(a string) bool {
	_, err := netip.ParseAddr(a)
	return err != nil
}

// hostNames reports whether any gateway of the intent is known by name.
func (e example) hostNames() bool {
	for _, c := range e.in.Spec.Clusters {
		if isHostName(c.EastWestGateway.Address) {
			return true
		}
	}
	return false
}

// edge: the edge gateway. It runs next to the first cluster (same region
// and zone); Istio's locality load balancing orders from there. It runs in
// the intent's namespace: the compiled WasmPlugins select it by label
// there, and Istio applies a WasmPlugin's selector only to workloads of
// the plugin's own namespace (or to all, from the root namespace).
func (e example) edge() {
	t := e.t
	edge := e.in.Spec.Entry.Edge
	first := e.in.Spec.Clusters[0]
	snap := e.generate(
		xdsgen.ControlPlane{Cluster: "edge"},
		xdsgen.Proxy{Type: xdsgen.Router, Cluster: "edge", Region: first.Region, Zone: first.Zone,
			Namespace: edge.GatewayNamespace, Labels: edge.GatewaySelector, IP: "10.250.0.2"},
	)
	e.checkOutlier(snap)
	e.checkPriorities(snap, e.edgeLadder(first), "", true)
	for _, h := range edge.Hosts {
		e.checkRoutes(snap, h)
	}
	e.checkWasm(snap)
	assert.Empty(t, overprovisioned(snap), "Detour sets no overprovisioning factor")
	require.NotNil(t, listenerOnPort(snap, edge.Port), "edge gateway: no listener on port %d", edge.Port)

	// Istio applies a WasmPlugin's selector only within its namespace (or
	// everywhere from the root namespace, istio-system): emitted beside
	// the intent, as they once were, the filters never reach the gateway.
	if e.in.Spec.Plugins.Enabled && edge.GatewayNamespace != e.in.Metadata.Namespace {
		beside := e
		beside.config = strings.ReplaceAll(e.config, "namespace: "+edge.GatewayNamespace+"\n", "namespace: "+e.in.Metadata.Namespace+"\n")
		snap := beside.generate(
			xdsgen.ControlPlane{Cluster: "edge"},
			xdsgen.Proxy{Type: xdsgen.Router, Cluster: "edge", Region: first.Region, Zone: first.Zone,
				Namespace: edge.GatewayNamespace, Labels: edge.GatewaySelector, IP: "10.250.0.2"},
		)
		for _, x := range snap.Extensions {
			assert.NotContains(t, x.GetName(), "detour-", "a WasmPlugin in %s reached the gateway in %s", e.in.Metadata.Namespace, edge.GatewayNamespace)
		}
	}
}

// edgeLadder is the order the edge gateway should fail over in. For auto,
// the intent leaves nearest-first to Istio's locality load balancing: the
// ladder is the one of a cluster standing where the edge gateway runs.
// Otherwise it is the first cluster's ladder without rules (the edge is no
// source), as the compiler documents.
func (e example) edgeLadder(at intent.Cluster) explain.Ladder {
	in := e.in
	in.Spec.Failover.Rules = nil
	if in.Spec.Failover.Mode != intent.ModeAuto {
		lad, _ := explain.LadderFrom(in, in.Spec.Clusters[0].Name)
		return lad
	}
	const here = "edge-location"
	in.Spec.Clusters = append(append([]intent.Cluster{}, in.Spec.Clusters...),
		intent.Cluster{Name: here, Region: at.Region, Zone: at.Zone, SubZone: at.SubZone})
	lad, _ := explain.LadderFrom(in, here)
	var out explain.Ladder
	for _, tier := range lad.Tiers {
		var cs []explain.Share
		for _, s := range tier.Clusters {
			if s.Cluster != here {
				cs = append(cs, s)
			}
		}
		if len(cs) > 0 {
			out.Tiers = append(out.Tiers, explain.Tier{Priority: len(out.Tiers), Clusters: cs})
		}
	}
	return out
}

// exactPriorities reports whether Istio's failoverPriority can express the
// whole ladder for a sidecar of cluster local: locality order (auto), one
// tier (weighted), or two tiers. Longer named or active/standby ladders
// are kept in full by the router filter only; Istio then sees the first
// tier and the rest.
func (e example) exactPriorities(lad explain.Ladder, local string) bool {
	switch e.in.Spec.Failover.Mode {
	case intent.ModeAuto, intent.ModeWeighted:
		return true
	}
	return len(lad.Tiers) <= 2
}

// eastWestGateway: the cluster's east-west gateway exports the service on
// its mTLS port by SNI (AUTO_PASSTHROUGH), and nothing else: next to it
// run a neighbour service in the same namespace and a service of the same
// name in another namespace, which Istio knows (it builds their SNI-DNAT
// clusters) but must not route to from the east-west port.
func (e example) eastWestGateway(c intent.Cluster) {
	t := e.t
	cl := e.topology(c, e.clusterIndex(c.Name))
	cl.Services = append(cl.Services, e.unexported()...)
	snap := e.generate(
		xdsgen.ControlPlane{Clusters: []xdsgen.Cluster{cl}},
		xdsgen.Proxy{Type: xdsgen.Router, Cluster: c.Name, Network: c.Network, Region: c.Region, Zone: c.Zone,
			Namespace: "istio-system", Labels: map[string]string{"istio": "eastwestgateway"}, IP: "10.250.0.3"},
	)
	port := c.EastWestGateway.Port
	if port == 0 {
		port = 15443
	}
	l := listenerOnPort(snap, port)
	require.NotNil(t, l, "east-west gateway: no listener on %d", port)
	exported, problems := exportedHosts(l)
	assert.Empty(t, problems, "east-west listener %s", l.GetName())
	assert.Equal(t, []string{e.fqdn()}, keys(exported), "the east-west gateway exports exactly the intent's service")
	sni := fmt.Sprintf("outbound_.%d_._.%s", e.in.Spec.Service.Port, e.fqdn())
	assert.Contains(t, exported[e.fqdn()], sni, "east-west gateway does not export the service by SNI")
	for _, s := range e.unexported() {
		fqdn := fmt.Sprintf("%s.%s.svc.cluster.local", s.Name, s.Namespace)
		require.NotNil(t, snap.Cluster(fmt.Sprintf("outbound_.%d_._.%s", s.Ports[0].Port, fqdn)),
			"Istio does not know %s: the export check would prove nothing", fqdn)
	}
}

// unexported are services the intent does not export, running next to it.
func (e example) unexported() []xdsgen.Service {
	port := []xdsgen.Port{{Name: e.portName(), Port: e.in.Spec.Service.Port}}
	ep := func(ip string) []xdsgen.Endpoint { return []xdsgen.Endpoint{{IP: ip}} }
	return []xdsgen.Service{
		{Name: e.serviceName() + "-neighbour", Namespace: e.in.Metadata.Namespace, Ports: port, Endpoints: ep("10.99.0.1")},
		{Name: e.serviceName(), Namespace: e.in.Metadata.Namespace + "-other", Ports: port, Endpoints: ep("10.99.0.2")},
	}
}

// exportedHosts reads an east-west listener as Envoy matches it: each
// filter chain's SNI (outbound_.PORT_.SUBSET_.HOST) by the host it
// exports. It also returns the problems Envoy or a client would meet: a
// default chain or one without server names (either takes connections for
// any other service), two
// chains that match alike (Envoy rejects the whole listener, so the
// gateway exports nothing new), and a chain that forwards elsewhere than
// the cluster its SNI names (what AUTO_PASSTHROUGH means).
func exportedHosts(l *listenerv3.Listener) (hosts map[string][]string, problems []string) {
	hosts = map[string][]string{}
	if l.GetDefaultFilterChain() != nil {
		problems = append(problems, "a default filter chain takes connections no SNI matches")
	}
	seen := map[string]bool{}
	for _, fc := range l.GetFilterChains() {
		m := fc.GetFilterChainMatch()
		key := fmt.Sprint(m.GetServerNames(), m.GetApplicationProtocols(), m.GetTransportProtocol())
		if seen[key] {
			problems = append(problems, "two filter chains match "+key)
		}
		seen[key] = true
		if len(m.GetServerNames()) == 0 {
			problems = append(problems, "a filter chain without server names takes connections for any service")
		}
		var cluster string
		for _, f := range fc.GetFilters() {
			tp := &tcpv3.TcpProxy{}
			if f.GetTypedConfig().UnmarshalTo(tp) == nil {
				cluster = tp.GetCluster()
			}
		}
		for _, sni := range m.GetServerNames() {
			parts := strings.SplitN(sni, "_.", 4)
			if len(parts) != 4 || parts[0] != "outbound" {
				problems = append(problems, fmt.Sprintf("SNI %q is not outbound_.PORT_.SUBSET_.HOST", sni))
				continue
			}
			if sni != cluster {
				problems = append(problems, fmt.Sprintf("SNI %q forwards to %q", sni, cluster))
			}
			hosts[parts[3]] = append(hosts[parts[3]], sni)
		}
	}
	return hosts, problems
}

// overprovisioned lists the clusters whose load assignment carries a
// policy, in CDS (where an EnvoyFilter CLUSTER patch lands) or in EDS
// (what Envoy reads for an EDS cluster). Detour sets none: a factor patched
// into CDS is ignored for EDS clusters, so it would only mislead.
func overprovisioned(snap *xds.Snapshot) []string {
	var out []string
	for _, c := range snap.Clusters {
		if p := c.GetLoadAssignment().GetPolicy(); p != nil {
			out = append(out, fmt.Sprintf("CDS %s: policy, overprovisioning factor %d", c.GetName(), p.GetOverprovisioningFactor().GetValue()))
		}
	}
	for _, a := range snap.Endpoints {
		if p := a.GetPolicy(); p != nil {
			out = append(out, fmt.Sprintf("EDS %s: policy, overprovisioning factor %d", a.GetClusterName(), p.GetOverprovisioningFactor().GetValue()))
		}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
