package lower

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	extensionsapi "istio.io/api/extensions/v1alpha1"
	extensionsv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"

	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/plugins/config"
)

// Every filter of every proxy (sidecars and the edge gateway) takes the
// cell-header keys from the proxy's environment, by name only, the
// variable its configuration's defaults read: the keys are never in the
// output, and the configuration has no cell field an older module would
// refuse.
func TestCellKeysFromTheProxysEnvironment(t *testing.T) {
	in := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
	edge := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
	edge.Spec.Entry = intent.Entry{Kind: "edge", Edge: &intent.Edge{
		Hosts: []string{"shop.example.com"}, GatewaySelector: map[string]string{"istio": "ingressgateway"}, Port: 443, GatewayNamespace: "istio-system",
	}}
	n := 0
	for _, it := range []intent.Intent{in, edge} {
		for _, b := range lowerOK(t, it) {
			for _, o := range b.Objects {
				wp, ok := o.(*extensionsv1alpha1.WasmPlugin)
				if !ok {
					continue
				}
				env := wp.Spec.GetVmConfig().GetEnv()
				require.Len(t, env, 1, "%s %s", b.Target, wp.Name)
				assert.Equal(t, config.DefaultCellKeyEnv, env[0].GetName())
				assert.Equal(t, extensionsapi.EnvValueSource_HOST, env[0].GetValueFrom())
				assert.Empty(t, env[0].GetValue(), "no inline value")
				raw, err := wp.Spec.PluginConfig.MarshalJSON()
				require.NoError(t, err)
				c, err := config.Parse(raw)
				require.NoError(t, err)
				assert.Nil(t, c.Cell)
				assert.Equal(t, config.Cell{KeyEnv: config.DefaultCellKeyEnv, MaxAgeMs: config.DefaultCellMaxAgeMs}, c.CellSettings())
				n++
			}
		}
	}
	assert.Equal(t, 3, n, "the east-west intent's two clusters and the edge gateway, one WasmPlugin each")
}
