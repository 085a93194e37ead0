package module_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/compiler/lower"
	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/plugins/config"
)

const edgeAuto = "edge-auto/out/bookinfo/productpage/edge.yaml"

func header(h [][2]string, k string) (string, bool) {
	for _, kv := range h {
		if kv[0] == k {
			return kv[1], true
		}
	}
	return "", false
}

func (w *world) m(suffix string) int64 {
	return w.metric("wasmcustom.detour." + w.cfg.Service.Host + "." + suffix)
}

// Every compiled WasmPlugin of every example starts on its root ID (the
// combined one), and so do the three of the split layout, with the
// configuration as the compiler wrote it.
func TestCompiledExamplesStart(t *testing.T) {
	files, err := filepath.Glob("../../examples/*/out/*/*/*.yaml")
	require.NoError(t, err)
	files2, err := filepath.Glob("../../examples/*/out/*/*/clusters/*.yaml")
	require.NoError(t, err)
	n := 0
	for _, f := range append(files, files2...) {
		rel, _ := filepath.Rel("../../examples", f)
		if strings.HasSuffix(f, "intent.yaml") || !strings.Contains(mustRead(t, f), "kind: WasmPlugin") {
			continue
		}
		n++
		t.Run(rel, func(t *testing.T) {
			w := newWorld(t, rel, worldOpts{workers: 1})
			assert.Len(t, w.logs("detour: detour: configured for "+w.cfg.Service.Host), 1, "one root context, the combined one")
			w.noTraps()
			w = newWorld(t, rel, worldOpts{workers: 1, layout: "split"})
			assert.Len(t, w.logs("configured for "+w.cfg.Service.Host), 3, "--split-filters: three root contexts")
			w.noTraps()
		})
	}
	require.GreaterOrEqual(t, n, 5, "examples with WasmPlugins")
}

// Healthy: every request is steered to a target subset by the routing
// header, in the compiled weights' proportions, and succeeds.
func TestHealthyTrafficFollowsWeights(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 2})
	streams := w.run(1000, 10*time.Millisecond)
	got := map[string]int{}
	for _, s := range streams {
		require.Equal(t, 200, s.Response.Status)
		require.NotNil(t, s.Upstream)
		got[w.target(s.Upstream.Cluster)]++
	}
	// weights 29/29/43
	assert.InDelta(t, 290, got["cluster-1a"], 60)
	assert.InDelta(t, 290, got["cluster-1b"], 60)
	assert.InDelta(t, 420, got["cluster-2"], 60)
	assert.Equal(t, int64(0), w.m("state"))
	w.noTraps()
}

// At an edge gateway with a locality (auto: tierByLocality), the router
// keeps traffic where Envoy's locality load balancing would: the gateway's
// zone, then its region, then the rest; Envoy before 1.33 reports the
// node under its old top-level name.
func TestEdgeAutoFollowsTheGatewaysLocality(t *testing.T) {
	tests := []struct {
		name   string
		node   pw.Node
		compat pw.Compat
		dead   []string
		want   string
	}{
		{"in zone region-1a", pw.Node{Region: "region-1", Zone: "region-1a"}, pw.Compat{}, nil, "cluster-1a"},
		{"in zone region-1a, pre-1.33 names", pw.Node{Region: "region-1", Zone: "region-1a"}, pw.Compat{LegacyAttributes: true}, nil, "cluster-1a"},
		{"zone down: its region next", pw.Node{Region: "region-1", Zone: "region-1a"}, pw.Compat{}, []string{"cluster-1a"}, "cluster-1b"},
		{"region down: the other region", pw.Node{Region: "region-1", Zone: "region-1a"}, pw.Compat{}, []string{"cluster-1a", "cluster-1b"}, "cluster-2"},
		{"in region-2", pw.Node{Region: "region-2", Zone: "region-2a"}, pw.Compat{}, nil, "cluster-2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, edgeAuto, worldOpts{workers: 2, node: tc.node, compat: tc.compat})
			for _, d := range tc.dead {
				w.dead[d] = true
			}
			// The first requests detect the dead targets; count after them.
			w.run(50, 10*time.Millisecond)
			for _, s := range w.run(200, 10*time.Millisecond) {
				require.Equal(t, 200, s.Response.Status)
				require.NotNil(t, s.Upstream)
				assert.Equal(t, tc.want, w.target(s.Upstream.Cluster))
			}
			w.noTraps()
		})
	}
}

// Envoy (since 1.17) re-selects the route on a request header change made by a
// module of ABI 0.2.0 or 0.2.1 (TestModuleABI); Envoy before 1.33 has no
// clear_route_cache function, which the router does not need. Both route.
func TestRouteCacheBehaviours(t *testing.T) {
	for name, c := range map[string]pw.Compat{"envoy-1.33+": {}, "envoy-1.32": {NoClearRouteCache: true}} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, edgeAuto, worldOpts{workers: 1, compat: c})
			for _, s := range w.run(20, 10*time.Millisecond) {
				require.Equal(t, 200, s.Response.Status)
				tg := w.target(s.Upstream.Cluster)
				require.NotEmpty(t, tg, "routed by the header to a target subset, got %s", s.Upstream.Cluster)
				v, _ := header(s.Upstream.Headers, "x-detour-cluster")
				assert.Equal(t, tg, v)
				assert.Greater(t, s.RouteEvals, 1, "route re-selected after the router filter")
			}
		})
	}
}

// A client cannot steer: its control headers are removed before routing,
// for the service and for any other destination.
func TestSpoofedControlHeadersRemoved(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1})
	spoof := [][2]string{{"x-detour-cluster", "attacker"}, {"x-detour-cell", "region-evil"}}
	s := w.request(0, "GET", spoof...)
	o := w.gw.Send(httpsim.Request{Headers: append([][2]string{{":method", "GET"}, {":path", "/"}, {":scheme", "http"}, {":authority", "other.example.com"}}, spoof...)})
	w.clock.Advance(time.Second)
	require.True(t, s.Complete && o.Complete)
	v, _ := header(s.Upstream.Headers, "x-detour-cluster")
	assert.Contains(t, []string{"cluster-1a", "cluster-1b", "cluster-2"}, v)
	_, cell := header(s.Upstream.Headers, "x-detour-cell")
	assert.False(t, cell, "a healthy request carries no cell")
	_, has := header(o.Upstream.Headers, "x-detour-cluster")
	assert.False(t, has)
	_, has = header(o.Upstream.Headers, "x-detour-cell")
	assert.False(t, has)
	assert.Equal(t, "default", o.Upstream.Route)
	assert.Equal(t, int64(4), w.m("router.stripped_headers"))
}

// A failed response is replaced by the retry's, answered through
// http_call by the next target on the ladder with Istio's cluster name.
func TestRetryReplacesFailedResponse(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1})
	w.status["cluster-1a"] = 503
	w.status["cluster-1b"] = 503
	var failedFirst *httpsim.Stream
	for i := 0; i < 20 && failedFirst == nil; i++ {
		s := w.request(0, "GET")
		w.clock.Advance(time.Second)
		require.True(t, s.Complete)
		if tg := w.target(s.Upstream.Cluster); tg != "cluster-2" {
			failedFirst = s
		}
	}
	require.NotNil(t, failedFirst, "some request went to a failing target")
	assert.Equal(t, 200, failedFirst.Response.Status)
	assert.Equal(t, "hello from cluster-2", failedFirst.Response.Body)
	// The retry's response headers replace the failed one's.
	v, ok := header(failedFirst.Response.Headers, "x-served-by")
	assert.True(t, ok && v == "cluster-2", "%v", failedFirst.Response.Headers)
	require.NotEmpty(t, w.calls)
	assert.Contains(t, w.calls, "outbound|9080|cluster-cluster-2|productpage.bookinfo.svc.cluster.local")
	assert.Positive(t, w.m("retry.success"))
	// A POST is not retried (not in the compiled methods): its 503 passes.
	w.status["cluster-2"] = 503
	p := w.request(0, "POST")
	w.clock.Advance(time.Second)
	assert.Equal(t, 503, p.Response.Status)
	w.noTraps()
}

// When every target fails, retries stop at the shared budget
// (max(20 % of active requests, 3) across workers), and a request whose
// retry the budget refused is shed with a local reply that says so (the
// failure's status kept), counted.
// allFailingBurst sends 40 GETs at once over 4 workers (with headers)
// while every target answers 504, and lets them complete.
func allFailingBurst(t *testing.T, headers ...[2]string) (*world, []*httpsim.Stream) {
	t.Helper()
	w := newWorld(t, edgeAuto, worldOpts{workers: 4})
	for _, tg := range w.cfg.Targets {
		w.status[tg.Cluster] = 504
	}
	var streams []*httpsim.Stream
	for i := range 40 {
		streams = append(streams, w.request(i%4, "GET", headers...))
	}
	w.clock.Advance(5 * time.Second)
	return w, streams
}

func TestRetryBudgetSharedAcrossWorkers(t *testing.T) {
	w, streams := allFailingBurst(t)
	shed := 0
	for _, s := range streams {
		require.True(t, s.Complete)
		assert.Equal(t, 504, s.Response.Status)
		if v, ok := header(s.Response.Headers, config.HeaderShed); ok {
			assert.Equal(t, "retry-budget", v)
			assert.Contains(t, s.Response.Body, "retry budget is exhausted")
			shed++
		}
	}
	attempts, exhausted := w.m("retry.attempts"), w.m("retry.budget_exhausted")
	assert.Positive(t, exhausted)
	// Every refusal shed its request; the others failed after their retries.
	assert.Equal(t, exhausted, int64(shed))
	// 40 concurrent requests allow 8 retries in flight: far fewer than the
	// 80 that two attempts each would send.
	assert.LessOrEqual(t, attempts, int64(30))
	assert.Positive(t, attempts)
	w.noTraps()
}

// A dead target (connection refused) is ejected within one second of
// traffic, by whichever workers see it, users see no error (the retry
// covers), and the service state fails over.
func TestDeadTargetDetectedWithinOneSecond(t *testing.T) {
	for name, layout := range map[string]string{"combined": "", "three-roots": "split", "modules": "modules"} {
		t.Run(name, func(t *testing.T) { deadTargetDetected(t, layout) })
	}
}

func deadTargetDetected(t *testing.T, layout string) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 4, layout: layout})
	w.run(100, 10*time.Millisecond)
	start := w.clock.Now()
	w.dead["cluster-1a"] = true
	streams := w.run(100, 10*time.Millisecond)
	for _, s := range streams {
		assert.Equal(t, 200, s.Response.Status, "users see no error")
	}
	ej := w.logs("ejected cluster-1a")
	require.NotEmpty(t, ej)
	var at time.Time
	for _, l := range w.proc.Logs() {
		if strings.Contains(l.Message, "ejected cluster-1a") {
			at = l.Time
			break
		}
	}
	assert.Less(t, at.Sub(start), time.Second, "ejection within 1s: %v", ej)
	assert.Equal(t, int64(2), w.m("state"), "FAILED_OVER")
	assert.Equal(t, int64(1), w.m("target.cluster-1a.ejected"))
	// After the ejection no request is routed there.
	retries := func() int { // http_calls other than the probes of cluster-1a
		n := 0
		for _, c := range w.calls {
			if w.target(c) != "cluster-1a" {
				n++
			}
		}
		return n
	}
	before := retries()
	for _, s := range w.run(100, 10*time.Millisecond) {
		assert.NotEqual(t, "cluster-1a", w.target(s.Upstream.Cluster))
		assert.Equal(t, 200, s.Response.Status)
	}
	assert.Equal(t, before, retries(), "no retries needed once ejected")
	w.noTraps()
}

// A clean first recovery: the probe answers fast, and the target takes its
// whole share back at once (no hold-down, no ramp), as Envoy's un-ejected
// host does; the state goes straight from FAILED_OVER to PRIMARY.
func TestCleanFirstRecoveryReturnsAtOnce(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 2})
	w.dead["cluster-1a"] = true
	w.run(100, 10*time.Millisecond)
	require.Equal(t, int64(2), w.m("state"))
	w.clock.Advance(3 * time.Second)
	w.dead["cluster-1a"] = false
	w.clock.Advance(2 * time.Second) // a tick after a probe period
	require.NotEmpty(t, w.logs("probe of cluster-1a answered 200 in"), "%v %v", w.logs("cluster-1a"), w.m("target.cluster-1a.probes"))
	require.NotEmpty(t, w.logs("back in service at once (first recovery)"))
	assert.Equal(t, int64(0), w.m("state"), "PRIMARY")
	got := 0
	for _, s := range w.run(400, 10*time.Millisecond) {
		require.Equal(t, 200, s.Response.Status)
		if w.target(s.Upstream.Cluster) == "cluster-1a" {
			got++
		}
	}
	assert.InDelta(t, 29, float64(got)/4, 6, "its whole share at once")
	var seq []string
	for _, l := range w.logs(" -> ") {
		i := strings.Index(l, ": ")
		j := strings.Index(l, " (")
		seq = append(seq, l[i+2+len(w.cfg.Service.Host)+2:j])
	}
	assert.Equal(t, []string{"PRIMARY -> DEGRADED", "DEGRADED -> FAILED_OVER", "FAILED_OVER -> PRIMARY"}, seq)
	w.noTraps()
}

// The whole cycle on the virtual clock: failure, ejection, probes on the
// fixed period while the target is still dead (it stays out, no longer
// backing off), recovery by probe, hold-down with no traffic, the ramp
// back to its full share (the steps are table-tested in plugins/router),
// and the state machine logging PRIMARY → DEGRADED → FAILED_OVER →
// FAILING_BACK → PRIMARY.
func TestFailbackRampAfterHoldDown(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 2})
	w.dead["cluster-1a"] = true
	w.run(100, 10*time.Millisecond)
	require.Equal(t, int64(2), w.m("state"))
	// Still dead: probed every period (500 ms), still out.
	w.clock.Advance(3 * time.Second)
	assert.GreaterOrEqual(t, w.m("target.cluster-1a.probe_failures"), int64(4))
	assert.Equal(t, int64(2), w.m("state"))
	w.dead["cluster-1a"] = false
	// Cold pods: the probe answers slowly, so the first recovery holds
	// down and ramps instead of returning at once (a clean one:
	// TestCleanFirstRecoveryReturnsAtOnce).
	w.slow["cluster-1a"] = 150 * time.Millisecond
	w.clock.Advance(2 * time.Second) // a tick after a probe period
	require.NotEmpty(t, w.logs("probe of cluster-1a answered 200: back in service, hold-down"), "%v", w.logs("cluster-1a"))
	w.slow["cluster-1a"] = 0
	assert.Equal(t, int64(3), w.m("state"), "FAILING_BACK")

	share := func(n int) float64 {
		got := 0
		streams := w.run(n, 10*time.Millisecond)
		for _, s := range streams {
			require.Equal(t, 200, s.Response.Status)
			if w.target(s.Upstream.Cluster) == "cluster-1a" {
				got++
			}
		}
		return float64(got) / float64(len(streams)) * 100
	}
	// The probe answered at 6.155 s: the 500 ms hold-down is over by now
	// (7 s), and the first ramp step gives the target 10 % of its share
	// (the steps are table-tested in plugins/router). Five requests used
	// to be asserted to take none, which held only for the random draws of
	// a clock-seeded generator.
	assert.LessOrEqual(t, share(20), 30.0)
	w.clock.Advance(3 * time.Second) // past hold-down and the ramp
	assert.InDelta(t, 29, share(400), 6)
	w.clock.Advance(2 * time.Second)
	assert.Equal(t, int64(0), w.m("state"), "PRIMARY")

	var seq []string
	for _, l := range w.logs(" -> ") {
		i := strings.Index(l, ": ")
		j := strings.Index(l, " (")
		seq = append(seq, l[i+2+len(w.cfg.Service.Host)+2:j])
	}
	assert.Equal(t, []string{"PRIMARY -> DEGRADED", "DEGRADED -> FAILED_OVER", "FAILED_OVER -> FAILING_BACK", "FAILING_BACK -> PRIMARY"}, seq)
	for _, st := range []string{"DEGRADED", "FAILED_OVER", "FAILING_BACK", "PRIMARY"} {
		assert.Equal(t, int64(1), w.m("transitions."+st), st)
	}
	w.noTraps()
}

// A configuration error fails on_configure with a log naming the field.
func TestBadConfigurationNamesTheField(t *testing.T) {
	p := pw.NewProcess(nil)
	cfg := compiledPlugins(t, edgeAuto)[0].Config
	bad := strings.Replace(string(cfg), `"mode":"auto"`, `"mode":"sideways"`, 1)
	require.NotEqual(t, string(cfg), bad)
	_, err := p.StartPlugin(context.Background(), pw.PluginSpec{
		Engine: engine, Module: mod, FailurePolicy: pw.FailOpen,
		Plugin: pw.PluginConfig{Name: "r", RootID: "detour-router", Configuration: []byte(bad)},
	})
	require.Error(t, err)
	var msgs []string
	for _, l := range p.Logs() {
		msgs = append(msgs, l.Message)
	}
	assert.Contains(t, strings.Join(msgs, "\n"), "plugin config: mode:")
	assert.Empty(t, p.Traps())
}

// A fuzzed corpus of requests and upstream behaviours: every stream
// completes and no VM traps.
func TestFuzzedCorpusNeverTraps(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 3})
	r := rand.New(rand.NewPCG(1, 2))
	methods := []string{"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "", "get", "\x00"}
	auths := []string{"bookinfo.example.com", "bookinfo.example.com:80", "productpage.bookinfo.svc.cluster.local:9080", "x", "", "[::1]:80"}
	faults := []string{"", "", "", pw.FaultConnectFailure, pw.FaultReset, pw.FaultTimeout, pw.FaultOverflow, pw.FaultNoHealthyUpstream}
	var streams []*httpsim.Stream
	for i := range 400 {
		h := [][2]string{{":method", methods[r.IntN(len(methods))]}, {":path", "/" + strings.Repeat("a", r.IntN(50))}, {":scheme", "http"}, {":authority", auths[r.IntN(len(auths))]}}
		for range r.IntN(4) {
			h = append(h, [2]string{[]string{"x-detour-cluster", "x-detour-cell", "content-length", "x-other"}[r.IntN(4)], fmt.Sprint(r.Int())})
		}
		var body [][]byte
		for range r.IntN(3) {
			body = append(body, make([]byte, r.IntN(100_000)))
		}
		fault, status := faults[r.IntN(len(faults))], []int{200, 500, 502, 503, 504, 404, 0}[r.IntN(7)]
		delay := time.Duration(r.IntN(3000)) * time.Millisecond
		streams = append(streams, w.gw.Send(httpsim.Request{Headers: h, Body: body, Worker: i % 3, Upstream: func(*httpsim.UpstreamRequest) httpsim.UpstreamResponse {
			return httpsim.UpstreamResponse{Status: status, Fault: fault, Delay: delay}
		}}))
		if r.IntN(4) == 0 {
			w.dead[w.cfg.Targets[r.IntN(3)].Cluster] = r.IntN(2) == 0
		}
		w.clock.Advance(time.Duration(r.IntN(200)) * time.Millisecond)
	}
	w.clock.Advance(time.Minute)
	for i, s := range streams {
		assert.True(t, s.Complete, "stream %d", i)
	}
	w.noTraps()
	for _, l := range w.proc.Logs() {
		assert.NotContains(t, l.Message, "internal error", "fail-open path taken: %s", l.Message)
	}
}

// The retry filter's http_call clusters (outbound|PORT|SUBSET|FQDN) must
// exist: each target's subset is in the compiled DestinationRule.
func TestRetryClustersMatchCompiledSubsets(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1})
	y := mustRead(t, filepath.Join("..", "..", "examples", edgeAuto))
	for _, tg := range w.cfg.Targets {
		assert.Contains(t, y, "name: "+config.SubsetPrefix+tg.Cluster+"\n", tg.Cluster)
		assert.Equal(t, lower.ClusterSubset(tg.Cluster), config.SubsetPrefix+tg.Cluster)
	}
}

// shareOf sends n requests and returns the share (%) each target served.
func (w *world) shareOf(n int) map[string]float64 {
	got := map[string]float64{}
	for _, s := range w.run(n, 10*time.Millisecond) {
		require.Equal(w.t, 200, s.Response.Status)
		got[w.target(s.Upstream.Cluster)] += 100 / float64(n)
	}
	return got
}

// activeStandby (online-banking): the standby takes nothing while the
// active cluster is healthy, everything once it is ejected.
func TestStrictStandby(t *testing.T) {
	w := newWorld(t, "online-banking/out/transaction-service/web-portal/edge.yaml", worldOpts{workers: 2})
	assert.Equal(t, map[string]float64{"west": 100}, roundShares(w.shareOf(300)))
	w.dead["west"] = true
	w.run(20, 10*time.Millisecond) // detection
	assert.Equal(t, map[string]float64{"east": 100}, roundShares(w.shareOf(300)))
	assert.Equal(t, int64(2), w.m("state"), "FAILED_OVER")
	w.noTraps()
}

// weighted + healthAware (canary-health-aware): the canary's 10 % goes to
// the main cluster once the canary is ejected.
func TestHealthAwareRedistribution(t *testing.T) {
	w := newWorld(t, "canary-health-aware/out/bookinfo/productpage/edge.yaml", worldOpts{workers: 2})
	assert.InDelta(t, 10, w.shareOf(1000)["cluster-canary"], 3)
	w.status["cluster-canary"] = 503
	w.run(100, 10*time.Millisecond) // detection (retries hide the errors)
	require.Equal(t, int64(1), w.m("target.cluster-canary.ejected"))
	// The upstream host that answered is attributed.
	assert.Positive(t, w.m("target.cluster-canary.host.10.0.0.2:15443.failures"))
	assert.NotEmpty(t, w.logs("ejected cluster-canary for 30000ms (detector=consecutive-gateway-errors count=3 times=1 last-host=10.0.0.2:15443)"))
	assert.Equal(t, map[string]float64{"cluster-1": 100}, roundShares(w.shareOf(300)))
	w.noTraps()
}

func roundShares(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		out[k] = float64(int(v + 0.5))
	}
	return out
}

// The two route-cache behaviours differ for a filter that only changes a
// header: with ExplicitRouteRefresh (Envoy 1.33+ for a module of ABI above
// 0.2.1) the route is not re-selected. The router relies on the automatic
// refresh, so TestModuleABI pins the module's ABI to where it applies.
func TestHeaderChangeAloneDoesNotRerouteOn133(t *testing.T) {
	for c, want := range map[pw.Compat]int{{}: 2, {ExplicitRouteRefresh: true}: 1} {
		w := rewriteWorld(t)
		for _, pl := range w.gw.Filters {
			pl.Close()
		}
		pl, err := w.proc.StartPlugin(context.Background(), pw.PluginSpec{Engine: engine, Module: rewriteModule(t), Workers: 1, FailurePolicy: pw.FailOpen,
			VM: pw.VMConfig{VMID: "rewrite2", Compat: c}, Plugin: pw.PluginConfig{Name: "rewrite", RootID: "rewrite"}})
		require.NoError(t, err)
		w.gw.Filters = []*pw.Plugin{pl}
		s := w.request(0, "GET")
		w.clock.Advance(time.Second)
		assert.Equal(t, want, s.RouteEvals, "%+v", c)
	}
}

// The retry re-sends the request body it buffered; a body over
// retry.maxBodyBytes (64 KiB by default) is not buffered, so its failure
// passes and is counted.
func TestRetryBodyLimit(t *testing.T) {
	w := newWorld(t, "online-banking/out/transaction-service/web-portal/edge.yaml", worldOpts{workers: 1})
	w.status["west"] = 503
	send := func(body []byte) *httpsim.Stream {
		h := [][2]string{{":method", "PUT"}, {":path", "/accounts/1"}, {":scheme", "http"}, {":authority", "bank.example.com"}}
		s := w.gw.Send(httpsim.Request{Headers: h, Body: [][]byte{body[:len(body)/2], body[len(body)/2:]}})
		w.clock.Advance(time.Second)
		require.True(t, s.Complete)
		return s
	}
	small := send([]byte("small body, sent twice"))
	assert.Equal(t, 200, small.Response.Status)
	assert.Equal(t, "hello from east", small.Response.Body)
	require.Len(t, w.bodies, 1)
	assert.Equal(t, "small body, sent twice", w.bodies[0])
	big := send(make([]byte, 70<<10))
	assert.Equal(t, 503, big.Response.Status)
	assert.Len(t, w.bodies, 1, "not retried")
	assert.Equal(t, int64(1), w.m("retry.body_too_large"))
	w.noTraps()
}
