package lower

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"istio.io/api/networking/v1alpha3"
	extensionsv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/detour-mesh/detour/compiler/explain"
	"github.com/detour-mesh/detour/compiler/intent"
)

// TestFQDN: the service's host defaults to the intent's name and its
// cluster domain to cluster.local; either given wins.
func TestFQDN(t *testing.T) {
	tests := []struct {
		host, domain, want string
	}{
		{"", "", "reviews.bookinfo.svc.cluster.local"},
		{"ratings", "", "ratings.bookinfo.svc.cluster.local"},
		{"", "corp.example", "reviews.bookinfo.svc.corp.example"},
		{"ratings", "corp.example", "ratings.bookinfo.svc.corp.example"},
	}
	for _, tc := range tests {
		in := base(intent.ModeAuto)
		in.Spec.Service.Host, in.Spec.Service.ClusterDomain = tc.host, tc.domain
		assert.Equal(t, tc.want, FQDN(in), "host %q domain %q", tc.host, tc.domain)
	}
}

// TestEdgeExtensionsInTheGatewayNamespace: an edge gateway in another
// namespace gets the WasmPlugins in its own namespace (Istio applies a
// selector to its namespace's pods only), named after the intent's
// namespace too; a gateway in the intent's namespace changes nothing.
func TestEdgeExtensionsInTheGatewayNamespace(t *testing.T) {
	tests := []struct {
		gatewayNamespace string
		wantName, wantNS string
		wantLabel        bool
	}{
		{"", "reviews-detour", "bookinfo", false},
		{"bookinfo", "reviews-detour", "bookinfo", false},
		{"istio-ingress", "bookinfo.reviews-detour", "istio-ingress", true},
	}
	for _, tc := range tests {
		t.Run(tc.gatewayNamespace, func(t *testing.T) {
			in := base(intent.ModeNamed, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
			in.Spec.Failover.Order = []string{"east", "west"}
			in.Spec.Entry = intent.Entry{Kind: "edge", Edge: &intent.Edge{
				Hosts: []string{"shop.example.com"}, GatewaySelector: map[string]string{"app": "edgegw"}, Port: 443,
				CredentialName: "shop-tls", GatewayNamespace: tc.gatewayNamespace,
			}}
			edge := bundle(t, lowerOK(t, in), EdgeTarget)
			wp := get[*extensionsv1alpha1.WasmPlugin](t, edge, tc.wantName)
			assert.Equal(t, tc.wantNS, wp.Namespace)
			if tc.wantLabel {
				assert.Equal(t, "bookinfo", wp.Labels[LabelIntentNamespace])
			} else {
				assert.NotContains(t, wp.Labels, LabelIntentNamespace)
			}
		})
	}
}

// TestEdgeLadderAuto: auto at the edge puts every cluster on one tier,
// shared by endpoint count; a cluster with no count given weighs one.
func TestEdgeLadderAuto(t *testing.T) {
	tests := []struct {
		endpoints [3]uint32
		want      []float64
	}{
		{[3]uint32{3, 1, 0}, []float64{60, 20, 20}},
		{[3]uint32{0, 0, 0}, []float64{100.0 / 3, 100.0 / 3, 100.0 / 3}},
		{[3]uint32{2, 2, 4}, []float64{25, 25, 50}},
	}
	for _, tc := range tests {
		in := base(intent.ModeAuto, cl("a", "r1", "z1"), cl("b", "r2", "z2"), cl("c", "r3", "z3"))
		for i := range in.Spec.Clusters {
			in.Spec.Clusters[i].Endpoints = tc.endpoints[i]
		}
		lad := edgeLadder(in)
		require.Len(t, lad.Tiers, 1, "one tier")
		var got []float64
		for _, s := range lad.Tiers[0].Clusters {
			got = append(got, s.Percent)
		}
		assert.InDeltaSlice(t, tc.want, got, 1e-9, "endpoints %v", tc.endpoints)
	}
}

// TestEastWestGatewayPort: the export listens on the cluster's east-west
// gateway port, Istio's 15443 when none is given.
func TestEastWestGatewayPort(t *testing.T) {
	for _, tc := range []struct{ port, want uint32 }{{0, 15443}, {16443, 16443}} {
		in := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
		in.Spec.Clusters[0].EastWestGateway.Port = tc.port
		gw := get[*networkingv1.Gateway](t, bundle(t, lowerOK(t, in), "east"), "reviews-eastwest")
		assert.Equal(t, tc.want, gw.Spec.Servers[0].Port.Number)
	}
}

// TestShortLabel: a name up to a DNS label's 63 characters is kept; a
// longer one is cut to exactly 63, ending with a dash and ten hex digits of
// its hash, its cut end trimmed of dashes and dots.
func TestShortLabel(t *testing.T) {
	s63 := strings.Repeat("a", 63)
	long := strings.Repeat("b", 70)
	sum := sha256.Sum256([]byte(long))
	h := hex.EncodeToString(sum[:])[:10]
	dashes := strings.Repeat("c", 50) + "--.-" + strings.Repeat("d", 20)
	dsum := sha256.Sum256([]byte(dashes))
	tests := []struct{ name, want string }{
		{"reviews-eastwest", "reviews-eastwest"},
		{s63, s63},
		{long, strings.Repeat("b", 52) + "-" + h},
		// cut at 52: "ccc…c--" loses its trailing dashes
		{dashes, strings.Repeat("c", 50) + "-" + hex.EncodeToString(dsum[:])[:10]},
	}
	for _, tc := range tests {
		got := shortLabel(tc.name)
		assert.Equal(t, tc.want, got, "len %d", len(tc.name))
		assert.LessOrEqual(t, len(got), 63)
	}
	assert.NotEqual(t, shortLabel(s63+"x"), shortLabel(s63+"y"), "distinct names stay distinct")
}

// TestEdgeTierLabels: at the edge a named order of three tiers is
// expressed as failoverPriority [tier-le-1, tier-le-0]; each cluster's
// WorkloadEntry carries tier-le-m for every m from its tier to the
// second-to-last, and nothing more.
func TestEdgeTierLabels(t *testing.T) {
	in := base(intent.ModeNamed, cl("a", "r1", "z1"), cl("b", "r2", "z2"), cl("c", "r3", "z3"))
	in.Spec.Failover.Order = []string{"c", "b", "a"}
	in.Spec.Entry = intent.Entry{Kind: "edge", Edge: &intent.Edge{
		Hosts: []string{"shop.example.com"}, GatewaySelector: map[string]string{"app": "edgegw"}, Port: 443, CredentialName: "shop-tls",
	}}
	edge := bundle(t, lowerOK(t, in), EdgeTarget)
	dr := get[*networkingv1.DestinationRule](t, edge, "reviews")
	assert.Equal(t, []string{"detour.dev/tier-le-1=true", "detour.dev/tier-le-0=true"},
		dr.Spec.TrafficPolicy.LoadBalancer.LocalityLbSetting.FailoverPriority)
	tiers := func(name string) []string {
		var out []string
		for k := range get[*networkingv1.WorkloadEntry](t, edge, name).Spec.Labels {
			if strings.HasPrefix(k, "detour.dev/tier-le-") {
				out = append(out, k)
			}
		}
		sort.Strings(out)
		return out
	}
	assert.Equal(t, []string{"detour.dev/tier-le-0", "detour.dev/tier-le-1"}, tiers("reviews-c"))
	assert.Equal(t, []string{"detour.dev/tier-le-1"}, tiers("reviews-b"))
	assert.Empty(t, tiers("reviews-a"))
}

// TestConnectTimeout: the connect timeout is the per-try timeout capped at
// one second; without a per-try timeout it is one second.
func TestConnectTimeout(t *testing.T) {
	for _, tc := range []struct{ perTry, want time.Duration }{
		{0, time.Second}, {time.Millisecond, time.Millisecond}, {500 * time.Millisecond, 500 * time.Millisecond},
		{time.Second, time.Second}, {time.Second + time.Millisecond, time.Second}, {10 * time.Second, time.Second},
	} {
		got := connectTimeout(intent.Retries{PerTryTimeout: intent.Duration{Duration: tc.perTry}})
		assert.Equal(t, tc.want, got, "per try %s", tc.perTry)
	}
}

// TestLocalityWeightsLargestRemainder: the tier-0 split rounds down and
// the points left go to the largest remainders (not the largest shares),
// ties to the first locality by name.
func TestLocalityWeightsLargestRemainder(t *testing.T) {
	in := base(intent.ModeWeighted, cl("a", "r1", "z1"), cl("b", "r1", "z2"), cl("c", "r1", "z3"))
	tier := func(pa, pb, pc float64) explain.Ladder {
		return explain.Ladder{Tiers: []explain.Tier{{Clusters: []explain.Share{
			{Cluster: "a", Percent: pa}, {Cluster: "b", Percent: pb}, {Cluster: "c", Percent: pc}}}}}
	}
	tests := []struct {
		name    string
		lad     explain.Ladder
		a, b, c uint32
	}{
		{"the point goes to the largest remainder, not the largest share", tier(10.6, 20.2, 69.2), 11, 20, 69},
		{"two points: the two largest remainders", tier(10.5, 20.7, 68.8), 10, 21, 69},
		{"a tie goes to the first by name", tier(100.0/3, 100.0/3, 100.0/3), 34, 33, 33},
		{"whole shares are kept", tier(20, 30, 50), 20, 30, 50},
	}
	for _, tc := range tests {
		got := localityWeights(in, tc.lad)
		assert.Equal(t, map[string]uint32{"r1/z1/*": tc.a, "r1/z2/*": tc.b, "r1/z3/*": tc.c}, got, tc.name)
	}
	assert.Nil(t, localityWeights(in, explain.Ladder{}), "no tier, no weights")
}

// TestFixWeights: rounded weights that miss 100 are made up on the first
// destination (Istio requires a sum of 100).
func TestFixWeights(t *testing.T) {
	for _, tc := range []struct{ in, want []int32 }{
		{[]int32{33, 33, 33}, []int32{34, 33, 33}},
		{[]int32{34, 33, 34}, []int32{33, 33, 34}},
		{[]int32{50, 50}, []int32{50, 50}},
		{nil, nil},
	} {
		var d []*v1alpha3.HTTPRouteDestination
		for _, w := range tc.in {
			d = append(d, &v1alpha3.HTTPRouteDestination{Weight: w})
		}
		fixWeights(d)
		var got []int32
		for _, x := range d {
			got = append(got, x.Weight)
		}
		assert.Equal(t, tc.want, got, "%v", tc.in)
	}
}

// TestRouteTimeout: the intent's request timeout is every route's; without
// one the routes carry none (Istio's default), not an explicit 0s.
func TestRouteTimeout(t *testing.T) {
	for _, tc := range []struct {
		timeout time.Duration
		want    *time.Duration
	}{{0, nil}, {5 * time.Second, new(5 * time.Second)}} {
		in := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
		in.Spec.Retries.Timeout = intent.Duration{Duration: tc.timeout}
		vs := get[*networkingv1.VirtualService](t, bundle(t, lowerOK(t, in), "east"), "reviews")
		require.NotEmpty(t, vs.Spec.Http)
		for _, r := range vs.Spec.Http {
			if tc.want == nil {
				assert.Nil(t, r.Timeout, r.Name)
				continue
			}
			require.NotNil(t, r.Timeout, r.Name)
			assert.Equal(t, *tc.want, r.Timeout.AsDuration(), r.Name)
		}
	}
}

// TestRetryBackoff: the retried route carries the intent's back-off base;
// without one, none (Envoy's 25 ms default), not an explicit 0s.
func TestRetryBackoff(t *testing.T) {
	for _, base := range []time.Duration{0, 50 * time.Millisecond} {
		in := withBackoff(base)
		vs := get[*networkingv1.VirtualService](t, bundle(t, lowerOK(t, in), "east"), "reviews")
		r := vs.Spec.Http[0]
		require.NotNil(t, r.Retries, r.Name)
		if base == 0 {
			assert.Nil(t, r.Retries.Backoff, r.Name)
			continue
		}
		require.NotNil(t, r.Retries.Backoff, r.Name)
		assert.Equal(t, base, r.Retries.Backoff.AsDuration())
	}
}

func withBackoff(backoff time.Duration) intent.Intent {
	in := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
	in.Spec.Retries.Backoff.Base = intent.Duration{Duration: backoff}
	return in
}

// TestEdgeTierLabelsActiveStandby: active/standby at the edge is a ladder
// too: the active cluster's WorkloadEntry carries the first tier's label.
func TestEdgeTierLabelsActiveStandby(t *testing.T) {
	in := base(intent.ModeActiveStandby, cl("a", "r1", "z1"), cl("b", "r2", "z2"))
	in.Spec.Clusters[0].Weight, in.Spec.Clusters[1].Weight = u(100), u(0)
	in.Spec.Entry = intent.Entry{Kind: "edge", Edge: &intent.Edge{
		Hosts: []string{"shop.example.com"}, GatewaySelector: map[string]string{"app": "edgegw"}, Port: 443, CredentialName: "shop-tls",
	}}
	edge := bundle(t, lowerOK(t, in), EdgeTarget)
	assert.Equal(t, "true", get[*networkingv1.WorkloadEntry](t, edge, "reviews-a").Spec.Labels["detour.dev/tier-le-0"])
	assert.NotContains(t, get[*networkingv1.WorkloadEntry](t, edge, "reviews-b").Spec.Labels, "detour.dev/tier-le-0")
}
