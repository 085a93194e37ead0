package lower

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	extensionsv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/plugins/config"
)

// Each detection threshold reaches its own field, in the filters'
// configuration and in Envoy's outlier detection: the values are all
// different, so a lowering that copies one threshold into another fails.
func TestDetectionThresholdsKeepTheirFields(t *testing.T) {
	in := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
	det := &in.Spec.Detection
	det.Consecutive5xx, det.ConsecutiveGatewayErrors, det.ConsecutiveLocalOriginFailures = 7, 3, 5
	det.MaxEjectionPercent, det.MinHealthPercent = 34, 20
	det.Interval, det.BaseEjectionTime = d("4s"), d("45s")
	for _, b := range lowerOK(t, in) {
		wp := get[*extensionsv1alpha1.WasmPlugin](t, b, "reviews-detour")
		raw, err := wp.Spec.PluginConfig.MarshalJSON()
		require.NoError(t, err)
		c, err := config.Parse(raw)
		require.NoError(t, err)
		assert.Equal(t, config.Detection{
			Consecutive5xx: 7, ConsecutiveGatewayErrors: 3, ConsecutiveLocalOriginFailures: 5,
			IntervalMs: 4000, BaseEjectionMs: 45000, MaxEjectionPercent: 34, ProbeSubsets: true,
		}, c.Detection, b.Target)

		dr := get[*networkingv1.DestinationRule](t, b, "reviews")
		od := dr.Spec.GetTrafficPolicy().GetOutlierDetection()
		require.NotNil(t, od, b.Target)
		assert.Equal(t, uint32(7), od.GetConsecutive_5XxErrors().GetValue(), b.Target)
		assert.Equal(t, uint32(3), od.GetConsecutiveGatewayErrors().GetValue(), b.Target)
		assert.Equal(t, uint32(5), od.GetConsecutiveLocalOriginFailures().GetValue(), b.Target)
		assert.True(t, od.GetSplitExternalLocalOriginErrors(), b.Target)
		assert.Equal(t, int32(34), od.GetMaxEjectionPercent(), b.Target)
		assert.Equal(t, int32(20), od.GetMinHealthPercent(), b.Target)
		assert.Equal(t, int64(4), od.GetInterval().GetSeconds(), b.Target)
		assert.Equal(t, int64(45), od.GetBaseEjectionTime().GetSeconds(), b.Target)
	}
}

// Every target gets a probe subset over its traffic subset's endpoints
// whose policy is a port-level one without outlier detection (so Istio
// does not inherit the service's), and the filters are told to probe
// there; a name too long to keep whole leaves the probes where they were.
func TestProbeSubsets(t *testing.T) {
	in := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
	for _, b := range lowerOK(t, in) {
		dr := get[*networkingv1.DestinationRule](t, b, "reviews")
		byName := map[string]map[string]string{}
		probes := 0
		for _, s := range dr.Spec.Subsets {
			byName[s.Name] = s.Labels
		}
		for _, s := range dr.Spec.Subsets {
			if s.Name != ProbeSubset("east") && s.Name != ProbeSubset("west") {
				continue
			}
			probes++
			traffic := "cluster-" + s.Name[len("probe-cluster-"):]
			assert.Equal(t, byName[traffic], s.Labels, "%s: %s", b.Target, s.Name)
			tp := s.GetTrafficPolicy()
			require.Len(t, tp.GetPortLevelSettings(), 1)
			pl := tp.GetPortLevelSettings()[0]
			assert.Equal(t, uint32(9080), pl.GetPort().GetNumber())
			assert.Nil(t, pl.GetOutlierDetection())
			assert.Nil(t, pl.GetLoadBalancer())
			assert.NotNil(t, pl.GetTls())
			assert.Nil(t, tp.GetOutlierDetection())
		}
		assert.Equal(t, 2, probes, b.Target)
		wp := get[*extensionsv1alpha1.WasmPlugin](t, b, "reviews-detour")
		raw, err := wp.Spec.PluginConfig.MarshalJSON()
		require.NoError(t, err)
		c, err := config.Parse(raw)
		require.NoError(t, err)
		assert.True(t, c.Detection.ProbeSubsets)
		assert.Equal(t, "outbound|9080|"+ProbeSubset("east")+"|reviews.bookinfo.svc.cluster.local", c.ProbeClusterName("east"))
	}

	long := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("a-cluster-name-of-fifty-characters-abcdefghijklmno", "r2", "z2"))
	for _, b := range lowerOK(t, long) {
		wp := get[*extensionsv1alpha1.WasmPlugin](t, b, "reviews-detour")
		raw, err := wp.Spec.PluginConfig.MarshalJSON()
		require.NoError(t, err)
		c, err := config.Parse(raw)
		require.NoError(t, err)
		assert.False(t, c.Detection.ProbeSubsets, b.Target)
		assert.Equal(t, c.ClusterName("east"), c.ProbeClusterName("east"))
		dr := get[*networkingv1.DestinationRule](t, b, "reviews")
		for _, s := range dr.Spec.Subsets {
			assert.NotContains(t, s.Name, "probe-", b.Target)
		}
	}
}
