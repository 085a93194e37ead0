package lower

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apinet "istio.io/api/networking/v1alpha3"
	extensionsv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	networkingv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"

	"github.com/detour-mesh/detour/compiler/explain"
	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/plugins/config"
)

// TestPluginConfigDecisions: the filter configuration's fields that depend
// on where the proxy runs and on optional intent blocks, each on both sides
// of its condition.
func TestPluginConfigDecisions(t *testing.T) {
	edge := func(in *intent.Intent) {
		in.Spec.Entry = intent.Entry{Kind: "edge", Edge: &intent.Edge{Hosts: []string{"shop.example.com"}}}
	}
	tests := []struct {
		name   string
		mode   string
		local  string
		mutate func(*intent.Intent)
		// what the configuration must say
		authorities    []string
		tierByLocality bool
		composed       bool
		budget         [2]float64 // percent, min concurrency
		failure        [2]uint32  // threshold, request volume
	}{
		{name: "sidecar, auto: the ladder is already seen from its cluster", mode: intent.ModeAuto, local: "east",
			budget: [2]float64{20, 3}},
		{name: "edge, auto: nearest first from the gateway's locality", mode: intent.ModeAuto, mutate: edge,
			authorities: []string{"shop.example.com"}, tierByLocality: true, budget: [2]float64{20, 3}},
		{name: "edge, named: the order is the intent's", mode: intent.ModeNamed, mutate: edge,
			authorities: []string{"shop.example.com"}, budget: [2]float64{20, 3}},
		{name: "no retry budget", mode: intent.ModeAuto, local: "east",
			mutate: func(in *intent.Intent) { in.Spec.Retries.Budget = nil }},
		{name: "failure percentage", mode: intent.ModeAuto, local: "east",
			mutate: func(in *intent.Intent) {
				in.Spec.Detection.FailurePercentage = &intent.FailurePercentage{Threshold: 40, MinimumHosts: 1, RequestVolume: 25}
			}, budget: [2]float64{20, 3}, failure: [2]uint32{40, 25}},
		{name: "composed: team routes share the routing header", mode: intent.ModeAuto, local: "east",
			mutate: func(in *intent.Intent) {
				in.Spec.Compose = &intent.Compose{VirtualService: "vs.yaml", Routes: []*apinet.HTTPRoute{{Name: "v2"}}}
			}, composed: true, budget: [2]float64{20, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := base(tc.mode, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
			if tc.mutate != nil {
				tc.mutate(&in)
			}
			c := PluginConfig(in, tc.local, explain.Ladder{})
			assert.Equal(t, tc.authorities, c.Service.Authorities)
			assert.Equal(t, tc.tierByLocality, c.TierByLocality)
			assert.Equal(t, tc.composed, c.Composed)
			assert.Equal(t, tc.budget, [2]float64{c.Retry.BudgetPercent, float64(c.Retry.BudgetMinConcurrency)})
			assert.Equal(t, tc.failure, [2]uint32{c.Detection.FailurePercentage, c.Detection.FailureRequestVolume})
		})
	}
}

// TestExtensionsScope: without named clients the WasmPlugins and the
// EnvoyFilter carry no workload selector (every sidecar of the namespace);
// with them, exactly the clients' labels.
func TestExtensionsScope(t *testing.T) {
	for _, clients := range []map[string]string{nil, {"app": "productpage"}} {
		in := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
		in.Spec.Entry.Clients = clients
		in.Spec.Detection.MaxEjectionPercent = 50 // an EnvoyFilter patch: always eject one
		b := bundle(t, lowerOK(t, in), "east")
		wp := get[*extensionsv1alpha1.WasmPlugin](t, b, "reviews-detour")
		ef := get[*networkingv1alpha3.EnvoyFilter](t, b, "reviews-detour-cluster")
		if clients == nil {
			assert.Nil(t, wp.Spec.Selector, "WasmPlugin")
			assert.Nil(t, ef.Spec.WorkloadSelector, "EnvoyFilter")
			continue
		}
		require.NotNil(t, wp.Spec.Selector)
		assert.Equal(t, clients, wp.Spec.Selector.MatchLabels)
		require.NotNil(t, ef.Spec.WorkloadSelector)
		assert.Equal(t, clients, ef.Spec.WorkloadSelector.Labels)
	}
}

// TestFilterLayouts: by default one WasmPlugin runs the three filters
// (the combined root ID); SplitFilters gives the three root IDs in chain
// order by priority, each with the same configuration, URL and failure
// policy as the combined one.
func TestFilterLayouts(t *testing.T) {
	in := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
	one := get[*extensionsv1alpha1.WasmPlugin](t, bundle(t, lowerOK(t, in), "east"), "reviews-detour")
	assert.Equal(t, config.PluginCombined, one.Spec.PluginName)
	assert.Equal(t, "FAIL_OPEN", one.Spec.FailStrategy.String())
	assert.Equal(t, "STATS", one.Spec.Phase.String())

	bs, err := Lower(in, Options{SplitFilters: true})
	require.NoError(t, err)
	east := bundle(t, bs, "east")
	assert.Equal(t, []string{"WasmPlugin/reviews-detour-outlier", "WasmPlugin/reviews-detour-retry", "WasmPlugin/reviews-detour-router"},
		filter(kinds(east), "WasmPlugin/"))
	want, err := one.Spec.PluginConfig.MarshalJSON()
	require.NoError(t, err)
	for _, tc := range []struct {
		name, root string
		priority   int32
	}{{"reviews-detour-router", config.PluginRouter, 30}, {"reviews-detour-retry", config.PluginRetry, 20}, {"reviews-detour-outlier", config.PluginOutlier, 10}} {
		wp := get[*extensionsv1alpha1.WasmPlugin](t, east, tc.name)
		assert.Equal(t, tc.root, wp.Spec.PluginName)
		assert.Equal(t, tc.priority, wp.Spec.Priority.GetValue())
		assert.Equal(t, one.Spec.Url, wp.Spec.Url)
		assert.Equal(t, one.Spec.FailStrategy, wp.Spec.FailStrategy)
		got, err := wp.Spec.PluginConfig.MarshalJSON()
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(got), tc.name)
	}
}
