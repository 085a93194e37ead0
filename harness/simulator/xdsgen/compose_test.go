package xdsgen_test

import (
	"context"
	"fmt"
	"os"
	"path"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/compiler"
	"github.com/detour-mesh/detour/compiler/load"
	"github.com/detour-mesh/detour/harness/simulator/xds"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen"
	"github.com/detour-mesh/detour/plugins/config"
)

const composeExample = "../../../examples/canary-team-routes"

// composeSidecar compiles the example (with or without its composed
// routes), adds extra configuration, and returns the xDS Istio's generator
// gives a sidecar in cluster-1, whose pods are v1 and v2.
func composeSidecar(t *testing.T, compose bool, extra string) (*xds.Snapshot, string) {
	t.Helper()
	srcs, err := load.Paths(composeExample)
	require.NoError(t, err)
	require.Len(t, srcs, 1)
	in := srcs[0].Intent
	require.NotNil(t, in.Spec.Compose)
	if !compose {
		in.Spec.Compose = nil
	}
	files, err := compiler.CompileIntent(in, compiler.Options{})
	require.NoError(t, err)
	var cfg string
	for _, f := range files {
		if f.Path == path.Join("bookinfo", "reviews", "clusters", "cluster-1.yaml") {
			cfg = string(f.Data)
		}
	}
	require.NotEmpty(t, cfg)
	ex := example{t: t, in: in}
	c := in.Spec.Clusters[0]
	snap, err := xdsgen.Generate(context.Background(), xdsgen.Input{
		ControlPlane: xdsgen.ControlPlane{Config: cfg + "---\n" + extra, ConfigName: "cluster-1.yaml",
			Clusters: []xdsgen.Cluster{ex.topology(c, 0)}},
		Proxy: xdsgen.Proxy{Cluster: c.Name, Network: c.Network, Region: c.Region, Zone: c.Zone,
			Namespace: in.Metadata.Namespace, IP: "10.250.0.1"},
	})
	require.NoError(t, err)
	return snap, cfg
}

// envoyRoute is what a test needs of one Envoy route.
type envoyRoute struct {
	name     string
	headers  map[string]string // exact header matches
	clusters map[string]uint32 // upstream cluster -> weight (0: the only one)
	retries  uint32
}

func envoyRoutes(vh *routev3.VirtualHost) []envoyRoute {
	var out []envoyRoute
	for _, r := range vh.GetRoutes() {
		er := envoyRoute{name: r.GetName(), headers: map[string]string{}, clusters: map[string]uint32{}}
		for _, h := range r.GetMatch().GetHeaders() {
			if e := h.GetStringMatch().GetExact(); e != "" {
				er.headers[h.GetName()] = e
			}
		}
		ra := r.GetRoute()
		if c := ra.GetCluster(); c != "" {
			er.clusters[c] = 0
		}
		for _, wc := range ra.GetWeightedClusters().GetClusters() {
			er.clusters[wc.GetName()] = wc.GetWeight().GetValue()
		}
		er.retries = ra.GetRetryPolicy().GetNumRetries().GetValue()
		out = append(out, er)
	}
	return out
}

// TestComposedRoutesInRDS: the reviews team's canary routes (header to v2,
// a 90/10 split) reach Envoy through the one VirtualService Detour
// compiles, with Detour's retries, and pinned to the cluster the router
// filter picked: the subset clusters they route to put that cluster's
// endpoints of the version first, with Detour's outlier detection.
func TestComposedRoutesInRDS(t *testing.T) {
	snap, cfg := composeSidecar(t, true, "")
	assert.Equal(t, 1, strings.Count(cfg, "\nkind: VirtualService\n"), "one VirtualService for the host")
	const fqdn = "reviews.bookinfo.svc.cluster.local"
	up := func(subset string) string { return "outbound|9080|" + subset + "|" + fqdn }
	vh := virtualHost(snap, fqdn)
	require.NotNil(t, vh)
	routes := envoyRoutes(vh)
	var names []string
	for _, r := range routes {
		names = append(names, r.name)
	}
	// Istio keeps the compiled order; the team's routes for a cluster
	// come before the rest, and the catch-all canary leaves no room for
	// Detour's own default.
	assert.Equal(t, []string{
		"testers-cluster-cluster-1-retry", "testers-cluster-cluster-1",
		"canary-cluster-cluster-1-retry", "canary-cluster-cluster-1",
		"testers-cluster-cluster-2-retry", "testers-cluster-cluster-2",
		"canary-cluster-cluster-2-retry", "canary-cluster-cluster-2",
		"testers-retry", "testers", "canary-retry", "canary",
	}, names)
	byName := map[string]envoyRoute{}
	for _, r := range routes {
		byName[r.name] = r
	}
	testers := byName["testers-cluster-cluster-1-retry"]
	assert.Equal(t, map[string]string{"end-user": "jason", config.HeaderCluster: "cluster-1"}, testers.headers)
	assert.Equal(t, map[string]uint32{up("v2-cluster-cluster-1"): 0}, testers.clusters)
	assert.Equal(t, uint32(2), testers.retries, "Detour's retries on the team's route")
	assert.Zero(t, byName["testers-cluster-cluster-1"].retries, "methods not retried")

	canary := byName["canary-cluster-cluster-2-retry"]
	assert.Equal(t, map[string]string{config.HeaderCluster: "cluster-2"}, canary.headers)
	assert.Equal(t, map[string]uint32{up("v1-cluster-cluster-2"): 90, up("v2-cluster-cluster-2"): 10}, canary.clusters)
	assert.Equal(t, uint32(2), canary.retries)

	// Without the filter's header, the routes as the team wrote them.
	assert.Equal(t, map[string]uint32{up("v1"): 90, up("v2"): 10}, byName["canary-retry"].clusters)

	// The pinned subsets: v2 in the cluster the filter chose at priority
	// 0, v2 elsewhere at priority 1 (cluster-1's pods, cluster-2's
	// WorkloadEntry at its east-west gateway), so a version down in one
	// cluster fails over to the same version natively.
	assert.Equal(t, map[string]uint32{"10.1.0.2": 0, "10.1.0.4": 0, "10.20.0.10:15443": 1},
		priorities(t, snap, up("v2-cluster-cluster-1")))
	assert.Equal(t, map[string]uint32{"10.1.0.2": 1, "10.1.0.4": 1, "10.20.0.10:15443": 0},
		priorities(t, snap, up("v2-cluster-cluster-2")))
	for _, s := range []string{"v2-cluster-cluster-1", "v2-cluster-cluster-2", "v1-cluster-cluster-2"} {
		c := snap.Cluster(up(s))
		require.NotNil(t, c, s)
		assert.Equal(t, uint32(3), c.GetOutlierDetection().GetConsecutiveGatewayFailure().GetValue(), "%s: outlier detection", s)
	}
}

// TestTwoVirtualServicesLoseRoutes is the problem composing solves: the
// team's own VirtualService applied next to Detour's, for the same host,
// is not merged by Istio for a sidecar: one of them is dropped, here the
// team's canary.
func TestTwoVirtualServicesLoseRoutes(t *testing.T) {
	team, err := os.ReadFile(composeExample + "/routes/reviews-canary.yaml")
	require.NoError(t, err)
	snap, _ := composeSidecar(t, false, string(team))
	vh := virtualHost(snap, "reviews.bookinfo.svc.cluster.local")
	require.NotNil(t, vh)
	var names []string
	for _, r := range envoyRoutes(vh) {
		names = append(names, r.name)
	}
	assert.NotContains(t, names, "testers", "Istio merged the team's VirtualService after all: %v", names)
	assert.NotContains(t, names, "canary", "Istio merged the team's VirtualService after all: %v", names)
	assert.Contains(t, names, "default-retry")
}

// priorities maps each endpoint of a cluster's load assignment (the port
// added when it is not the pods' 9080) to its priority.
func priorities(t *testing.T, snap *xds.Snapshot, cluster string) map[string]uint32 {
	t.Helper()
	cla := snap.LoadAssignment(cluster)
	require.NotNil(t, cla, cluster)
	out := map[string]uint32{}
	for _, lle := range cla.GetEndpoints() {
		for _, lb := range lle.GetLbEndpoints() {
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			k := sa.GetAddress()
			if sa.GetPortValue() != 9080 {
				k = fmt.Sprintf("%s:%d", k, sa.GetPortValue())
			}
			out[k] = lle.GetPriority()
		}
	}
	return out
}

// TestDelegationIsNotFailoverAware records what Istio's own composition,
// VirtualService delegation, does for a sidecar in the pinned Istio (the
// reason Detour merges at compile time instead, RATIONALE.md): the
// delegate's route is merged under the root's match, but it keeps its own
// destination (all of v2, not the cluster the router filter chose) and
// its own retries override the root's failover retry policy.
func TestDelegationIsNotFailoverAware(t *testing.T) {
	const delegation = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-root, namespace: bookinfo}
spec:
  hosts: [reviews.bookinfo.svc.cluster.local]
  http:
    - name: detour
      match: [{headers: {x-detour-cluster: {exact: cluster-1}}}]
      delegate: {name: reviews-team, namespace: bookinfo}
      retries: {attempts: 2, retryOn: gateway-error, retryRemoteLocalities: true}
      timeout: 5s
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-team, namespace: bookinfo}
spec:
  http:
    - name: testers
      match: [{headers: {end-user: {exact: jason}}}]
      route: [{destination: {host: reviews.bookinfo.svc.cluster.local, subset: v2}}]
      retries: {attempts: 5, retryOn: 5xx}
`
	srcs, err := load.Paths(composeExample)
	require.NoError(t, err)
	in := srcs[0].Intent
	in.Spec.Compose = nil
	files, err := compiler.CompileIntent(in, compiler.Options{})
	require.NoError(t, err)
	var docs []string
	for _, f := range files {
		if f.Path != path.Join("bookinfo", "reviews", "clusters", "cluster-1.yaml") {
			continue
		}
		// Detour's own VirtualService out: the root above stands for it.
		for _, d := range strings.Split(string(f.Data), "\n---\n") {
			if !strings.Contains(d, "\nkind: VirtualService\n") {
				docs = append(docs, d)
			}
		}
	}
	require.NotEmpty(t, docs)
	ex := example{t: t, in: in}
	c := in.Spec.Clusters[0]
	snap, err := xdsgen.Generate(context.Background(), xdsgen.Input{
		ControlPlane: xdsgen.ControlPlane{Config: strings.Join(docs, "\n---\n") + "\n---\n" + delegation, ConfigName: "delegation.yaml",
			Clusters: []xdsgen.Cluster{ex.topology(c, 0)}},
		Proxy: xdsgen.Proxy{Cluster: c.Name, Network: c.Network, Region: c.Region, Zone: c.Zone,
			Namespace: in.Metadata.Namespace, IP: "10.250.0.1"},
	})
	require.NoError(t, err)
	vh := virtualHost(snap, "reviews.bookinfo.svc.cluster.local")
	require.NotNil(t, vh)
	routes := envoyRoutes(vh)
	require.NotEmpty(t, routes)
	r := routes[0]
	assert.Equal(t, "detour-testers", r.name, "the delegate's route, merged")
	assert.Equal(t, map[string]string{"end-user": "jason", config.HeaderCluster: "cluster-1"}, r.headers, "under the root's match")
	assert.Equal(t, map[string]uint32{"outbound|9080|v2|reviews.bookinfo.svc.cluster.local": 0}, r.clusters,
		"its own destination: v2 anywhere, not v2 in the filter's cluster")
	assert.Equal(t, uint32(5), r.retries, "the delegate's retries win over the root's")
}
