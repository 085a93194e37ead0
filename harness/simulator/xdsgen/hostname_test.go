package xdsgen_test

import (
	"fmt"
	"path"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/detour-mesh/detour/compiler"
	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/compiler/load"
	"github.com/detour-mesh/detour/harness/simulator/xds"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen"
)

// hostNameIntent is examples/eks-hostname (every gateway a load
// balancer's host name), as an east-west or an edge intent; asIP gives
// each gateway the address resolvedIP says its name resolves to.
func hostNameIntent(t *testing.T, edge, asIP bool) (intent.Intent, map[string]string) {
	t.Helper()
	srcs, err := load.Paths("../../../examples/eks-hostname")
	require.NoError(t, err)
	require.Len(t, srcs, 1)
	in := &srcs[0].Intent
	in.Spec.Clusters = append([]intent.Cluster(nil), in.Spec.Clusters...)
	for i := range in.Spec.Clusters {
		require.True(t, isHostName(in.Spec.Clusters[i].EastWestGateway.Address))
		if asIP {
			in.Spec.Clusters[i].EastWestGateway.Address = resolvedIP(i)
		}
	}
	if edge {
		in.Spec.Entry = intent.Entry{Kind: "edge", Edge: &intent.Edge{Hosts: []string{"ratings.example.com"},
			GatewaySelector: map[string]string{"istio": "edge"}, Port: 443, GatewayNamespace: "istio-system"}}
	}
	files, err := compiler.Compile(srcs, compiler.Options{})
	require.NoError(t, err)
	out := map[string]string{}
	for _, f := range files {
		out[f.Path] = string(f.Data)
	}
	return *in, out
}

// endpointsOf flattens a load assignment to what failover depends on:
// per endpoint its priority, locality, address, port and weight.
func endpointsOf(cla *endpointv3.ClusterLoadAssignment) []string {
	var out []string
	for _, lle := range cla.GetEndpoints() {
		for _, lb := range lle.GetLbEndpoints() {
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			out = append(out, fmt.Sprintf("p%d %s %s:%d w%d", lle.GetPriority(), localityName(lle.GetLocality().GetRegion(), lle.GetLocality().GetZone()),
				sa.GetAddress(), sa.GetPortValue(), lb.GetLoadBalancingWeight().GetValue()))
		}
	}
	return out
}

func localityName(region, zone string) string { return region + "/" + zone }

// TestHostNameGatewayIsAsAnIP: a sidecar of eks-east sees eks-west, whose
// gateway is known by host name, exactly as it sees it when the intent
// writes the address the name resolves to: same outlier detection and
// panic threshold on the service's clusters, same priorities, localities
// and weights, the remote tier at the resolved gateway address (Istio
// replaces the address-less WorkloadEntry by the network's gateway).
func TestHostNameGatewayIsAsAnIP(t *testing.T) {
	gen := func(asIP bool) *xds.Snapshot {
		in, out := hostNameIntent(t, false, asIP)
		c := in.Spec.Clusters[0]
		file := path.Join(in.Metadata.Namespace, in.Metadata.Name, "clusters", c.Name+".yaml")
		ex := example{t: t, in: in, file: file, config: out[file]}
		require.NotEmpty(t, ex.config)
		cp := xdsgen.ControlPlane{Clusters: []xdsgen.Cluster{ex.topology(c, 0)}}
		if !asIP {
			cp.NetworkGateways = ex.resolvedGateways()
		}
		return ex.generate(cp, xdsgen.Proxy{Cluster: c.Name, Network: c.Network, Region: c.Region, Zone: c.Zone,
			Namespace: in.Metadata.Namespace, IP: "10.250.0.1"})
	}
	byName, byIP := gen(false), gen(true)
	const svc = "outbound|9080||ratings.bookinfo.svc.cluster.local"
	want := endpointsOf(byIP.LoadAssignment(svc))
	require.Len(t, want, 4, "three local pods and the remote gateway")
	assert.Contains(t, want, "p1 us-west-2/us-west-2b "+resolvedIP(1)+":15443 w3")
	assert.Equal(t, want, endpointsOf(byName.LoadAssignment(svc)))
	n := 0
	for _, c := range byIP.Clusters {
		named := byName.Cluster(c.GetName())
		require.NotNil(t, named, "%s: missing with a host name", c.GetName())
		if c.GetOutlierDetection() != nil {
			n++
		}
		assert.True(t, proto.Equal(c.GetOutlierDetection(), named.GetOutlierDetection()), "%s: outlier detection", c.GetName())
		assert.True(t, proto.Equal(c.GetCommonLbConfig(), named.GetCommonLbConfig()), "%s: panic threshold, locality config", c.GetName())
		assert.Equal(t, c.GetType(), named.GetType(), "%s: discovery type", c.GetName())
	}
	assert.NotZero(t, n, "no cluster with outlier detection")

	// Without the gateway in istiod (its Service not visible, or the name
	// not resolved) the entry reaches the proxy without an address, which
	// Envoy refuses: what docs/intent.md warns of.
	in, out := hostNameIntent(t, false, false)
	c := in.Spec.Clusters[0]
	file := path.Join(in.Metadata.Namespace, in.Metadata.Name, "clusters", c.Name+".yaml")
	ex := example{t: t, in: in, file: file, config: out[file]}
	alone := ex.generate(xdsgen.ControlPlane{Clusters: []xdsgen.Cluster{ex.topology(c, 0)}},
		xdsgen.Proxy{Cluster: c.Name, Network: c.Network, Region: c.Region, Zone: c.Zone, Namespace: in.Metadata.Namespace, IP: "10.250.0.1"})
	assert.Contains(t, endpointsOf(alone.LoadAssignment(svc)), "p1 us-west-2/us-west-2b :15443 w3")
}

// TestHostNameGatewayAtTheEdge: at the edge the ServiceEntry is
// DNS-resolved. Istio makes the service's clusters STRICT_DNS (Envoy
// resolves the names, respecting the records' TTL) whose own load
// assignment keeps every gateway's locality, priority and weight, as the
// EDS of the same intent with IP addresses has them.
func TestHostNameGatewayAtTheEdge(t *testing.T) {
	gen := func(asIP bool) *xds.Snapshot {
		in, out := hostNameIntent(t, true, asIP)
		file := path.Join(in.Metadata.Namespace, in.Metadata.Name, "edge.yaml")
		ex := example{t: t, in: in, file: file, config: out[file]}
		require.NotEmpty(t, ex.config)
		first := in.Spec.Clusters[0]
		return ex.generate(xdsgen.ControlPlane{Cluster: "edge"},
			xdsgen.Proxy{Type: xdsgen.Router, Cluster: "edge", Region: first.Region, Zone: first.Zone,
				Namespace: "istio-system", Labels: map[string]string{"istio": "edge"}, IP: "10.250.0.2"})
	}
	byName, byIP := gen(false), gen(true)
	const svc = "outbound|9080||ratings.bookinfo.svc.cluster.local"
	dns := byName.Cluster(svc)
	require.NotNil(t, dns)
	assert.Equal(t, clusterv3.Cluster_STRICT_DNS, dns.GetType())
	assert.True(t, dns.GetRespectDnsTtl(), "Istio sets respect_dns_ttl")
	in, _ := hostNameIntent(t, true, false)
	named := endpointsOf(dns.GetLoadAssignment())
	ip := endpointsOf(byIP.LoadAssignment(svc))
	require.Len(t, named, 2)
	require.Len(t, ip, 2)
	for i, c := range in.Spec.Clusters {
		assert.Contains(t, ip, fmt.Sprintf("p%d %s %s:15443 w3", i, localityName(c.Region, c.Zone), resolvedIP(i)))
		assert.Contains(t, named, fmt.Sprintf("p%d %s %s:15443 w3", i, localityName(c.Region, c.Zone), c.EastWestGateway.Address))
	}
	assert.True(t, proto.Equal(byIP.Cluster(svc).GetOutlierDetection(), dns.GetOutlierDetection()), "outlier detection")
	assert.True(t, proto.Equal(byIP.Cluster(svc).GetCommonLbConfig(), dns.GetCommonLbConfig()), "panic threshold, locality config")
}
