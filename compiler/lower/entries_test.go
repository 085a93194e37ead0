package lower

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/detour-mesh/detour/compiler/intent"
)

func edgeIntent(clusters ...intent.Cluster) intent.Intent {
	in := base(intent.ModeNamed, clusters...)
	in.Spec.Failover.Order = []string{clusters[0].Name, clusters[1].Name}
	in.Spec.Entry = intent.Entry{Kind: "edge", Edge: &intent.Edge{
		Hosts: []string{"shop.example.com"}, GatewaySelector: map[string]string{"app": "edgegw"}, Port: 443, CredentialName: "shop-tls",
	}}
	return in
}

// TestEdgeServiceEntryProtocol: the edge's ServiceEntry port speaks the
// service's protocol, HTTP when none is given.
func TestEdgeServiceEntryProtocol(t *testing.T) {
	for _, tc := range []struct{ protocol, want string }{{"", "HTTP"}, {"HTTP", "HTTP"}, {"GRPC", "GRPC"}, {"HTTP2", "HTTP2"}} {
		in := edgeIntent(cl("east", "r1", "z1"), cl("west", "r2", "z2"))
		in.Spec.Service.Protocol = tc.protocol
		se := get[*networkingv1.ServiceEntry](t, bundle(t, lowerOK(t, in), EdgeTarget), "reviews")
		require.Len(t, se.Spec.Ports, 1)
		assert.Equal(t, tc.want, se.Spec.Ports[0].Protocol, "protocol %q", tc.protocol)
	}
}

// TestWorkloadEntryFields: a remote cluster's entry carries the service's
// host as its app label (the intent's name when no host is given), the
// east-west gateway's port (15443 when none is given), and a host-name
// gateway's address only at the edge: in a cluster the entry has no
// address and says it speaks Istio mTLS, for istiod to route it through
// the network's gateway.
func TestWorkloadEntryFields(t *testing.T) {
	for _, tc := range []struct {
		name, host, addr string
		port             uint32
		wantApp          string
		wantPort         uint32
		wantAddr         string // in the cluster east; the edge keeps the given one
		wantTLS          bool
	}{
		{"defaults", "", "10.0.0.2", 0, "reviews", 15443, "10.0.0.2", false},
		{"host and port", "ratings", "10.0.0.2", 16443, "ratings", 16443, "10.0.0.2", false},
		{"host-name gateway", "", "gw.west.example.com", 15443, "reviews", 15443, "", true},
	} {
		west := cl("west", "r2", "z2")
		west.EastWestGateway = intent.Address{Address: tc.addr, Port: tc.port}
		in := edgeIntent(cl("east", "r1", "z1"), west)
		in.Spec.Service.Host = tc.host
		// The edge needs every cluster's entries; east sees west's.
		bs := lowerOK(t, in)
		edgeWE := get[*networkingv1.WorkloadEntry](t, bundle(t, bs, EdgeTarget), "reviews-west")
		assert.Equal(t, tc.addr, edgeWE.Spec.Address, "%s: the edge keeps the address", tc.name)
		assert.Equal(t, tc.wantApp, edgeWE.Spec.Labels["app"], tc.name)
		assert.Equal(t, map[string]uint32{"http": tc.wantPort}, edgeWE.Spec.Ports, tc.name)
		assert.Empty(t, edgeWE.Spec.Labels["security.istio.io/tlsMode"], "%s: the edge resolves the name itself", tc.name)

		in.Spec.Entry = intent.Entry{Kind: "eastWest"}
		in.Spec.Failover.Mode = intent.ModeAuto
		in.Spec.Failover.Order = nil
		we := get[*networkingv1.WorkloadEntry](t, bundle(t, lowerOK(t, in), "east"), "reviews-west")
		assert.Equal(t, tc.wantAddr, we.Spec.Address, tc.name)
		assert.Equal(t, tc.wantApp, we.Spec.Labels["app"], tc.name)
		assert.Equal(t, map[string]uint32{"http": tc.wantPort}, we.Spec.Ports, tc.name)
		if tc.wantTLS {
			assert.Equal(t, "istio", we.Spec.Labels["security.istio.io/tlsMode"], tc.name)
		} else {
			assert.NotContains(t, we.Spec.Labels, "security.istio.io/tlsMode", tc.name)
		}
	}
}

// TestProbeSubsetNameAtTheLabelLimit: probe subsets are emitted only when
// every probe subset's name fits a DNS label: "probe-cluster-" and a
// cluster name of 49 characters make 63, which fits; 50 make 64, and then
// no probe subset is emitted (probes go through the traffic subsets).
func TestProbeSubsetNameAtTheLabelLimit(t *testing.T) {
	for _, tc := range []struct {
		n     int
		probe bool
	}{{49, true}, {50, false}} {
		long := strings.Repeat("w", tc.n)
		in := base(intent.ModeAuto, cl("east", "r1", "z1"), cl(long, "r2", "z2"))
		dr := get[*networkingv1.DestinationRule](t, bundle(t, lowerOK(t, in), "east"), "reviews")
		var names []string
		for _, s := range dr.Spec.Subsets {
			names = append(names, s.Name)
		}
		assert.Equal(t, tc.probe, slices.Contains(names, ProbeSubset(long)), "cluster name of %d: %v", tc.n, names)
		assert.Equal(t, tc.probe, slices.Contains(names, ProbeSubset("east")), "cluster name of %d: %v", tc.n, names)
	}
}
