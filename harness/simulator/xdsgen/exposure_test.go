package xdsgen_test

import (
	"path"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/compiler"
	"github.com/detour-mesh/detour/compiler/load"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen"
)

// TestEastWestExportIsTheGatewayHosts: what an east-west gateway exports
// is decided by the hosts of the AUTO_PASSTHROUGH servers selecting it, as
// Istio's generator reads them, not by any label. Detour's Gateway lists
// the intent's host alone; next to another Gateway on the same port the
// outcome is Istio's, and these cases pin it (docs/intent.md, Exposure).
func TestEastWestExportIsTheGatewayHosts(t *testing.T) {
	srcs, err := load.Paths("../../../examples/bookinfo")
	require.NoError(t, err)
	require.Len(t, srcs, 1)
	files, err := compiler.Compile(srcs, compiler.Options{})
	require.NoError(t, err)
	in := srcs[0].Intent
	c := in.Spec.Clusters[0]
	var cfg, file string
	for _, f := range files {
		if f.Path == path.Join(in.Metadata.Namespace, in.Metadata.Name, "clusters", c.Name+".yaml") {
			cfg, file = string(f.Data), f.Path
		}
	}
	require.NotEmpty(t, cfg)
	ex := example{t: t, in: in, file: file}
	neighbour := ex.serviceName() + "-neighbour.bookinfo.svc.cluster.local"
	other := ex.serviceName() + ".bookinfo-other.svc.cluster.local"
	gateway := func(ns, name string, hosts ...string) string {
		doc := "---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: " + name + ", namespace: " + ns + "}\n" +
			"spec:\n  selector: {istio: eastwestgateway}\n  servers:\n" +
			"  - port: {number: 15443, name: tls, protocol: TLS}\n    tls: {mode: AUTO_PASSTHROUGH}\n    hosts:\n"
		for _, h := range hosts {
			doc += "    - \"" + h + "\"\n"
		}
		return doc
	}
	cases := []struct {
		name     string
		extra    string
		exported []string
		problems bool
	}{
		{name: "compiled alone", exported: []string{ex.fqdn()}},
		{
			// Istio's multi-network sample (expose-services.yaml) exports
			// every service, and its chains for the intent's service
			// duplicate Detour's: Envoy rejects the listener.
			name:     "next to a *.local Gateway",
			extra:    gateway("istio-system", "cross-network-gateway", "*.local"),
			exported: []string{ex.fqdn(), other, neighbour},
			problems: true,
		},
		{
			// A server listing a host another Gateway already lists is
			// dropped whole (the older Gateway, then the name, wins): its
			// other hosts are not exported either.
			name:     "a later Gateway lists the host too",
			extra:    gateway("bookinfo", "zz-also-reviews", neighbour, ex.fqdn()),
			exported: []string{ex.fqdn()},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ex.t, ex.config = t, cfg+tc.extra
			cl := ex.topology(c, 0)
			cl.Services = append(cl.Services, ex.unexported()...)
			snap := ex.generate(
				xdsgen.ControlPlane{Clusters: []xdsgen.Cluster{cl}},
				xdsgen.Proxy{Type: xdsgen.Router, Cluster: c.Name, Network: c.Network, Region: c.Region, Zone: c.Zone,
					Namespace: "istio-system", Labels: map[string]string{"istio": "eastwestgateway"}, IP: "10.250.0.3"},
			)
			l := listenerOnPort(snap, 15443)
			require.NotNil(t, l)
			hosts, problems := exportedHosts(l)
			assert.ElementsMatch(t, tc.exported, keys(hosts))
			assert.Equal(t, tc.problems, len(problems) > 0, "problems: %v", problems)
		})
	}
}
