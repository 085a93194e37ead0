package xdsgen_test

import (
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/xds"
	"github.com/detour-mesh/detour/plugins/config"
)

// edgeLimits checks, at the edge gateway, the ejection limits the compiler
// chose so that a total outage leaves nothing black-holed
// (compiler/lower/edgeoutlier.go), on the clusters Istio built:
//   - the service's cluster may eject every host but one, as Envoy counts
//     (an ejection is allowed while 100 × (ejected + 1) / hosts stays
//     within max_ejection_percent, hosts over every priority);
//   - a per-cluster subset (one gateway) panics once its host is ejected;
//   - any other subset keeps the service's limits.
//
// It returns the max ejection percent and panic threshold c must carry.
func (e example) edgeLimits(snap *xds.Snapshot, c *clusterv3.Cluster) (uint32, float64) {
	t := e.t
	d := e.in.Spec.Detection
	parts := strings.Split(c.GetName(), "|")
	require.Len(t, parts, 4, "%s: not an outbound cluster name", c.GetName())
	service := strings.Join([]string{parts[0], parts[1], "", parts[3]}, "|")
	sc := snap.Cluster(service)
	require.NotNil(t, sc, "no service cluster %s", service)
	maxEj := sc.GetOutlierDetection().GetMaxEjectionPercent().GetValue()
	if n := hostCount(snap, sc); n > 1 {
		assert.LessOrEqual(t, 100*(n-1), int(maxEj)*n, "%s: max ejection %d%% cannot eject %d of its %d gateways", service, maxEj, n-1, n)
		assert.Less(t, maxEj, uint32(100), "%s: max ejection %d%% can eject all %d gateways: a total outage black-holes the edge until the ejections end", service, maxEj, n)
		maxEj = min(maxEj, d.MaxEjectionPercent)
	} else {
		maxEj = d.MaxEjectionPercent
	}
	if !strings.HasPrefix(parts[2], config.SubsetPrefix) {
		return maxEj, float64(d.MinHealthPercent)
	}
	assert.Equal(t, 1, hostCount(snap, c), "%s: a cluster's subset at the edge holds its east-west gateway alone", c.GetName())
	return d.MaxEjectionPercent, float64(max(d.MinHealthPercent, 1))
}

// hostCount is the number of endpoints in c's load assignment (EDS or its
// own, for a DNS cluster).
func hostCount(snap *xds.Snapshot, c *clusterv3.Cluster) int {
	cla := snap.LoadAssignment(c.GetName())
	if cla == nil {
		cla = c.GetLoadAssignment()
	}
	n := 0
	for _, l := range cla.GetEndpoints() {
		n += len(l.GetLbEndpoints())
	}
	return n
}
