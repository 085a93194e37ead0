package lower

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/plugins/config"
)

func dest(subset string, weight int32) *v1alpha3.HTTPRouteDestination {
	return &v1alpha3.HTTPRouteDestination{Destination: &v1alpha3.Destination{Host: "reviews.bookinfo.svc.cluster.local", Subset: subset}, Weight: weight}
}

var (
	testers = &v1alpha3.HTTPRoute{
		Name: "testers",
		Match: []*v1alpha3.HTTPMatchRequest{{Headers: map[string]*v1alpha3.StringMatch{
			"end-user": {MatchType: &v1alpha3.StringMatch_Exact{Exact: "jason"}},
		}}},
		Route:   []*v1alpha3.HTTPRouteDestination{dest("v2", 0)},
		Rewrite: &v1alpha3.HTTPRewrite{Uri: "/reviews"},
	}
	canary = &v1alpha3.HTTPRoute{Route: []*v1alpha3.HTTPRouteDestination{dest("v1", 90), dest("v2", 10)}}
)

// routeLine summarises a compiled route: name, the router filter's header
// it requires, whether it retries, and its destinations.
func routeLine(r *v1alpha3.HTTPRoute) string {
	hdr := "*"
	for _, m := range r.Match {
		if h := m.Headers[config.HeaderCluster]; h != nil {
			hdr = h.GetExact()
		}
	}
	var to []string
	for _, d := range r.Route {
		s := d.Destination.Subset
		if d.Weight != 0 {
			s += fmt.Sprintf(" %d", d.Weight)
		}
		to = append(to, s)
	}
	return fmt.Sprintf("%s [%s] retries=%d -> %s", r.Name, hdr, r.Retries.GetAttempts(), strings.Join(to, ", "))
}

// TestComposedRoutes: the team's routes come before Detour's own, once per
// ladder cluster pinned to the router filter's header (subsets narrowed to
// that cluster where they run there) and once as written, each with the
// intent's retries and timeout; a team route without a match replaces
// Detour's routes it would shadow.
func TestComposedRoutes(t *testing.T) {
	subsets := []intent.Subset{
		{Name: "v1", Labels: map[string]string{"version": "v1"}},
		{Name: "v2", Labels: map[string]string{"version": "v2"}, Clusters: []string{"east"}},
	}
	tests := []struct {
		name    string
		routes  []*v1alpha3.HTTPRoute
		plugins bool
		want    []string
	}{
		{"a match, then Detour's routes", []*v1alpha3.HTTPRoute{testers}, true, []string{
			"testers-cluster-east-retry [east] retries=2 -> v2-cluster-east",
			"testers-cluster-east [east] retries=0 -> v2-cluster-east",
			"cluster-east-retry [east] retries=2 -> cluster-east",
			"cluster-east [east] retries=0 -> cluster-east",
			// v2 does not run in west: the route keeps v2 across clusters.
			"testers-cluster-west-retry [west] retries=2 -> v2",
			"testers-cluster-west [west] retries=0 -> v2",
			"cluster-west-retry [west] retries=2 -> cluster-west",
			"cluster-west [west] retries=0 -> cluster-west",
			"testers-retry [*] retries=2 -> v2",
			"testers [*] retries=0 -> v2",
			"default-retry [*] retries=2 -> ",
			"default [*] retries=0 -> ",
		}},
		{"a catch-all canary replaces Detour's routes", []*v1alpha3.HTTPRoute{testers, canary}, true, []string{
			"testers-cluster-east-retry [east] retries=2 -> v2-cluster-east",
			"testers-cluster-east [east] retries=0 -> v2-cluster-east",
			"team-1-cluster-east-retry [east] retries=2 -> v1-cluster-east 90, v2-cluster-east 10",
			"team-1-cluster-east [east] retries=0 -> v1-cluster-east 90, v2-cluster-east 10",
			"testers-cluster-west-retry [west] retries=2 -> v2",
			"testers-cluster-west [west] retries=0 -> v2",
			"team-1-cluster-west-retry [west] retries=2 -> v1-cluster-west 90, v2 10",
			"team-1-cluster-west [west] retries=0 -> v1-cluster-west 90, v2 10",
			"testers-retry [*] retries=2 -> v2",
			"testers [*] retries=0 -> v2",
			"team-1-retry [*] retries=2 -> v1 90, v2 10",
			"team-1 [*] retries=0 -> v1 90, v2 10",
		}},
		{"without the filters, as written", []*v1alpha3.HTTPRoute{testers}, false, []string{
			"testers-retry [*] retries=2 -> v2",
			"testers [*] retries=0 -> v2",
			"default-retry [*] retries=2 -> ",
			"default [*] retries=0 -> ",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := base(intent.ModeAuto, cl("east", "r1", "z1"), cl("west", "r2", "z2"))
			in.Spec.Subsets = subsets
			in.Spec.Plugins.Enabled = tc.plugins
			in.Spec.Compose = &intent.Compose{VirtualService: "team.yaml", Routes: tc.routes}
			b := bundle(t, lowerOK(t, in), "east")
			vs := get[*networkingv1.VirtualService](t, b, "reviews")
			var got []string
			for _, r := range vs.Spec.Http {
				got = append(got, routeLine(r))
				assert.Equal(t, "5s", r.Timeout.AsDuration().String(), "%s: the intent's timeout", r.Name)
				if strings.HasPrefix(r.Name, "testers") {
					assert.Equal(t, "/reviews", r.Rewrite.GetUri(), "%s: the team's rewrite is kept", r.Name)
					assert.Equal(t, "jason", r.Match[0].Headers["end-user"].GetExact(), "%s: the team's match is kept", r.Name)
				}
				if strings.HasSuffix(r.Name, "-retry") {
					assert.Equal(t, "^(GET|HEAD)$", r.Match[0].Method.GetRegex(), "%s: retried for the intent's methods only", r.Name)
					assert.True(t, r.Retries.RetryRemoteLocalities.GetValue(), "%s", r.Name)
				}
			}
			assert.Equal(t, tc.want, got)
			// The team's routes are not changed by lowering.
			assert.Equal(t, "v2", testers.Route[0].Destination.Subset)
			assert.Len(t, testers.Match[0].Headers, 1)

			var pinned []string
			dr := get[*networkingv1.DestinationRule](t, b, "reviews")
			for _, s := range dr.Spec.Subsets {
				if strings.HasPrefix(s.Name, "v1-") || strings.HasPrefix(s.Name, "v2-") {
					lb := s.TrafficPolicy.GetLoadBalancer().GetLocalityLbSetting()
					assert.True(t, lb.GetEnabled().GetValue(), s.Name)
					pinned = append(pinned, fmt.Sprintf("%s %v first %v", s.Name, s.Labels, lb.GetFailoverPriority()))
				}
			}
			if !tc.plugins {
				assert.Empty(t, pinned)
				return
			}
			// The subset's pods in the pinned cluster first, then the
			// subset's pods elsewhere. v2 runs in east only.
			want := []string{"v2-cluster-east map[version:v2] first [topology.istio.io/network=net-east]"}
			if len(tc.routes) > 1 {
				want = []string{
					"v1-cluster-east map[version:v1] first [topology.istio.io/network=net-east]",
					"v1-cluster-west map[version:v1] first [detour.dev/cluster=west]",
					"v2-cluster-east map[version:v2] first [topology.istio.io/network=net-east]",
				}
			}
			assert.Equal(t, want, pinned)
		})
	}
}

// TestComposedStrictSplit: a strict split has no failover, so a pinned
// subset holds the cluster's pods of the version only.
func TestComposedStrictSplit(t *testing.T) {
	east, west := cl("east", "r1", "z1"), cl("west", "r2", "z2")
	east.Weight, west.Weight = u(90), u(10)
	in := base(intent.ModeWeighted, east, west)
	in.Spec.Subsets = []intent.Subset{{Name: "v2", Labels: map[string]string{"version": "v2"}}}
	in.Spec.Compose = &intent.Compose{VirtualService: "team.yaml", Routes: []*v1alpha3.HTTPRoute{testers}}
	dr := get[*networkingv1.DestinationRule](t, bundle(t, lowerOK(t, in), "east"), "reviews")
	var got []string
	for _, s := range dr.Spec.Subsets {
		if strings.HasPrefix(s.Name, "v2-") {
			assert.Nil(t, s.TrafficPolicy, s.Name)
			got = append(got, fmt.Sprintf("%s %v", s.Name, s.Labels))
		}
	}
	assert.Equal(t, []string{
		"v2-cluster-east map[topology.istio.io/network:net-east version:v2]",
		"v2-cluster-west map[detour.dev/cluster:west version:v2]",
	}, got)
}
