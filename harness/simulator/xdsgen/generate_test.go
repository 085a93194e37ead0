package xdsgen_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"istio.io/istio/pkg/log"

	"github.com/detour-mesh/detour/harness/simulator/xdsgen"
)

const reviewsDR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: bookinfo
spec:
  host: reviews.bookinfo.svc.cluster.local
  trafficPolicy:
    outlierDetection:
      consecutiveGatewayErrors: 3
`

func reviews(cluster string) xdsgen.Cluster {
	return xdsgen.Cluster{
		ID: cluster, Network: "net-1", Region: "r1", Zone: "z1",
		Services: []xdsgen.Service{{
			Name: "reviews", Namespace: "bookinfo",
			Ports: []xdsgen.Port{{Name: "http", Port: 9080}},
			Endpoints: []xdsgen.Endpoint{
				{IP: "10.1.0.1", Labels: map[string]string{"version": "v1"}},
				{IP: "10.1.0.2", Labels: map[string]string{"version": "v2"}, Zone: "z2"},
			},
		}},
	}
}

// TestErrors: bad input comes back as an error naming where it is, never
// as a panic or an exit.
func TestErrors(t *testing.T) {
	cases := []struct {
		name, config string
		mutate       func(*xdsgen.Input)
		want         string
	}{
		{
			name:   "yaml syntax error in the second document",
			config: reviewsDR + "---\napiVersion: v1\nkind: [\n",
			want:   "dr.yaml:13:1: document 2: invalid YAML",
		},
		{
			name: "invalid istio config",
			config: reviewsDR + "---\n" + `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: broken
  namespace: bookinfo
spec:
  host: ratings.bookinfo.svc.cluster.local
  trafficPolicy:
    outlierDetection: {maxEjectionPercent: 150}
`,
			want: "dr.yaml:12:1: document 2 (DestinationRule bookinfo/broken): invalid DestinationRule: ",
		},
		{
			name:   "unknown field",
			config: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: x}\nspec: {host: a, nonsense: 1}\n",
			want:   `dr.yaml:1:1: document 1 (DestinationRule x): spec: unknown field "nonsense"`,
		},
		{
			name:   "kind istio does not read",
			config: "# header\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n",
			want:   "dr.yaml:1:1: document 1 (Deployment shop/web): apps/v1/Deployment is not a kind Istio's configuration generator reads",
		},
		{
			name:   "not a resource",
			config: "just: text\n",
			want:   "dr.yaml:1:1: document 1: want a Kubernetes-style resource",
		},
		{
			name:   "bad endpoint ip",
			config: reviewsDR,
			mutate: func(in *xdsgen.Input) { in.ControlPlane.Clusters[0].Services[0].Endpoints[0].IP = "ten" },
			want:   `cluster c1: services[0] (bookinfo/reviews): endpoints[0]: ip "ten": want an IPv4 address`,
		},
		{
			name:   "bad proxy type",
			config: reviewsDR,
			mutate: func(in *xdsgen.Input) { in.Proxy.Type = "ztunnel" },
			want:   `proxy: type "ztunnel": want "sidecar" or "router"`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := xdsgen.Input{
				ControlPlane: xdsgen.ControlPlane{Config: tc.config, ConfigName: "dr.yaml", Clusters: []xdsgen.Cluster{reviews("c1")}},
				Proxy:        xdsgen.Proxy{Cluster: "c1", Namespace: "bookinfo"},
			}
			if tc.mutate != nil {
				tc.mutate(&in)
			}
			snap, err := xdsgen.Generate(context.Background(), in)
			require.Error(t, err)
			assert.Nil(t, snap)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestSkipOtherKinds: with SkipOtherKinds a directory of hand-written
// resources may hold Deployments next to the Istio configuration.
func TestSkipOtherKinds(t *testing.T) {
	cfg := reviewsDR + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
	snap, err := xdsgen.Generate(context.Background(), xdsgen.Input{
		ControlPlane: xdsgen.ControlPlane{Config: cfg, SkipOtherKinds: true, Clusters: []xdsgen.Cluster{reviews("c1")}},
		Proxy:        xdsgen.Proxy{Cluster: "c1", Namespace: "bookinfo", Region: "r1", Zone: "z1"},
	})
	require.NoError(t, err)
	c := snap.Cluster("outbound|9080||reviews.bookinfo.svc.cluster.local")
	require.NotNil(t, c)
	assert.Equal(t, uint32(3), c.GetOutlierDetection().GetConsecutiveGatewayFailure().GetValue())
}

// TestFiles: configuration split over files; a resource defined twice is
// an error naming both places.
func TestFiles(t *testing.T) {
	vs := "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: bookinfo}\n" +
		"spec:\n  hosts: [reviews.bookinfo.svc.cluster.local]\n  http:\n  - route:\n    - destination: {host: reviews.bookinfo.svc.cluster.local}\n    retries: {attempts: 4}\n"
	in := xdsgen.Input{
		ControlPlane: xdsgen.ControlPlane{
			Files:    []xdsgen.File{{Name: "a/dr.yaml", Data: []byte(reviewsDR)}, {Name: "a/vs.yaml", Data: []byte(vs)}},
			Clusters: []xdsgen.Cluster{reviews("c1")},
		},
		Proxy: xdsgen.Proxy{Cluster: "c1", Namespace: "bookinfo"},
	}
	snap, err := xdsgen.Generate(context.Background(), in)
	require.NoError(t, err)
	assert.NotNil(t, snap.Cluster("outbound|9080||reviews.bookinfo.svc.cluster.local"))
	var retries []uint32
	for _, rc := range snap.Routes {
		for _, vh := range rc.GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				if r.GetRoute().GetCluster() == "outbound|9080||reviews.bookinfo.svc.cluster.local" {
					retries = append(retries, r.GetRoute().GetRetryPolicy().GetNumRetries().GetValue())
				}
			}
		}
	}
	assert.Contains(t, retries, uint32(4), "the VirtualService of the second file")

	in.ControlPlane.Files = append(in.ControlPlane.Files, xdsgen.File{Name: "b/dr.yaml", Data: []byte("# again\n---\n" + reviewsDR)})
	_, err = xdsgen.Generate(context.Background(), in)
	assert.ErrorContains(t, err, "b/dr.yaml:3:1: document 1 (DestinationRule bookinfo/reviews): DestinationRule bookinfo/reviews is already defined at a/dr.yaml:1:1")
}

// TestLocalEndpointsByLocality: the synthesised EndpointSlice, Pods and
// Nodes give Istio the local endpoints with their localities, so its
// locality failover puts the proxy's zone first.
func TestLocalEndpointsByLocality(t *testing.T) {
	cfg := reviewsDR + "    loadBalancer:\n      localityLbSetting: {enabled: true}\n"
	snap, err := xdsgen.Generate(context.Background(), xdsgen.Input{
		ControlPlane: xdsgen.ControlPlane{Config: cfg, Clusters: []xdsgen.Cluster{reviews("c1")}},
		Proxy:        xdsgen.Proxy{Cluster: "c1", Network: "net-1", Namespace: "bookinfo", Region: "r1", Zone: "z1"},
	})
	require.NoError(t, err)
	cla := snap.LoadAssignment("outbound|9080||reviews.bookinfo.svc.cluster.local")
	require.NotNil(t, cla)
	got := map[string]uint32{}
	for _, lle := range cla.GetEndpoints() {
		for _, lb := range lle.GetLbEndpoints() {
			got[lb.GetEndpoint().GetAddress().GetSocketAddress().GetAddress()] = lle.GetPriority()
		}
		assert.Equal(t, "r1", lle.GetLocality().GetRegion())
	}
	assert.Equal(t, map[string]uint32{"10.1.0.1": 0, "10.1.0.2": 1}, got)
}

// TestMultiNetwork: with an east-west gateway declared for a remote
// cluster's network, Istio replaces that cluster's pods by one endpoint at
// the gateway (weight: the pods it stands for).
func TestMultiNetwork(t *testing.T) {
	remote := reviews("c2")
	remote.Network, remote.Region, remote.Zone = "net-2", "r2", "z1"
	remote.EastWestGateway = &xdsgen.Gateway{Address: "192.0.2.10"}
	remote.Services[0].Endpoints = []xdsgen.Endpoint{{IP: "10.2.0.1"}, {IP: "10.2.0.2"}, {IP: "10.2.0.3"}}
	local := reviews("c1")
	local.EastWestGateway = &xdsgen.Gateway{Address: "192.0.2.1"}
	snap, err := xdsgen.Generate(context.Background(), xdsgen.Input{
		ControlPlane: xdsgen.ControlPlane{Config: reviewsDR, Clusters: []xdsgen.Cluster{local, remote}},
		Proxy:        xdsgen.Proxy{Cluster: "c1", Network: "net-1", Namespace: "bookinfo", Region: "r1", Zone: "z1"},
	})
	require.NoError(t, err)
	cla := snap.LoadAssignment("outbound|9080||reviews.bookinfo.svc.cluster.local")
	require.NotNil(t, cla)
	weights := map[string]uint32{}
	for _, lle := range cla.GetEndpoints() {
		for _, lb := range lle.GetLbEndpoints() {
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			weights[sa.GetAddress()] += lb.GetLoadBalancingWeight().GetValue()
		}
	}
	assert.NotContains(t, weights, "10.2.0.1", "remote pods must not be reached directly")
	assert.Contains(t, weights, "10.1.0.1")
	require.Contains(t, weights, "192.0.2.10")
	assert.Equal(t, 3*weights["10.1.0.1"], weights["192.0.2.10"], "the gateway stands for three pods")
}

// TestIstiodServesSeveralProxies: one Istiod, two proxies, then Close;
// a closed Istiod refuses.
func TestIstiodServesSeveralProxies(t *testing.T) {
	ctx := context.Background()
	d, err := xdsgen.Start(ctx, xdsgen.ControlPlane{Cluster: "c1", Config: reviewsDR, Clusters: []xdsgen.Cluster{reviews("c1")}})
	require.NoError(t, err)
	a, err := d.Generate(ctx, xdsgen.Proxy{Cluster: "c1", Namespace: "bookinfo", Region: "r1", Zone: "z1"})
	require.NoError(t, err)
	b, err := d.Generate(ctx, xdsgen.Proxy{Type: xdsgen.Router, Cluster: "c1", Labels: map[string]string{"istio": "ingressgateway"}})
	require.NoError(t, err)
	assert.Contains(t, a.Node, "sidecar~")
	assert.Contains(t, b.Node, "router~")
	assert.NotNil(t, a.Cluster("outbound|9080||reviews.bookinfo.svc.cluster.local"))
	for name, s := range log.Scopes() {
		assert.Equal(t, log.NoneLevel, s.GetOutputLevel(), "Istio log scope %s still prints", name)
	}
	d.Close()
	d.Close()
	_, err = d.Generate(ctx, xdsgen.Proxy{Cluster: "c1"})
	assert.ErrorContains(t, err, "closed")
}

// TestCancelled: a cancelled context stops before any work.
func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := xdsgen.Generate(ctx, xdsgen.Input{ControlPlane: xdsgen.ControlPlane{Config: reviewsDR}, Proxy: xdsgen.Proxy{Cluster: "c1"}})
	assert.ErrorIs(t, err, context.Canceled)
}

// BenchmarkGenerate: one proxy of the bookinfo example's cluster-1, with
// a fresh Istiod each time (what Generate costs) and from one Istiod
// (what each further proxy of a cluster costs).
func BenchmarkGenerate(b *testing.B) {
	cfg, err := os.ReadFile("../../../examples/bookinfo/out/bookinfo/reviews/clusters/cluster-1.yaml")
	require.NoError(b, err)
	c := reviews("cluster-1")
	c.Network, c.Region, c.Zone = "network-1", "us-east1", "us-east1-b"
	cp := xdsgen.ControlPlane{Cluster: "cluster-1", Config: string(cfg), Clusters: []xdsgen.Cluster{c}}
	p := xdsgen.Proxy{Cluster: "cluster-1", Network: "network-1", Namespace: "bookinfo", Region: "us-east1", Zone: "us-east1-b"}
	ctx := context.Background()
	b.Run("fresh-istiod", func(b *testing.B) {
		for b.Loop() {
			if _, err := xdsgen.Generate(ctx, xdsgen.Input{ControlPlane: cp, Proxy: p}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("shared-istiod", func(b *testing.B) {
		d, err := xdsgen.Start(ctx, cp)
		require.NoError(b, err)
		defer d.Close()
		for b.Loop() {
			if _, err := d.Generate(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestNotReady: a pod whose readiness is false never gets traffic. Istio
// leaves it out of EDS or sends it as UNHEALTHY, depending on the order in
// which its informers see the Pod and the EndpointSlice; either way Envoy
// never picks it.
func TestNotReady(t *testing.T) {
	c := reviews("c1")
	c.Services[0].Endpoints[1].NotReady = true
	snap, err := xdsgen.Generate(context.Background(), xdsgen.Input{
		ControlPlane: xdsgen.ControlPlane{Config: reviewsDR, Clusters: []xdsgen.Cluster{c}},
		Proxy:        xdsgen.Proxy{Cluster: "c1", Namespace: "bookinfo", Region: "r1", Zone: "z1"},
	})
	require.NoError(t, err)
	cla := snap.LoadAssignment("outbound|9080||reviews.bookinfo.svc.cluster.local")
	require.NotNil(t, cla)
	health := map[string]string{}
	for _, lle := range cla.GetEndpoints() {
		for _, lb := range lle.GetLbEndpoints() {
			health[lb.GetEndpoint().GetAddress().GetSocketAddress().GetAddress()] = lb.GetHealthStatus().String()
		}
	}
	assert.Equal(t, "HEALTHY", health["10.1.0.1"])
	if h, ok := health["10.1.0.2"]; ok {
		assert.Equal(t, "UNHEALTHY", h, "the not-ready pod")
	}
	for addr := range health {
		assert.Contains(t, []string{"10.1.0.1", "10.1.0.2"}, addr)
	}
}
