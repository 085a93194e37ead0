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
		wp := get[*extensionsv1alpha1.WasmPlugin](t, b, "reviews-detour-outlier")
		raw, err := wp.Spec.PluginConfig.MarshalJSON()
		require.NoError(t, err)
		c, err := config.Parse(raw)
		require.NoError(t, err)
		assert.Equal(t, config.Detection{
			Consecutive5xx: 7, ConsecutiveGatewayErrors: 3, ConsecutiveLocalOriginFailures: 5,
			IntervalMs: 4000, BaseEjectionMs: 45000, MaxEjectionPercent: 34,
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
