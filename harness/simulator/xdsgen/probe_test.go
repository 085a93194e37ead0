package xdsgen_test

import (
	"math"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/detour-mesh/detour/harness/simulator/xds"
	"github.com/detour-mesh/detour/plugins/config"
)

// checkProbeCluster reports whether c is a target's probe cluster
// (compiler/lower/probe.go) and checks what Istio built for it: no outlier
// detection, or one that enforces nothing (so an ejection in the traffic
// subset never stops a probe), and the same endpoints as the target's
// traffic subset. (Istio sets its panic threshold to 0 all the same, as it
// does for every cluster of a service it sends unhealthy endpoints for:
// a probe reaches ready pods only.)
func (e example) checkProbeCluster(snap *xds.Snapshot, c *clusterv3.Cluster) bool {
	parts := strings.Split(c.GetName(), "|")
	if len(parts) != 4 || !strings.HasPrefix(parts[2], config.ProbeSubsetPrefix) {
		return false
	}
	t := e.t
	if od := c.GetOutlierDetection(); od != nil {
		// An EnvoyFilter patch created one; the compiler's last patch puts
		// every detector out of reach.
		for name, v := range map[string]*wrapperspb.UInt32Value{
			"consecutive 5xx": od.GetConsecutive_5Xx(), "gateway": od.GetConsecutiveGatewayFailure(),
			"local origin": od.GetConsecutiveLocalOriginFailure(), "success rate hosts": od.GetSuccessRateMinimumHosts(),
			"failure percentage hosts": od.GetFailurePercentageMinimumHosts(), "failure percentage volume": od.GetFailurePercentageRequestVolume(),
		} {
			assert.Equal(t, uint32(math.MaxUint32), v.GetValue(), "%s: %s within reach", c.GetName(), name)
		}
	}
	traffic := strings.Join([]string{parts[0], parts[1], strings.TrimPrefix(parts[2], config.ProbeSubsetPrefix), parts[3]}, "|")
	require.NotNil(t, snap.Cluster(traffic), "%s: no traffic subset %s", c.GetName(), traffic)
	if c.GetType() == clusterv3.Cluster_EDS {
		assert.ElementsMatch(t, addresses(snap, traffic), addresses(snap, c.GetName()), "%s: the traffic subset's endpoints", c.GetName())
	}
	return true
}

func addresses(snap *xds.Snapshot, cluster string) []string {
	var out []string
	if cla := snap.LoadAssignment(cluster); cla != nil {
		for _, l := range cla.GetEndpoints() {
			for _, ep := range l.GetLbEndpoints() {
				a := ep.GetEndpoint().GetAddress().GetSocketAddress()
				out = append(out, a.GetAddress())
			}
		}
	}
	return out
}
