package drills

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/detour-mesh/detour/compiler"
	"github.com/detour-mesh/detour/compiler/load"
	"github.com/detour-mesh/detour/compiler/lower"
	"github.com/detour-mesh/detour/harness/simulator/report"
	"github.com/detour-mesh/detour/harness/simulator/sim"
	"github.com/detour-mesh/detour/harness/simulator/xds"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen/input"
	"github.com/detour-mesh/detour/plugins/module"
)

// The alternative to the router's host-aware spill that RATIONALE.md
// ("Host-aware spill") measured and did not take: each target subset
// selects every endpoint of the service and puts the target's own first
// (failoverPriority with an explicit value, as the pinned version subsets
// already do), so Envoy spills by priority load inside the subset the
// router picked; the router then trusts Envoy and gives every target its
// whole share (router.HostShare is 1). Built here, not in the product:
// the compiled DestinationRules are rewritten before Istio's generator
// sees them, and the module is built with a build overlay.

// spillVariantDir writes the scenario's compiled configuration with the
// target subsets rewritten, one <cluster>.yaml per target (Options.Istio).
// With ordered, the clusters after the target keep Istio's locality order
// (nearest first) instead of sharing one priority: Istio composes
// failoverPriority with its locality failover only when the failover list
// is not empty (ApplyLocalityLoadBalancer, pilot/pkg/networking/core/
// loadbalancer/loadbalancer.go), so the list gets one entry from a region
// no proxy is in, which changes no priority of its own.
func spillVariantDir(t testing.TB, sc *sim.Scenario, ordered bool) string {
	t.Helper()
	srcs, err := load.Paths(sc.Intent)
	require.NoError(t, err)
	require.Len(t, srcs, 1)
	in := srcs[0].Intent
	bundles, err := lower.Lower(in, lower.Options{})
	require.NoError(t, err)
	targets := map[string]bool{}
	for _, c := range in.Spec.Clusters {
		targets[lower.ClusterSubset(c.Name)] = true
	}
	dir := t.TempDir()
	rewritten := 0
	for _, b := range bundles {
		for _, o := range b.Objects {
			dr, ok := o.(*networkingv1.DestinationRule)
			if !ok {
				continue
			}
			for _, sub := range dr.Spec.Subsets {
				if !targets[sub.Name] {
					continue
				}
				require.Len(t, sub.Labels, 1, "%s: subset %s selects by one label", b.Target, sub.Name)
				var prio []string
				for k, v := range sub.Labels {
					prio = append(prio, k+"="+v)
				}
				sub.Labels = nil
				if sub.TrafficPolicy == nil {
					sub.TrafficPolicy = &v1alpha3.TrafficPolicy{}
				}
				lb := &v1alpha3.LocalityLoadBalancerSetting{Enabled: wrapperspb.Bool(true), FailoverPriority: prio}
				if ordered {
					lb.Failover = []*v1alpha3.LocalityLoadBalancerSetting_Failover{{From: "detour-no-region", To: "detour-no-region-2"}}
				}
				sub.TrafficPolicy.LoadBalancer = &v1alpha3.LoadBalancerSettings{LocalityLbSetting: lb}
				rewritten++
			}
		}
		data, err := compiler.Render(b.Objects)
		require.NoError(t, err)
		name := b.Target
		if name == sim.EdgeTarget {
			name = "edge"
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".yaml"), data, 0o644))
	}
	require.NotZero(t, rewritten, "no target subset to rewrite")
	return dir
}

// variantFilters is the filter module with router.HostShare returning 1,
// built from this tree through a build overlay (nothing is edited).
var variantFilters = sync.OnceValues(func() (*sim.Filters, error) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		return nil, err
	}
	src := filepath.Join(root, "plugins", "router", "router.go")
	b, err := os.ReadFile(src)
	if err != nil {
		return nil, err
	}
	const fn = "func HostShare(h Health) float64 {\n"
	if !strings.Contains(string(b), fn) {
		return nil, fmt.Errorf("%s: no %q to override", src, strings.TrimSpace(fn))
	}
	tmp, err := os.MkdirTemp("", "detour-spill-variant-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	patched := filepath.Join(tmp, "router.go")
	body := strings.Replace(string(b), fn, fn+"\treturn 1\n", 1)
	if err := os.WriteFile(patched, []byte(body), 0o644); err != nil {
		return nil, err
	}
	ov, _ := json.Marshal(map[string]map[string]string{"Replace": {src: patched}})
	overlay := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlay, ov, 0o644); err != nil {
		return nil, err
	}
	out := filepath.Join(tmp, "variant.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-overlay", overlay, "-o", out, module.Package)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if o, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the variant module: %v\n%s", err, o)
	}
	w, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	return sim.LoadFilters(context.Background(), w, module.Package+" (HostShare 1)")
})

// errCaptured stops a run once entryXDS has the xDS it wants.
var errCaptured = errors.New("entry xDS captured")

// entryXDS is the xDS Istio's generator gives the scenario's entry proxy
// over the Istio directory: the run's first generation, after which the
// run stops. It is the istio run's (WasmPlugins left out), which changes
// no cluster or endpoint.
func entryXDS(t testing.TB, sc *sim.Scenario, dir string) *xds.Snapshot {
	t.Helper()
	var snap *xds.Snapshot
	capture := func(ctx context.Context, in input.Input) (*xds.Snapshot, error) {
		s, err := xdsgen.Generate(ctx, in)
		if err != nil {
			return nil, err
		}
		snap = s
		return nil, errCaptured
	}
	_, err := sim.Run(context.Background(), sc, sim.Options{Istio: dir, Only: sim.RunIstio, Generate: capture})
	require.ErrorIs(t, err, errCaptured)
	return snap
}

// TestSpillVariantPriorities: Istio's generator gives the rewritten target
// subsets the target's endpoints at priority 0 and the other cluster's at
// priority 1, with the service's outlier detection; the probe subsets keep
// the target's endpoints alone.
func TestSpillVariantPriorities(t *testing.T) {
	sc, err := sim.Load("../../../examples/bookinfo/drills/two-pods-half-errors.yaml")
	require.NoError(t, err)
	snap := entryXDS(t, sc, spillVariantDir(t, sc, true))
	const host = "reviews.bookinfo.svc.cluster.local"
	local, remote := "10.100.1.", "10.20.0.10" // the pods in cluster-1, cluster-2's east-west gateway
	prio := func(name string) map[string][]uint32 {
		cla := snap.LoadAssignment(name)
		require.NotNil(t, cla, "no load assignment for %s", name)
		out := map[string][]uint32{}
		for _, lle := range cla.GetEndpoints() {
			for _, lb := range lle.GetLbEndpoints() {
				a := lb.GetEndpoint().GetAddress().GetSocketAddress().GetAddress()
				k := "other " + a
				switch {
				case strings.HasPrefix(a, local):
					k = "local"
				case a == remote:
					k = "remote"
				}
				out[k] = append(out[k], lle.GetPriority())
			}
		}
		return out
	}
	svc := snap.Cluster("outbound|9080||" + host)
	require.NotNil(t, svc)
	for _, tc := range []struct {
		subset        string
		local, remote uint32
	}{{"cluster-cluster-1", 0, 1}, {"cluster-cluster-2", 1, 0}} {
		name := "outbound|9080|" + tc.subset + "|" + host
		p := prio(name)
		assert.Equal(t, []uint32{tc.local, tc.local, tc.local}, p["local"], "%s: the three local pods", name)
		assert.Equal(t, []uint32{tc.remote, tc.remote, tc.remote}, p["remote"], "%s: one entry per version at cluster-2's gateway", name)
		assert.Len(t, p, 2, "%s: %v", name, p)
		c := snap.Cluster(name)
		require.NotNil(t, c)
		assert.Equal(t, svc.GetOutlierDetection().String(), c.GetOutlierDetection().String(), "%s: the service's outlier detection", name)
	}
	for probe, only := range map[string]string{"probe-cluster-cluster-1": "local", "probe-cluster-cluster-2": "remote"} {
		p := prio("outbound|9080|" + probe + "|" + host)
		assert.Len(t, p, 1, "%s: %v", probe, p)
		assert.Len(t, p[only], 3, "%s: %v", probe, p)
	}
}

// TestSpillVariantEdgeOrder: at the edge (three clusters, two regions) the
// rewritten subset of cluster-1a puts its gateway first, then cluster-1b
// (same region), then cluster-2: failoverPriority composed with Istio's
// locality order.
func TestSpillVariantEdgeOrder(t *testing.T) {
	sc, err := sim.Load("../../../examples/edge-auto/drills/zone-down.yaml")
	require.NoError(t, err)
	snap := entryXDS(t, sc, spillVariantDir(t, sc, true))
	name := "outbound|9080|cluster-cluster-1a|productpage.bookinfo.svc.cluster.local"
	cla := snap.LoadAssignment(name)
	require.NotNil(t, cla, "no load assignment for %s", name)
	got := map[string]uint32{}
	for _, lle := range cla.GetEndpoints() {
		for _, lb := range lle.GetLbEndpoints() {
			got[lb.GetEndpoint().GetAddress().GetSocketAddress().GetAddress()] = lle.GetPriority()
		}
	}
	assert.Equal(t, map[string]uint32{"172.16.1.10": 0, "172.16.2.10": 1, "172.17.1.10": 2}, got, "%s: east-west gateways by priority", name)
}

// TestSpillVariantHidesOutages is why RATIONALE.md keeps the router's
// host-aware spill. The variant spills as Istio does when some hosts fail
// (two-pods drill: about half the traffic to cluster-2 while two of three
// pods are ejected, no idempotent error), but it also spills when every
// host of a target fails: the spilled answers are the target's successes
// to the filters, which then never eject it, and the way back is Envoy's
// (region-outage drill at the edge: region-1 stays ejected by Envoy after
// it recovers, about half the traffic cross-region, where the filters'
// probe and ramp bring it back).
func TestSpillVariantHidesOutages(t *testing.T) {
	cur := mustFilters(t)
	vf, err := variantFilters()
	require.NoError(t, err)
	run := func(file string, f *sim.Filters, variant bool) sim.RunReport {
		sc, err := sim.Load(file)
		require.NoError(t, err)
		opts := sim.Options{Generate: xdsgen.Generate, Filters: f, Only: sim.RunDetour}
		if variant {
			opts.Istio = spillVariantDir(t, sc, true)
		}
		rep, err := sim.Run(context.Background(), sc, opts)
		require.NoError(t, err)
		require.Len(t, rep.Runs, 1)
		return rep.Runs[0]
	}
	failedOver := func(r sim.RunReport) int {
		n := 0
		for _, tr := range r.Transitions {
			if tr.To == "FAILED_OVER" {
				n++
			}
		}
		return n
	}
	during := func(r sim.RunReport) report.Phase {
		for _, p := range r.Phases {
			if strings.HasPrefix(p.Label, "during ") {
				return p
			}
		}
		t.Fatalf("no phase during the fault in %v", r.Phases)
		return report.Phase{}
	}

	two := run("../../../examples/bookinfo/drills/two-pods-half-errors.yaml", vf, true)
	assert.Zero(t, two.IdempotentErrors, "two-pods, variant")
	assert.InDelta(t, 0.54, during(two).CrossRegionShare, 0.05, "two-pods, variant: Envoy's priority load (1.4 × 1/3 local)")
	assert.Zero(t, failedOver(two), "two-pods, variant: no target ejected")

	const outage = "../../../examples/edge-auto/drills/region-outage.yaml"
	v, c := run(outage, vf, true), run(outage, cur, false)
	assert.Zero(t, failedOver(v), "region-outage, variant: the filters never ejected a target")
	assert.NotZero(t, failedOver(c), "region-outage, current: the filters ejected region-1's targets")
	assert.Less(t, c.CrossRegionShare, 0.05, "region-outage, current: back in region-1")
	assert.Greater(t, v.CrossRegionShare, 0.3, "region-outage, variant: Envoy keeps region-1 ejected")
	assert.Greater(t, v.LatencyMs.P50, 1.1*c.LatencyMs.P50+report.LatencySlackMs, "region-outage: the variant's p50 against the current filters'")
	t.Logf("two-pods variant: errors %d, p50/p99 %.1f/%.1f, cross-region during %.2f", two.UserVisibleErrors, two.LatencyMs.P50, two.LatencyMs.P99, during(two).CrossRegionShare)
	t.Logf("region-outage p50/p99, cross-region outside faults: current %.1f/%.1f %.2f, variant %.1f/%.1f %.2f",
		c.LatencyMs.P50, c.LatencyMs.P99, c.CrossRegionShare, v.LatencyMs.P50, v.LatencyMs.P99, v.CrossRegionShare)
}

// BenchmarkSpillVariantDrills measures every example drill under the
// subset spill (ordered), the "subset spill" column of RATIONALE.md's
// host-aware spill table; the istio and detour columns are the drill
// table's (TestExampleDrillsSideBySide -v). A measurement, not a check:
// go test ./harness/simulator/sim -run '^$' -bench BenchmarkSpillVariantDrills -benchtime 1x
func BenchmarkSpillVariantDrills(b *testing.B) {
	vf, err := variantFilters()
	require.NoError(b, err)
	files, err := filepath.Glob("../../../examples/*/drills/*.yaml")
	require.NoError(b, err)
	for _, file := range files {
		b.Run(strings.Replace(strings.TrimSuffix(strings.TrimPrefix(file, "../../../examples/"), ".yaml"), "/drills/", "/", 1), func(b *testing.B) {
			sc, err := sim.Load(file)
			require.NoError(b, err)
			dir := spillVariantDir(b, sc, true)
			var r sim.RunReport
			for range b.N {
				rep, err := sim.Run(context.Background(), sc, sim.Options{Generate: xdsgen.Generate, Filters: vf, Only: sim.RunDetour, Istio: dir})
				require.NoError(b, err)
				r = rep.Runs[0]
			}
			b.ReportMetric(float64(r.UserVisibleErrors), "errors")
			b.ReportMetric(r.LatencyMs.P50, "p50-ms")
			b.ReportMetric(r.LatencyMs.P99, "p99-ms")
			b.ReportMetric(100*r.CrossRegionShare, "cross-region-outside-faults-%")
			for _, f := range r.Faults {
				if f.FailBackS != nil {
					b.ReportMetric(*f.FailBackS, "failback-s")
				}
			}
		})
	}
}
