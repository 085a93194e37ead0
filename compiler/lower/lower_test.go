package lower

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	extensionsv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	networkingv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"

	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/plugins/config"
)

func d(s string) intent.Duration {
	v, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return intent.Duration{Duration: v}
}

func u(v uint32) *uint32 { return &v }

// base is a normalised intent as the loader returns it (defaults filled).
func base(mode string, clusters ...intent.Cluster) intent.Intent {
	return intent.Intent{
		APIVersion: intent.APIVersion, Kind: intent.Kind,
		Metadata: intent.Metadata{Name: "reviews", Namespace: "bookinfo"},
		Spec: intent.Spec{
			Service:  intent.Service{Host: "reviews", Port: 9080, Protocol: "HTTP", ClusterDomain: "cluster.local"},
			Entry:    intent.Entry{Kind: "eastWest"},
			Clusters: clusters,
			Failover: intent.Failover{Mode: mode},
			Exposure: intent.Exposure{MTLS: "ISTIO_MUTUAL"},
			Detection: intent.Detection{
				Consecutive5xx: 5, ConsecutiveGatewayErrors: 3, ConsecutiveLocalOriginFailures: 3, SplitLocalOrigin: true,
				Interval: d("5s"), BaseEjectionTime: d("30s"), MaxEjectionPercent: 100, AlwaysEjectOne: true,
			},
			Retries: intent.Retries{
				Attempts: 2, PerTryTimeout: d("1s"), Timeout: d("5s"), RetryOn: []string{"connect-failure", "gateway-error"},
				RetryRemoteLocalities: true, Methods: []string{"GET", "HEAD"}, Backoff: intent.Backoff{Base: d("25ms"), Max: d("250ms")},
				Budget: &intent.Budget{Percent: 20, MinConcurrency: 3},
			},
			Failback: intent.Failback{HoldDown: d("60s"), MinHealthyShare: 50, Ramp: []uint32{10, 50, 100}, StepInterval: d("30s")},
			Plugins:  intent.Plugins{Enabled: true},
		},
	}
}

func cl(name, region, zone string) intent.Cluster {
	return intent.Cluster{Name: name, Region: region, Zone: zone, Network: "net-" + name,
		EastWestGateway: intent.Address{Address: "10.0.0.1", Port: 15443}, Endpoints: 2}
}

func bundle(t *testing.T, bs []Bundle, target string) Bundle {
	t.Helper()
	for _, b := range bs {
		if b.Target == target {
			return b
		}
	}
	require.Failf(t, "no bundle", "target %q", target)
	return Bundle{}
}

func kinds(b Bundle) []string {
	var out []string
	for _, o := range b.Objects {
		out = append(out, o.GetObjectKind().GroupVersionKind().Kind+"/"+o.GetName())
	}
	return out
}

func get[T Object](t *testing.T, b Bundle, name string) T {
	t.Helper()
	for _, o := range b.Objects {
		if v, ok := o.(T); ok && o.GetName() == name {
			return v
		}
	}
	var zero T
	require.Failf(t, "no object", "%T %s in %v", zero, name, kinds(b))
	return zero
}

func lowerOK(t *testing.T, in intent.Intent) []Bundle {
	t.Helper()
	bs, err := Lower(in, Options{})
	require.NoError(t, err)
	return bs
}

func TestEastWestAuto(t *testing.T) {
	bs := lowerOK(t, base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2")))
	require.Len(t, bs, 2)
	east := bundle(t, bs, "east")
	assert.Equal(t, []string{
		"Gateway/reviews-eastwest", "WorkloadEntry/reviews-west", "DestinationRule/reviews", "VirtualService/reviews",
		"WasmPlugin/reviews-detour",
	}, kinds(east), "no EnvoyFilter: nothing needs one; one WasmPlugin for the three filters")

	gw := get[*networkingv1.Gateway](t, east, "reviews-eastwest")
	assert.Equal(t, "AUTO_PASSTHROUGH", gw.Spec.Servers[0].Tls.Mode.String())
	assert.Equal(t, uint32(15443), gw.Spec.Servers[0].Port.Number)
	// The hosts are the export Istio enforces: exactly the intent's service.
	assert.Equal(t, []string{"reviews.bookinfo.svc.cluster.local"}, gw.Spec.Servers[0].Hosts)
	assert.Len(t, gw.Spec.Servers, 1)
	assert.Empty(t, gw.Annotations, "no annotation claims an export the Gateway does not enforce")

	dr := get[*networkingv1.DestinationRule](t, east, "reviews")
	tp := dr.Spec.TrafficPolicy
	assert.Equal(t, "ISTIO_MUTUAL", tp.Tls.Mode.String())
	assert.True(t, tp.LoadBalancer.LocalityLbSetting.Enabled.GetValue())
	assert.Empty(t, tp.LoadBalancer.LocalityLbSetting.FailoverPriority)
	assert.Equal(t, uint32(3), tp.OutlierDetection.ConsecutiveGatewayErrors.GetValue())
	assert.Equal(t, 20.0, tp.RetryBudget.Percent.GetValue())
	assert.Equal(t, time.Second, tp.ConnectionPool.Tcp.ConnectTimeout.AsDuration())
	// Local pods by their network, remote entries by Detour's cluster label.
	assert.Equal(t, map[string]string{"topology.istio.io/network": "net-east"}, dr.Spec.Subsets[0].Labels)
	assert.Equal(t, map[string]string{LabelCluster: "west"}, dr.Spec.Subsets[1].Labels)

	we := get[*networkingv1.WorkloadEntry](t, east, "reviews-west")
	assert.Equal(t, "r2/z2", we.Spec.Locality)
	assert.Equal(t, "net-west", we.Spec.Network)
	assert.Equal(t, map[string]uint32{"http": 15443}, we.Spec.Ports)
	assert.Equal(t, "west", we.Spec.Labels[LabelCluster])
	assert.Equal(t, "reviews", we.Spec.Labels["app"])

	vs := get[*networkingv1.VirtualService](t, east, "reviews")
	var names []string
	for _, r := range vs.Spec.Http {
		names = append(names, r.Name)
	}
	assert.Equal(t, []string{"cluster-east-retry", "cluster-east", "cluster-west-retry", "cluster-west", "default-retry", "default"}, names)
	retried := vs.Spec.Http[0]
	assert.Equal(t, "east", retried.Match[0].Headers[config.HeaderCluster].GetExact())
	assert.Equal(t, "^(GET|HEAD)$", retried.Match[0].Method.GetRegex())
	assert.Equal(t, int32(2), retried.Retries.Attempts)
	assert.True(t, retried.Retries.RetryRemoteLocalities.GetValue())
	assert.Equal(t, "connect-failure,gateway-error", retried.Retries.RetryOn)
	assert.Zero(t, vs.Spec.Http[1].Retries.Attempts, "non-idempotent methods are not retried")

	wp := get[*extensionsv1alpha1.WasmPlugin](t, east, "reviews-detour")
	assert.Equal(t, config.PluginCombined, wp.Spec.PluginName)
	assert.Equal(t, "FAIL_OPEN", wp.Spec.FailStrategy.String())
	assert.Equal(t, DefaultWasmURL, wp.Spec.Url)
	assert.Equal(t, "east", wp.Spec.PluginConfig.Fields["local"].GetStringValue())
	assert.Equal(t, "CLIENT", wp.Spec.Match[0].Mode.String())
}

func TestResidencyRemovesEndpoints(t *testing.T) {
	in := base(intent.ModeAuto, cl("fra", "eu", "eu-a"), cl("ams", "eu", "eu-b"), cl("nyc", "us", "us-a"))
	in.Spec.Failover.Rules = []intent.Rule{{From: intent.Locality{Region: "eu"}, Only: []intent.Locality{{Region: "eu"}}}}
	bs := lowerOK(t, in)
	assert.Equal(t, []string{"WorkloadEntry/reviews-ams"}, filter(kinds(bundle(t, bs, "fra")), "WorkloadEntry/"))
	assert.Equal(t, []string{"WorkloadEntry/reviews-ams", "WorkloadEntry/reviews-fra"}, filter(kinds(bundle(t, bs, "nyc")), "WorkloadEntry/"))
}

func filter(ss []string, prefix string) []string {
	var out []string
	for _, s := range ss {
		if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
			out = append(out, s)
		}
	}
	return out
}

func TestModesToLocality(t *testing.T) {
	named := base(intent.ModeNamed, cl("a", "r1", "z1"), cl("b", "r2", "z2"), cl("c", "r3", "z3"))
	named.Spec.Failover.Order = []string{"b", "a", "c"}
	bs := lowerOK(t, named)
	lb := func(target string) []string {
		return get[*networkingv1.DestinationRule](t, bundle(t, bs, target), "reviews").Spec.TrafficPolicy.LoadBalancer.LocalityLbSetting.FailoverPriority
	}
	assert.Equal(t, []string{"detour.dev/cluster=b"}, lb("a"), "remote first tier")
	assert.Equal(t, []string{"topology.istio.io/network=net-b"}, lb("b"), "local first tier, told by its network")
	assert.Equal(t, []string{"detour.dev/tier-le-1=true", "detour.dev/tier-le-0=true"}, lb("c"), "local last: the whole ladder")
	c := bundle(t, bs, "c")
	assert.Equal(t, "true", get[*networkingv1.WorkloadEntry](t, c, "reviews-b").Spec.Labels["detour.dev/tier-le-0"])
	assert.Equal(t, "true", get[*networkingv1.WorkloadEntry](t, c, "reviews-b").Spec.Labels["detour.dev/tier-le-1"])
	assert.NotContains(t, get[*networkingv1.WorkloadEntry](t, c, "reviews-a").Spec.Labels, "detour.dev/tier-le-0")
	assert.Equal(t, "true", get[*networkingv1.WorkloadEntry](t, c, "reviews-a").Spec.Labels["detour.dev/tier-le-1"])
	assert.NotContains(t, get[*networkingv1.WorkloadEntry](t, bundle(t, bs, "a"), "reviews-b").Spec.Labels, "detour.dev/tier-le-0", "no chain where it is not used")

	strict := base(intent.ModeWeighted, cl("a", "r1", "z1"), cl("b", "r1", "z2"))
	strict.Spec.Clusters[0].Weight, strict.Spec.Clusters[1].Weight = u(90), u(10)
	b := bundle(t, lowerOK(t, strict), "a")
	assert.False(t, get[*networkingv1.DestinationRule](t, b, "reviews").Spec.TrafficPolicy.LoadBalancer.LocalityLbSetting.Enabled.GetValue())
	vs := get[*networkingv1.VirtualService](t, b, "reviews")
	def := vs.Spec.Http[len(vs.Spec.Http)-1]
	require.Len(t, def.Route, 2)
	assert.Equal(t, "cluster-a", def.Route[0].Destination.Subset)
	assert.Equal(t, int32(90), def.Route[0].Weight)
	assert.Equal(t, int32(10), def.Route[1].Weight)

	aware := strict
	aware.Spec.Failover.HealthAware = true
	b = bundle(t, lowerOK(t, aware), "a")
	lbs := get[*networkingv1.DestinationRule](t, b, "reviews").Spec.TrafficPolicy.LoadBalancer.LocalityLbSetting
	assert.True(t, lbs.Enabled.GetValue())
	require.Len(t, lbs.Distribute, 1)
	assert.Equal(t, map[string]uint32{"r1/z1/*": 90, "r1/z2/*": 10}, lbs.Distribute[0].To)
}

func TestLocalityWeightsSumTo100(t *testing.T) {
	in := base(intent.ModeWeighted, cl("a", "r1", "z1"), cl("b", "r1", "z2"), cl("c", "r1", "z3"))
	in.Spec.Failover.HealthAware = true
	in.Spec.Clusters[0].Weight, in.Spec.Clusters[1].Weight, in.Spec.Clusters[2].Weight = u(33), u(33), u(34)
	in.Spec.Clusters[2].Endpoints = 7
	lbs := get[*networkingv1.DestinationRule](t, bundle(t, lowerOK(t, in), "a"), "reviews").Spec.TrafficPolicy.LoadBalancer.LocalityLbSetting
	sum := uint32(0)
	for _, v := range lbs.Distribute[0].To {
		sum += v
	}
	assert.Equal(t, uint32(100), sum)
}

func TestEnvoyFilterKnobs(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*intent.Intent)
		want   []string // patched top-level Envoy cluster fields, one per patch
		gated  []bool
	}{
		{name: "none needed", mutate: func(*intent.Intent) {}},
		{name: "failure percentage", mutate: func(in *intent.Intent) {
			in.Spec.Detection.FailurePercentage = &intent.FailurePercentage{Threshold: 50, MinimumHosts: 1, RequestVolume: 20}
		}, want: []string{"outlier_detection"}, gated: []bool{false}},
		{name: "always eject one below 100 percent", mutate: func(in *intent.Intent) {
			in.Spec.Detection.MaxEjectionPercent = 50
		}, want: []string{"outlier_detection"}, gated: []bool{true}},
		// Envoy takes an EDS cluster's overprovisioning factor from EDS,
		// which Istio sends without a policy: a CDS patch would claim a
		// strict standby it does not give (the router filter holds it).
		{name: "active/standby needs no patch", mutate: func(in *intent.Intent) {
			in.Spec.Failover.Mode = intent.ModeActiveStandby
			in.Spec.Clusters[0].Weight, in.Spec.Clusters[1].Weight = u(100), u(0)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
			in.Spec.Entry.Clients = map[string]string{"app": "productpage"}
			tc.mutate(&in)
			b := bundle(t, lowerOK(t, in), "east")
			var efs []*networkingv1alpha3.EnvoyFilter
			for _, o := range b.Objects {
				if ef, ok := o.(*networkingv1alpha3.EnvoyFilter); ok {
					efs = append(efs, ef)
				}
			}
			if tc.want == nil {
				assert.Empty(t, efs)
				return
			}
			require.Len(t, efs, 1)
			require.NotNil(t, efs[0].Spec.WorkloadSelector, "scoped to the clients the intent names")
			assert.Equal(t, map[string]string{"app": "productpage"}, efs[0].Spec.WorkloadSelector.Labels)
			ps := efs[0].Spec.ConfigPatches
			// Then one patch per probe subset that puts every threshold out of reach (probe.go).
			require.Len(t, ps, len(tc.want)+2)
			for _, p := range ps[len(tc.want):] {
				assert.Contains(t, []string{ProbeSubset("east"), ProbeSubset("west")}, p.Match.GetCluster().GetSubset())
				od := p.Patch.Value.Fields["outlier_detection"].GetStructValue()
				require.NotNil(t, od)
				for k, v := range od.Fields {
					assert.Equal(t, float64(math.MaxUint32), v.GetNumberValue(), k)
				}
			}
			ps = ps[:len(tc.want)]
			for i, p := range ps {
				assert.Equal(t, "CLUSTER", p.ApplyTo.String())
				assert.Equal(t, "MERGE", p.Patch.Operation.String())
				assert.Equal(t, "SIDECAR_OUTBOUND", p.Match.Context.String())
				assert.Equal(t, "reviews.bookinfo.svc.cluster.local", p.Match.GetCluster().Service)
				assert.Contains(t, p.Patch.Value.Fields, tc.want[i])
				assert.Equal(t, tc.gated[i], p.Match.Proxy != nil)
			}
		})
	}
}

func TestPluginsDisabled(t *testing.T) {
	in := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
	in.Spec.Plugins.Enabled = false
	in.Spec.Retries.Methods = nil
	b := bundle(t, lowerOK(t, in), "east")
	assert.Empty(t, filter(kinds(b), "WasmPlugin/"))
	vs := get[*networkingv1.VirtualService](t, b, "reviews")
	require.Len(t, vs.Spec.Http, 1, "no header routes, no retried variant without methods")
	assert.Equal(t, "default", vs.Spec.Http[0].Name)
	assert.Empty(t, get[*networkingv1.DestinationRule](t, b, "reviews").Spec.Subsets)
}

func TestSubsetsFailOverToTheSameSubset(t *testing.T) {
	in := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
	in.Spec.Subsets = []intent.Subset{{Name: "v1", Labels: map[string]string{"version": "v1"}}, {Name: "v2", Labels: map[string]string{"version": "v2"}}}
	b := bundle(t, lowerOK(t, in), "east")
	assert.Equal(t, []string{"WorkloadEntry/reviews-west-v1", "WorkloadEntry/reviews-west-v2"}, filter(kinds(b), "WorkloadEntry/"))
	assert.Equal(t, "v2", get[*networkingv1.WorkloadEntry](t, b, "reviews-west-v2").Spec.Labels["version"])
	dr := get[*networkingv1.DestinationRule](t, b, "reviews")
	assert.Equal(t, "v1", dr.Spec.Subsets[0].Name)
	assert.Equal(t, map[string]string{"version": "v2"}, dr.Spec.Subsets[1].Labels)
}

func TestEdge(t *testing.T) {
	in := base(intent.ModeNamed, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
	in.Spec.Failover.Order = []string{"west", "east"}
	in.Spec.Entry = intent.Entry{Kind: "edge", Edge: &intent.Edge{
		Hosts: []string{"shop.example.com"}, GatewaySelector: map[string]string{"app": "edgegw"}, Port: 443, CredentialName: "shop-tls",
	}}
	bs, err := Lower(in, Options{WasmURL: "oci://example.com/f:1", WasmSHA256: "ab"})
	require.NoError(t, err)
	require.Len(t, bs, 3)
	assert.Equal(t, EdgeTarget, bs[0].Target, "edge first")
	edge := bs[0]
	assert.Equal(t, []string{"Gateway/reviews-eastwest"}, kinds(bundle(t, bs, "east")), "workload clusters only export")

	gw := get[*networkingv1.Gateway](t, edge, "reviews-edge")
	assert.Equal(t, "SIMPLE", gw.Spec.Servers[0].Tls.Mode.String())
	assert.Equal(t, "shop-tls", gw.Spec.Servers[0].Tls.CredentialName)
	assert.Equal(t, "HTTPS", gw.Spec.Servers[0].Port.Protocol)
	assert.Equal(t, "edge", gw.Labels[LabelTarget])

	se := get[*networkingv1.ServiceEntry](t, edge, "reviews")
	assert.Equal(t, "STATIC", se.Spec.Resolution.String())
	assert.Equal(t, map[string]string{LabelService: "reviews"}, se.Spec.WorkloadSelector.Labels)

	vs := get[*networkingv1.VirtualService](t, edge, "reviews-edge")
	assert.Equal(t, []string{"shop.example.com"}, vs.Spec.Hosts)
	assert.Equal(t, []string{"bookinfo/reviews-edge"}, vs.Spec.Gateways)
	assert.Equal(t, "cluster-west-retry", vs.Spec.Http[0].Name, "named order")

	dr := get[*networkingv1.DestinationRule](t, edge, "reviews")
	assert.Equal(t, []string{"detour.dev/tier-le-0=true"}, dr.Spec.TrafficPolicy.LoadBalancer.LocalityLbSetting.FailoverPriority)
	assert.Equal(t, "true", get[*networkingv1.WorkloadEntry](t, edge, "reviews-west").Spec.Labels["detour.dev/tier-le-0"])
	assert.NotContains(t, get[*networkingv1.WorkloadEntry](t, edge, "reviews-east").Spec.Labels, "detour.dev/tier-le-0")

	wp := get[*extensionsv1alpha1.WasmPlugin](t, edge, "reviews-detour")
	assert.Equal(t, map[string]string{"app": "edgegw"}, wp.Spec.Selector.MatchLabels)
	assert.Equal(t, "oci://example.com/f:1", wp.Spec.Url)
	assert.Equal(t, "ab", wp.Spec.Sha256)
	assert.NotContains(t, wp.Spec.PluginConfig.Fields, "local")

	in.Spec.Clusters[1].EastWestGateway.Address = "ew.west.example.com"
	bs = lowerOK(t, in)
	assert.Equal(t, "DNS", get[*networkingv1.ServiceEntry](t, bs[0], "reviews").Spec.Resolution.String(), "a host name needs DNS resolution")
}

func TestPluginConfigValid(t *testing.T) {
	as := base(intent.ModeActiveStandby, cl("a", "r1", "z1"), cl("b", "r2", "z2"), cl("c", "r2", "z3"))
	as.Spec.Clusters[0].Weight, as.Spec.Clusters[1].Weight, as.Spec.Clusters[2].Weight = u(100), u(0), u(0)
	for _, b := range lowerOK(t, as) {
		wp := get[*extensionsv1alpha1.WasmPlugin](t, b, "reviews-detour")
		raw, err := wp.Spec.PluginConfig.MarshalJSON()
		require.NoError(t, err)
		c, err := config.Parse(raw)
		require.NoError(t, err)
		require.Len(t, c.Targets, 3)
		assert.Equal(t, config.Target{Cluster: "a", Priority: 0, Weight: 100, Region: "r1", Zone: "z1"}, c.Targets[0])
		assert.True(t, c.Targets[1].Standby)
		assert.Equal(t, uint32(50), c.Targets[1].Weight, "standbys share their tier")
		assert.Equal(t, uint32(1000), c.Retry.PerTryTimeoutMs)
	}
}

// TestLatencyLowered: detection.latency reaches the filters in whole
// milliseconds; without it the configuration carries none.
func TestLatencyLowered(t *testing.T) {
	in := base(intent.ModeAuto, cl("a", "r1", "z1"), cl("b", "r2", "z2"))
	cross := intent.Duration{Duration: 40 * time.Millisecond}
	in.Spec.Detection.Latency = &intent.LatencyDetection{
		P99: intent.Duration{Duration: 300 * time.Millisecond}, Window: intent.Duration{Duration: 10 * time.Second},
		MinRequests: 20, CrossRegion: &cross,
	}
	parse := func(in intent.Intent) config.Config {
		b := lowerOK(t, in)[0]
		raw, err := get[*extensionsv1alpha1.WasmPlugin](t, b, "reviews-detour").Spec.PluginConfig.MarshalJSON()
		require.NoError(t, err)
		c, err := config.Parse(raw)
		require.NoError(t, err)
		return c
	}
	c := parse(in)
	require.NotNil(t, c.Detection.Latency)
	assert.Equal(t, config.Latency{P99Ms: 300, WindowMs: 10000, MinRequests: 20, CrossRegionMs: 40}, *c.Detection.Latency)
	in.Spec.Detection.Latency.CrossRegion = nil
	assert.Equal(t, uint32(0), parse(in).Detection.Latency.CrossRegionMs)
	in.Spec.Detection.Latency = nil
	assert.Nil(t, parse(in).Detection.Latency)
}

func TestLowerErrors(t *testing.T) {
	in := base(intent.ModeAuto)
	_, err := Lower(in, Options{})
	assert.ErrorContains(t, err, "bookinfo/reviews: spec.clusters: at least one cluster")
	in = base(intent.ModeAuto, cl("a", "r", "z"), cl("b", "r", "z"))
	in.Spec.Entry.Kind = "edge"
	_, err = Lower(in, Options{})
	assert.ErrorContains(t, err, "spec.entry.edge: must be set")
}

// TestSubsetPlacement: a subset that runs in some clusters only gets
// WorkloadEntries there only, so its traffic never fails over to a cluster
// whose east-west gateway has no such pods.
func TestSubsetPlacement(t *testing.T) {
	in := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
	in.Spec.Subsets = []intent.Subset{
		{Name: "v1", Labels: map[string]string{"version": "v1"}},
		{Name: "v2", Labels: map[string]string{"version": "v2"}, Clusters: []string{"west"}},
	}
	bs := lowerOK(t, in)
	assert.Equal(t, []string{"WorkloadEntry/reviews-west-v1", "WorkloadEntry/reviews-west-v2"}, filter(kinds(bundle(t, bs, "east")), "WorkloadEntry/"))
	assert.Equal(t, []string{"WorkloadEntry/reviews-east-v1"}, filter(kinds(bundle(t, bs, "west")), "WorkloadEntry/"), "v2 does not run in east")
}

// TestGRPCRetries: every gRPC call is a POST, so a method match would never
// retry one. Without the opt-in nothing is retried; with it every call is,
// on the gRPC conditions listed.
func TestGRPCRetries(t *testing.T) {
	in := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
	in.Spec.Service.Protocol = "GRPC"
	in.Spec.Plugins.Enabled = false
	in.Spec.Retries.RetryOn = []string{"unavailable", "cancelled"}
	vs := get[*networkingv1.VirtualService](t, bundle(t, lowerOK(t, in), "east"), "reviews")
	require.Len(t, vs.Spec.Http, 1)
	assert.Zero(t, vs.Spec.Http[0].Retries.Attempts, "no opt-in: no retries")

	in.Spec.Retries.NonIdempotent = true
	vs = get[*networkingv1.VirtualService](t, bundle(t, lowerOK(t, in), "east"), "reviews")
	require.Len(t, vs.Spec.Http, 1)
	r := vs.Spec.Http[0]
	assert.Equal(t, "default-retry", r.Name)
	assert.Empty(t, r.Match, "no method match: every call is a POST")
	assert.Equal(t, "unavailable,cancelled", r.Retries.RetryOn)
	assert.Positive(t, r.Retries.Attempts)
}

// TestReviewedExceptionsFollowTheIntent: the policies check the intent and
// the compiled resources with the same rule ids, so a reviewed exception on
// the intent is carried to every object compiled from it.
func TestReviewedExceptionsFollowTheIntent(t *testing.T) {
	in := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
	in.Metadata.Annotations = map[string]string{AnnotationExcept: "retry_non_idempotent", AnnotationExceptReason: "idempotency keys", "team": "payments"}
	for _, o := range bundle(t, lowerOK(t, in), "east").Objects {
		a := o.GetAnnotations()
		assert.Equal(t, "retry_non_idempotent", a[AnnotationExcept], o.GetName())
		assert.Equal(t, "idempotency keys", a[AnnotationExceptReason], o.GetName())
		assert.NotContains(t, a, "team", "only the policy annotations")
	}
}
