package sim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWithoutKinds(t *testing.T) {
	b, err := os.ReadFile("../../../examples/bookinfo/out/bookinfo/reviews/clusters/cluster-1.yaml")
	require.NoError(t, err)
	in := string(b)
	require.Contains(t, in, "kind: WasmPlugin")
	out := withoutKinds(in, "WasmPlugin")
	assert.NotContains(t, out, "kind: WasmPlugin")
	for _, k := range []string{"Gateway", "WorkloadEntry", "DestinationRule", "VirtualService"} {
		assert.Equal(t, strings.Count(in, "\nkind: "+k+"\n"), strings.Count(out, "\nkind: "+k+"\n"), k)
	}
	assert.Equal(t, "kind: A\n---\nkind: C\n", withoutKinds("kind: A\n---\nkind: B\n---\nkind: C\n", "B"))
}

// --istio DIR: each target's file is the first of DIR/<target>.yaml,
// DIR/clusters/<target>.yaml and DIR/<ns>/<name>/clusters/<target>.yaml
// (the edge: DIR/edge.yaml, then DIR/<ns>/<name>/edge.yaml); the run's
// errors name the file read.
func TestReadIstioLayouts(t *testing.T) {
	sc := scenarioFile(t, "traffic: {entry: cluster-1}\n")
	write := func(dir, rel, body string) string {
		p := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	dir := t.TempDir()
	nested := write(dir, "bookinfo/reviews/clusters/cluster-1.yaml", "kind: Nested\n")
	write(dir, "bookinfo/reviews/clusters/cluster-2.yaml", "kind: Nested\n")
	nestedEdge := write(dir, "bookinfo/reviews/edge.yaml", "kind: NestedEdge\n")
	s, err := resolve(sc, dir)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"cluster-1": nested, "cluster-2": filepath.Join(dir, "bookinfo/reviews/clusters/cluster-2.yaml"), EdgeTarget: nestedEdge}, s.configPath)
	assert.Equal(t, "kind: Nested\n", s.config["cluster-1"])
	assert.Equal(t, "istio "+dir, s.source)
	assert.Equal(t, nested, s.configName("cluster-1"))

	clusters := write(dir, "clusters/cluster-1.yaml", "kind: Clusters\n")
	s, err = resolve(sc, dir)
	require.NoError(t, err)
	assert.Equal(t, clusters, s.configPath["cluster-1"], "clusters/ before <ns>/<name>/clusters/")
	assert.Equal(t, "kind: Clusters\n", s.config["cluster-1"])

	top := write(dir, "cluster-1.yaml", "kind: Top\n")
	edge := write(dir, "edge.yaml", "kind: Edge\n")
	s, err = resolve(sc, dir)
	require.NoError(t, err)
	assert.Equal(t, top, s.configPath["cluster-1"], "the directory's own file first")
	assert.Equal(t, edge, s.configPath[EdgeTarget])

	_, err = resolve(sc, t.TempDir())
	assert.ErrorContains(t, err, "drill.yaml: istio: no <cluster>.yaml or edge.yaml in ")
	odd := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(odd, "cluster-1.yaml"), 0o755))
	_, err = resolve(sc, odd)
	assert.ErrorContains(t, err, "is a directory", "an unreadable file is an error, not a missing one")

	// Compiled: the names the generator's errors give.
	s, err = resolve(sc, "")
	require.NoError(t, err)
	assert.Equal(t, "compiled "+sc.Intent, s.source)
	assert.Equal(t, "cluster-1.yaml (compiled)", s.configName("cluster-1"))
	assert.Equal(t, "edge.yaml (compiled)", s.configName(EdgeTarget))
}

// The topology a run simulates: the scenario's clusters first, in its
// order, then the intent's others; the scenario's fields win, the
// intent's fill the rest; the drilled service runs in every cluster with
// the intent's endpoints spread over its subsets (rounded up), unless the
// scenario gives them; gateways without an address get 10.250.<i>.10 and
// .20 by position, and the default ports.
func TestMergeTopology(t *testing.T) {
	sc := scenarioFile(t, `topology:
  clusters:
    - name: extra
      region: eu-west1
      services: [{name: ratings, endpoints: 2}]
    - name: cluster-2
      zone: us-west1-c
      eastWestGateway: {address: 10.99.0.1, port: 16443}
      services: [{name: reviews, endpoints: 1, capacity: 50}]
traffic: {entry: cluster-1}
`)
	s, err := resolve(sc, "")
	require.NoError(t, err)
	top := s.top
	require.Equal(t, []string{"extra", "cluster-2", "cluster-1"}, clusterNames(top))
	extra, c2, c1 := top.Clusters[0], top.Clusters[1], top.Clusters[2]

	assert.Equal(t, "eu-west1", extra.Region)
	assert.Equal(t, Gateway{Address: "10.250.0.10", Port: DefaultEastWestPort}, extra.EastWest)
	assert.Equal(t, Gateway{Address: "10.250.0.20", Port: DefaultIngressPort}, extra.Ingress)
	require.Len(t, extra.Services, 1, "not an intent cluster: no reviews added")

	assert.Equal(t, "us-west1", c2.Region, "from the intent")
	assert.Equal(t, "us-west1-c", c2.Zone, "the scenario's")
	assert.Equal(t, "network-2", c2.Network)
	assert.Equal(t, Gateway{Address: "10.99.0.1", Port: 16443}, c2.EastWest, "the scenario's gateway")
	assert.Equal(t, "10.250.1.20", c2.Ingress.Address)
	require.Len(t, c2.Services, 1)
	assert.Equal(t, []Subset{{Endpoints: 1}}, c2.Services[0].Subsets, "the scenario's endpoints")
	assert.Equal(t, 50.0, c2.Services[0].Capacity, "the scenario's capacity")

	assert.Equal(t, "us-east1", c1.Region)
	assert.Equal(t, "us-east1-b", c1.Zone)
	assert.Equal(t, Gateway{Address: "10.10.0.10", Port: DefaultEastWestPort}, c1.EastWest, "the intent's address")
	assert.Equal(t, Gateway{Address: "10.250.2.20", Port: DefaultIngressPort}, c1.Ingress)
	require.Len(t, c1.Services, 1)
	rv := c1.Services[0]
	assert.Equal(t, "reviews", rv.Name)
	assert.Equal(t, []Subset{{Name: "v1", Endpoints: 1}, {Name: "v2", Endpoints: 1}, {Name: "v3", Endpoints: 1}}, rv.Subsets, "3 endpoints over 3 subsets")
	assert.Equal(t, 600.0, rv.Capacity, "the intent's")
	assert.Equal(t, DefaultP50, rv.P50)
	assert.Equal(t, DefaultP99, rv.P99)
	assert.Equal(t, DefaultMaxQueue, rv.MaxQueue)

	assert.Equal(t, map[string]float64{"cluster-1": 250, "cluster-2": 300}, s.loads)
	assert.Equal(t, ServiceRef{Name: "reviews", Namespace: "bookinfo", Port: 9080}, s.svc)
	assert.Equal(t, "reviews.bookinfo.svc.cluster.local", s.fqdn)
}

// An intent's east-west gateway given by host name: the topology's address
// (or the default) is what the name resolves to, and the run hands Istio
// one resolved network gateway per such cluster.
func TestHostNameGateways(t *testing.T) {
	sc, err := Load("../../../examples/eks-hostname/drills/east-down.yaml")
	require.NoError(t, err)
	s, err := resolve(sc, "")
	require.NoError(t, err)
	require.Equal(t, []string{"eks-west", "eks-east"}, clusterNames(s.top))
	west, east := s.top.Clusters[0], s.top.Clusters[1]
	assert.Equal(t, "k8s-istiosys-eastwest-6f7a8b9c0d-fedcba9876543210.elb.us-west-2.amazonaws.com", west.EastWest.Name)
	assert.Equal(t, "10.42.7.19", west.EastWest.Address, "the scenario's resolution")
	assert.Equal(t, "k8s-istiosys-eastwest-1a2b3c4d5e-0123456789abcdef.elb.us-east-1.amazonaws.com", east.EastWest.Name)
	assert.Equal(t, "10.250.1.10", east.EastWest.Address, "the default resolution, by position")
	gws := s.resolvedGateways()
	require.Len(t, gws, 2)
	assert.Equal(t, "eks-west", gws[0].Cluster)
	assert.Equal(t, "10.42.7.19", gws[0].Address)
	assert.Equal(t, uint32(DefaultEastWestPort), gws[0].Port)
	assert.Equal(t, west.Network, gws[0].Network)
	assert.NotEmpty(t, gws[0].Network)
}

// At the edge, a cluster's east-west gateway known by host name is an
// address of its own: the edge's cluster for it resolves the name
// (STRICT_DNS), so attempts go to the name, which reaches the cluster
// the topology resolves it to. The edge sits in cluster-a's locality:
// cluster-a answers until its pods go at 3 s, cluster-b while they are
// gone.
func TestEdgeHostNameGateways(t *testing.T) {
	sc, err := Load("testdata/runs/edge-hostname.yaml")
	require.NoError(t, err)
	rep, err := Run(context.Background(), sc, Options{Generate: replay})
	require.NoError(t, err)
	run := rep.Runs[0]
	require.Equal(t, []string{"cluster-a", "cluster-b", "none"}, run.Clusters)
	for _, s := range run.Seconds[:3] {
		assert.Equal(t, []float64{1, 0, 0}, s.Share, "second %d", s.T)
		assert.Zero(t, s.Errors, "second %d", s.T)
	}
	assert.Equal(t, []float64{0, 1, 0}, run.Seconds[5].Share, "cluster-a's pods are gone")
}

// The service's name in requests is its FQDN: the intent's service.host
// (else its metadata name) under the intent's cluster domain
// (cluster.local unless the intent says otherwise).
func TestResolveServiceName(t *testing.T) {
	b, err := os.ReadFile("../../../examples/bookinfo/intent.yaml")
	require.NoError(t, err)
	dir := t.TempDir()
	for _, tc := range []struct{ intent, want string }{
		{string(b), "reviews.bookinfo.svc.cluster.local"},
		{strings.Replace(string(b), "    port: 9080\n", "    port: 9080\n    clusterDomain: mesh.internal\n", 1), "reviews.bookinfo.svc.mesh.internal"},
		{strings.Replace(string(b), "    port: 9080\n", "    port: 9080\n    host: ratings\n", 1), "ratings.bookinfo.svc.cluster.local"},
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "intent.yaml"), []byte(tc.intent), 0o644))
		p := filepath.Join(dir, "drill.yaml")
		require.NoError(t, os.WriteFile(p, []byte("intent: intent.yaml\ntraffic: {entry: cluster-1}\n"), 0o644))
		sc, err := Load(p)
		require.NoError(t, err)
		s, err := resolve(sc, "")
		require.NoError(t, err)
		assert.Equal(t, tc.want, s.fqdn)
		assert.Equal(t, tc.want, s.authority, "a sidecar entry sends to the FQDN")
	}
}
