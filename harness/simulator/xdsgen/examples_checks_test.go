package xdsgen_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"sigs.k8s.io/yaml"

	"github.com/detour-mesh/detour/compiler/explain"
	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/harness/simulator/xds"
)

// What TestExamplesXDSIsIstios checks on each generated snapshot: outlier
// detection, priorities, routes and the Wasm filters.

// checkOutlier: every outbound cluster of the service carries the intent's
// outlier detection and panic threshold (at the edge, the limits
// edgeLimits checks).
func (e example) checkOutlier(snap *xds.Snapshot) {
	t := e.t
	d := e.in.Spec.Detection
	prefix := fmt.Sprintf("outbound|%d|", e.in.Spec.Service.Port)
	suffix := "|" + e.fqdn()
	var n, probes int
	for _, c := range snap.Clusters {
		if !strings.HasPrefix(c.GetName(), prefix) || !strings.HasSuffix(c.GetName(), suffix) {
			continue
		}
		if e.checkProbeCluster(snap, c) {
			probes++
			continue
		}
		n++
		od := c.GetOutlierDetection()
		require.NotNil(t, od, "%s: no outlier detection", c.GetName())
		assert.Equal(t, d.ConsecutiveGatewayErrors, od.GetConsecutiveGatewayFailure().GetValue(), "%s: consecutive gateway failure", c.GetName())
		if d.ConsecutiveGatewayErrors > 0 {
			assert.Equal(t, uint32(100), od.GetEnforcingConsecutiveGatewayFailure().GetValue(), "%s: enforcing gateway failure", c.GetName())
		}
		assert.Equal(t, d.Consecutive5xx, od.GetConsecutive_5Xx().GetValue(), "%s: consecutive 5xx", c.GetName())
		wantMax, wantPanic := d.MaxEjectionPercent, float64(d.MinHealthPercent)
		if strings.HasSuffix(e.file, "edge.yaml") {
			wantMax, wantPanic = e.edgeLimits(snap, c)
		}
		assert.Equal(t, wantMax, od.GetMaxEjectionPercent().GetValue(), "%s: max ejection percent", c.GetName())
		assert.Equal(t, d.SplitLocalOrigin, od.GetSplitExternalLocalOriginErrors(), "%s: split local origin", c.GetName())
		if d.SplitLocalOrigin {
			assert.Equal(t, d.ConsecutiveLocalOriginFailures, od.GetConsecutiveLocalOriginFailure().GetValue(), "%s: consecutive local origin", c.GetName())
		}
		assert.Equal(t, d.Interval.Duration, od.GetInterval().AsDuration(), "%s: interval", c.GetName())
		assert.Equal(t, d.BaseEjectionTime.Duration, od.GetBaseEjectionTime().AsDuration(), "%s: base ejection time", c.GetName())
		assert.Equal(t, wantPanic, c.GetCommonLbConfig().GetHealthyPanicThreshold().GetValue(), "%s: panic threshold", c.GetName())
		want := clusterv3.Cluster_EDS
		if strings.HasSuffix(e.file, "edge.yaml") && e.hostNames() {
			// The edge's ServiceEntry is DNS-resolved: Envoy resolves the
			// names itself, at the records' TTL (Istio sets respect_dns_ttl).
			want = clusterv3.Cluster_STRICT_DNS
			assert.True(t, c.GetRespectDnsTtl(), "%s: respect_dns_ttl", c.GetName())
		}
		assert.Equal(t, want, c.GetType(), "%s: discovery type", c.GetName())
	}
	require.NotZero(t, n, "no outbound cluster for %s", e.fqdn())
	if e.in.Spec.Plugins.Enabled {
		assert.NotZero(t, probes, "no probe cluster for %s", e.fqdn())
	}
}

// checkPriorities: in the service's load assignment, every cluster's
// endpoints sit at the priority its ladder tier gives (exact), or at least
// in the ladder's order; the local cluster's pods at priority 0; and a
// remote cluster is one endpoint per WorkloadEntry at its east-west
// gateway, weighted by its endpoint count.
func (e example) checkPriorities(snap *xds.Snapshot, lad explain.Ladder, local string, exact bool) {
	t := e.t
	name := fmt.Sprintf("outbound|%d||%s", e.in.Spec.Service.Port, e.fqdn())
	cla := snap.LoadAssignment(name)
	if cla == nil && snap.Cluster(name) != nil {
		cla = snap.Cluster(name).GetLoadAssignment() // a DNS cluster's own
	}
	require.NotNil(t, cla, "no load assignment for %s", name)
	tierOf := map[string]int{}
	for i, tier := range lad.Tiers {
		for _, s := range tier.Clusters {
			tierOf[s.Cluster] = i
		}
	}
	gw := map[string]intent.Cluster{}
	for i, c := range e.in.Spec.Clusters {
		gw[c.EastWestGateway.Address] = c
		if isHostName(c.EastWestGateway.Address) {
			gw[resolvedIP(i)] = c
		}
	}
	prio := map[string]uint32{}
	perRemote := map[string]int{}
	for _, lle := range cla.GetEndpoints() {
		for _, lb := range lle.GetLbEndpoints() {
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			cluster := local
			if c, ok := gw[sa.GetAddress()]; ok && c.Name != local {
				cluster = c.Name
				perRemote[cluster]++
				port := c.EastWestGateway.Port
				if port == 0 {
					port = 15443
				}
				assert.Equal(t, port, sa.GetPortValue(), "%s: endpoint of %s not on its east-west gateway port", name, cluster)
				assert.Equal(t, c.Endpoints, lb.GetLoadBalancingWeight().GetValue(), "%s: weight of %s's endpoint", name, cluster)
			}
			require.NotEmpty(t, cluster, "%s: endpoint %s is no cluster's east-west gateway", name, sa.GetAddress())
			if p, seen := prio[cluster]; seen {
				assert.Equal(t, p, lle.GetPriority(), "%s: %s's endpoints at two priorities", name, cluster)
			}
			prio[cluster] = lle.GetPriority()
		}
	}
	for c := range tierOf {
		_, ok := prio[c]
		assert.True(t, ok, "%s: cluster %s of the ladder has no endpoint", name, c)
	}
	wantPerRemote := max(1, len(e.in.Spec.Subsets))
	for c, n := range perRemote {
		assert.Equal(t, wantPerRemote, n, "%s: endpoints of remote %s (one per WorkloadEntry)", name, c)
	}
	if local != "" {
		assert.Equal(t, uint32(0), prio[local], "%s: local endpoints not at priority 0", name)
	}
	for a, pa := range prio {
		for b, pb := range prio {
			if tierOf[a] < tierOf[b] {
				assert.LessOrEqual(t, pa, pb, "%s: %s (tier %d) after %s (tier %d)", name, a, tierOf[a], b, tierOf[b])
			}
		}
		if exact {
			assert.Equal(t, uint32(tierOf[a]), pa, "%s: priority of %s", name, a)
		}
	}
	t.Logf("%s: priorities %v (ladder %v)", name, prio, tierOf)
}

// checkRoutes: the routes of host carry the intent's retries where the
// method is retryable, none elsewhere, and the intent's timeout.
func (e example) checkRoutes(snap *xds.Snapshot, host string) {
	t := e.t
	r := e.in.Spec.Retries
	vh := virtualHost(snap, host)
	require.NotNil(t, vh, "no virtual host for %s", host)
	var retrying, plain int
	for _, rt := range vh.GetRoutes() {
		ra := rt.GetRoute()
		if ra == nil {
			continue
		}
		assert.Equal(t, r.Timeout.Duration, ra.GetTimeout().AsDuration(), "%s: route %s timeout", host, rt.GetName())
		if !matchesMethod(rt) {
			plain++
			assert.Zero(t, ra.GetRetryPolicy().GetNumRetries().GetValue(), "%s: route %s retries non-retryable methods", host, rt.GetName())
			continue
		}
		retrying++
		rp := ra.GetRetryPolicy()
		require.NotNil(t, rp, "%s: route %s has no retry policy", host, rt.GetName())
		assert.Equal(t, r.Attempts, rp.GetNumRetries().GetValue(), "%s: route %s num_retries", host, rt.GetName())
		assert.Equal(t, r.PerTryTimeout.Duration, rp.GetPerTryTimeout().AsDuration(), "%s: route %s per_try_timeout", host, rt.GetName())
		assert.Equal(t, strings.Join(r.RetryOn, ","), rp.GetRetryOn(), "%s: route %s retry_on", host, rt.GetName())
		assert.Equal(t, r.Backoff.Base.Duration, rp.GetRetryBackOff().GetBaseInterval().AsDuration(), "%s: route %s back-off", host, rt.GetName())
		if r.RetryRemoteLocalities {
			assert.Equal(t, "envoy.retry_priorities.previous_priorities", rp.GetRetryPriority().GetName(), "%s: route %s retry priority", host, rt.GetName())
		} else {
			assert.Nil(t, rp.GetRetryPriority(), "%s: route %s retry priority", host, rt.GetName())
		}
	}
	if len(r.Methods) > 0 && r.Attempts > 0 {
		assert.NotZero(t, retrying, "%s: no route retries", host)
		assert.NotZero(t, plain, "%s: no route for the other methods", host)
	}
}

// checkWasm: each compiled WasmPlugin is an extension configuration whose
// Wasm filter carries the compiled pluginConfig.
func (e example) checkWasm(snap *xds.Snapshot) {
	t := e.t
	plugins := wasmPlugins(t, e.config)
	if !e.in.Spec.Plugins.Enabled {
		assert.Empty(t, plugins)
		return
	}
	require.NotEmpty(t, plugins, "%s: plugins enabled but no WasmPlugin compiled", e.file)
	byName := map[string]*wasmv3.Wasm{}
	for _, x := range snap.Extensions {
		w := &wasmv3.Wasm{}
		if x.GetTypedConfig().UnmarshalTo(w) == nil {
			byName[x.GetName()] = w
		}
	}
	for _, p := range plugins {
		var got *wasmv3.Wasm
		for n, w := range byName {
			// extensions.istio.io/trafficextension/<ns>.<name>~<origin>
			id, _, _ := strings.Cut(n[strings.LastIndex(n, "/")+1:], "~")
			if id == p.namespace+"."+p.name {
				got = w
			}
		}
		require.NotNil(t, got, "WasmPlugin %s/%s is no extension config (have %v)", p.namespace, p.name, keys(byName))
		sv := &wrapperspb.StringValue{}
		require.NoError(t, got.GetConfig().GetConfiguration().UnmarshalTo(sv), "%s: configuration", p.name)
		assert.JSONEq(t, p.config, sv.GetValue(), "WasmPlugin %s/%s: pluginConfig", p.namespace, p.name)
	}
	e.checkWasmOrder(snap, plugins)
}

// checkWasmOrder: in every HTTP connection manager that runs the plugins,
// they come in the order of their phase and priority (higher first), as
// WasmPlugin documents.
func (e example) checkWasmOrder(snap *xds.Snapshot, plugins []wasmPlugin) {
	t := e.t
	byID := map[string]wasmPlugin{}
	for _, p := range plugins {
		byID[p.namespace+"."+p.name] = p
	}
	chains := 0
	for _, l := range snap.Listeners {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				h := &hcmv3.HttpConnectionManager{}
				if f.GetTypedConfig().UnmarshalTo(h) != nil {
					continue
				}
				var seq []wasmPlugin
				for _, hf := range h.GetHttpFilters() {
					if hf.GetConfigDiscovery() == nil {
						continue
					}
					id, _, _ := strings.Cut(hf.GetName()[strings.LastIndex(hf.GetName(), "/")+1:], "~")
					if p, ok := byID[id]; ok {
						seq = append(seq, p)
					}
				}
				if len(seq) == 0 {
					continue
				}
				chains++
				assert.Len(t, seq, len(plugins), "%s: not every plugin in the filter chain", l.GetName())
				for i := 1; i < len(seq); i++ {
					if seq[i].phase == seq[i-1].phase {
						assert.GreaterOrEqual(t, seq[i-1].priority, seq[i].priority, "%s: %s (priority %d) before %s (priority %d)",
							l.GetName(), seq[i-1].name, seq[i-1].priority, seq[i].name, seq[i].priority)
					}
				}
			}
		}
	}
	assert.NotZero(t, chains, "no HTTP filter chain runs the plugins")
}

type wasmPlugin struct {
	namespace, name, config string
	phase                   string
	priority                int
}

func wasmPlugins(t *testing.T, cfg string) []wasmPlugin {
	var out []wasmPlugin
	for _, doc := range strings.Split(cfg, "\n---\n") {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
			Spec struct {
				PluginConfig json.RawMessage `json:"pluginConfig"`
				Phase        string          `json:"phase"`
				Priority     int             `json:"priority"`
			} `json:"spec"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &obj))
		if obj.Kind == "WasmPlugin" {
			out = append(out, wasmPlugin{obj.Metadata.Namespace, obj.Metadata.Name, string(obj.Spec.PluginConfig), obj.Spec.Phase, obj.Spec.Priority})
		}
	}
	return out
}

func virtualHost(snap *xds.Snapshot, host string) *routev3.VirtualHost {
	for _, rc := range snap.Routes {
		for _, vh := range rc.GetVirtualHosts() {
			for _, d := range vh.GetDomains() {
				if d == host {
					return vh
				}
			}
		}
	}
	return nil
}

func matchesMethod(rt *routev3.Route) bool {
	for _, h := range rt.GetMatch().GetHeaders() {
		if h.GetName() == ":method" {
			return true
		}
	}
	return false
}

func listenerOnPort(snap *xds.Snapshot, port uint32) *listenerv3.Listener {
	for _, l := range snap.Listeners {
		if l.GetAddress().GetSocketAddress().GetPortValue() == port {
			return l
		}
	}
	return nil
}
