package xdsgen_test

import (
	"fmt"
	"path"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/compiler"
	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/compiler/load"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen"
)

// TestStrictStandbyNoOverprovisioning: examples/online-banking (edge,
// activeStandby) once carried an EnvoyFilter patching the service's
// cluster with load_assignment.policy.overprovisioning_factor, which Envoy
// ignores for an EDS cluster (it reads the EDS assignment's policy, and
// Istio sends none); the router filter holds the active tier instead. The
// edge gateway's xDS must carry no such policy, and the check must see the
// patch if it comes back (the second case puts the old patch beside the
// compiled output).
func TestStrictStandbyNoOverprovisioning(t *testing.T) {
	srcs, err := load.Paths("../../../examples/online-banking")
	require.NoError(t, err)
	require.Len(t, srcs, 1)
	in := srcs[0].Intent
	require.Equal(t, intent.ModeActiveStandby, in.Spec.Failover.Mode)
	require.NotNil(t, in.Spec.Entry.Edge)
	files, err := compiler.Compile(srcs, compiler.Options{})
	require.NoError(t, err)
	file := path.Join(in.Metadata.Namespace, in.Metadata.Name, "edge.yaml")
	var cfg string
	for _, f := range files {
		if f.Path == file {
			cfg = string(f.Data)
		}
	}
	require.NotEmpty(t, cfg, "no %s in the compiled output", file)
	ex := example{t: t, in: in, file: file}
	cluster := fmt.Sprintf("outbound|%d||%s", in.Spec.Service.Port, ex.fqdn())
	oldPatch := fmt.Sprintf(`---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: strict-standby, namespace: %s}
spec:
  workloadSelector: {labels: {istio: corp-edge}}
  configPatches:
    - applyTo: CLUSTER
      match: {context: GATEWAY, cluster: {service: %s, portNumber: %d}}
      patch:
        operation: MERGE
        value: {load_assignment: {cluster_name: "%s", policy: {overprovisioning_factor: 100000}}}
`, in.Metadata.Namespace, ex.fqdn(), in.Spec.Service.Port, cluster)
	require.Equal(t, map[string]string{"istio": "corp-edge"}, in.Spec.Entry.Edge.GatewaySelector, "the old patch selects the example's edge gateway")
	first := in.Spec.Clusters[0]
	for _, tc := range []struct {
		name    string
		extra   string
		patched bool
	}{
		{name: "compiled"},
		// The patch matches the service's cluster and every subset's.
		{name: "with the old patch", extra: oldPatch, patched: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex.t, ex.config = t, cfg+tc.extra
			snap := ex.generate(
				xdsgen.ControlPlane{Cluster: "edge"},
				xdsgen.Proxy{Type: xdsgen.Router, Cluster: "edge", Region: first.Region, Zone: first.Zone,
					Namespace: in.Metadata.Namespace, Labels: in.Spec.Entry.Edge.GatewaySelector, IP: "10.250.0.2"},
			)
			require.NotNil(t, snap.Cluster(cluster), "no cluster %s", cluster)
			got := overprovisioned(snap)
			if !tc.patched {
				assert.Empty(t, got)
				return
			}
			assert.Contains(t, got, "CDS "+cluster+": policy, overprovisioning factor 100000")
		})
	}
}
