package lower

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	extensionsapi "istio.io/api/extensions/v1alpha1"
	"istio.io/api/networking/v1alpha3"
	typeapi "istio.io/api/type/v1beta1"
	extensionsv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	networkingv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/detour-mesh/detour/compiler/explain"
	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/plugins/config"
)

// combined is the one WasmPlugin the compiler emits by default: the three
// filters in one root context (config.PluginCombined), router, retry and
// outlier in that order within it. One HTTP context per request instead of
// three is most of what brings the filter set near the trivial filter's
// cost (RATIONALE.md, "Filter module layout").
var combined = []struct {
	root     string
	priority int32
}{{config.PluginCombined, 30}}

// split are the filters as three WasmPlugins (Options.SplitFilters), in
// chain order: the router strips client-supplied control headers and picks
// the cluster first, the retry filter wraps the upstream call, the outlier
// filter sees every response.
var split = []struct {
	root     string
	priority int32
}{
	{config.PluginRouter, 30},
	{config.PluginRetry, 20},
	{config.PluginOutlier, 10},
}

// extensions are the WasmPlugins (when the intent enables them) and the
// EnvoyFilter (only when a knob needs it) of one proxy.
func (l lowerer) extensions(target, local string, lad explain.Ladder) ([]Object, error) {
	var out []Object
	if l.in.Spec.Plugins.Enabled {
		cfg := PluginConfig(l.in, local, lad)
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", l.in.Metadata.Namespace, l.in.Metadata.Name, err)
		}
		st, err := toStruct(cfg)
		if err != nil {
			return nil, err
		}
		filters := combined
		if l.opts.SplitFilters {
			filters = split
		}
		for _, f := range filters {
			wp := &extensionsv1alpha1.WasmPlugin{
				TypeMeta:   metav1.TypeMeta{APIVersion: "extensions.istio.io/v1alpha1", Kind: "WasmPlugin"},
				ObjectMeta: l.extMeta(f.root, target),
			}
			wp.Spec = extensionsapi.WasmPlugin{
				Url:             l.opts.WasmURL,
				Sha256:          l.opts.WasmSHA256,
				ImagePullPolicy: extensionsapi.PullPolicy_IfNotPresent,
				PluginName:      f.root,
				PluginConfig:    st,
				// After authentication and authorisation: a rejected
				// request must not count against a cluster's health.
				Phase:        extensionsapi.PluginPhase_STATS,
				Priority:     wrapperspb.Int32(f.priority),
				FailStrategy: extensionsapi.FailStrategy_FAIL_OPEN,
				Type:         extensionsapi.PluginType_HTTP,
				VmConfig:     cellKeyEnv(),
			}
			if target == EdgeTarget {
				wp.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: copyMap(l.in.Spec.Entry.Edge.GatewaySelector)}
			} else {
				// Sidecars of the namespace (of the named clients, when
				// given), on their outbound side.
				wp.Spec.Match = []*extensionsapi.WasmPlugin_TrafficSelector{{Mode: typeapi.WorkloadMode_CLIENT}}
				if c := l.in.Spec.Entry.Clients; len(c) > 0 {
					wp.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: copyMap(c)}
				}
			}
			out = append(out, wp)
		}
	}
	ef, err := l.envoyFilter(target)
	if err != nil {
		return nil, err
	}
	if ef != nil {
		if err := l.probeUnpatch(ef, lad); err != nil {
			return nil, err
		}
		out = append(out, ef)
	}
	return out, nil
}

// cellKeyEnv hands the proxy's cell-header keys to the VM: HOST copies
// the variable from the proxy's environment (set from a Secret), so the
// keys are neither in this object nor in the proxy's config dump (Istio,
// pilot/pkg/model/extensions.go buildVMConfig: host_env_keys; Envoy reads
// them with getenv, source/extensions/common/wasm/plugin.cc). With
// SplitFilters every filter gets it, not the router alone: the three share
// one VM, and
// Envoy's VM key leaves the environment out (makeVmKey(vm_id,
// configuration, code) in source/extensions/common/wasm/wasm.cc), so the
// VM has the environment of whichever filter created it.
//
// The configuration itself leaves cell out (the filters' defaults name the
// same variable): a module from before the cell header was signed refuses
// fields it does not know, and this output must still start it.
func cellKeyEnv() *extensionsapi.VmConfig {
	return &extensionsapi.VmConfig{Env: []*extensionsapi.EnvVar{{Name: config.DefaultCellKeyEnv, ValueFrom: extensionsapi.EnvValueSource_HOST}}}
}

func toStruct(v any) (*structpb.Struct, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	st := &structpb.Struct{}
	if err := protojson.Unmarshal(b, st); err != nil {
		return nil, err
	}
	return st, nil
}

func ms(d intent.Duration) uint32 {
	v := d.Duration / time.Millisecond
	if v > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v)
}

// PluginConfig is the filters' configuration for one proxy: local is its
// cluster ("" at the edge) and lad the ladder seen from it.
func PluginConfig(in intent.Intent, local string, lad explain.Ladder) config.Config {
	s := in.Spec
	c := config.Config{
		Version:     config.Version,
		Service:     config.Service{Host: FQDN(in), Port: s.Service.Port},
		Local:       local,
		Mode:        s.Failover.Mode,
		HealthAware: s.Failover.HealthAware,
		Targets:     []config.Target{},
		Headers:     config.Headers{Cluster: config.HeaderCluster, Cell: config.HeaderCell},
		Detection: config.Detection{
			Consecutive5xx:                 s.Detection.Consecutive5xx,
			ConsecutiveGatewayErrors:       s.Detection.ConsecutiveGatewayErrors,
			ConsecutiveLocalOriginFailures: s.Detection.ConsecutiveLocalOriginFailures,
			IntervalMs:                     ms(s.Detection.Interval),
			BaseEjectionMs:                 ms(s.Detection.BaseEjectionTime),
			MaxEjectionPercent:             s.Detection.MaxEjectionPercent,
			ProbeSubsets:                   probeSubsets(in, lad),
		},
		Retry: config.Retry{
			Attempts:        s.Retries.Attempts,
			PerTryTimeoutMs: ms(s.Retries.PerTryTimeout),
			RetryOn:         append([]string{}, s.Retries.RetryOn...),
			Methods:         append([]string{}, s.Retries.Methods...),
		},
		Failback: config.Failback{
			HoldDownMs:      ms(s.Failback.HoldDown),
			MinHealthyShare: s.Failback.MinHealthyShare,
			Ramp:            append([]uint32{}, s.Failback.Ramp...),
			StepIntervalMs:  ms(s.Failback.StepInterval),
			ProbeIntervalMs: ms(s.Failback.ProbeInterval),
			FlapHalfLifeMs:  ms(s.Failback.FlapHalfLife),
			// A hold-down above the cap is the cap's floor: flapping
			// only ever raises it.
			MaxHoldDownMs: max(ms(s.Failback.MaxHoldDown), ms(s.Failback.HoldDown)),
		},
	}
	if s.Entry.Kind == "edge" && s.Entry.Edge != nil {
		c.Service.Authorities = append([]string{}, s.Entry.Edge.Hosts...)
	}
	// auto at the edge: nearest first from where the gateway runs, which
	// only the proxy knows (edgeLadder leaves every cluster on one tier).
	c.TierByLocality = local == "" && s.Failover.Mode == intent.ModeAuto
	// The team's routes precede Detour's route for a target on the same
	// header (lowerer.routes): the router's pick does not name the cluster
	// that answers.
	c.Composed = s.Compose != nil && len(s.Compose.Routes) > 0
	if fp := s.Detection.FailurePercentage; fp != nil {
		c.Detection.FailurePercentage = fp.Threshold
		c.Detection.FailureRequestVolume = fp.RequestVolume
	}
	if l := s.Detection.Latency; l != nil {
		c.Detection.Latency = &config.Latency{P99Ms: ms(l.P99), WindowMs: ms(l.Window), MinRequests: l.MinRequests}
		if l.CrossRegion != nil {
			c.Detection.Latency.CrossRegionMs = ms(*l.CrossRegion)
		}
	}
	if b := s.Retries.Budget; b != nil {
		c.Retry.BudgetPercent = b.Percent
		c.Retry.BudgetMinConcurrency = b.MinConcurrency
	}
	for _, t := range lad.Tiers {
		for _, sh := range t.Clusters {
			cl := clusterNamed(in, sh.Cluster)
			c.Targets = append(c.Targets, config.Target{
				Cluster: sh.Cluster, Priority: t.Priority, Weight: uint32(math.Round(sh.Percent)),
				Region: cl.Region, Zone: cl.Zone, Standby: t.Standby,
			})
		}
	}
	return c
}

func clusterNamed(in intent.Intent, name string) intent.Cluster {
	for _, c := range in.Spec.Clusters {
		if c.Name == name {
			return c
		}
	}
	return intent.Cluster{}
}

// envoyFilter patches the service's Envoy cluster with the knobs Istio's
// DestinationRule lacks. It returns nil when none is needed. (Cross-locality
// retry needs no patch: retryRemoteLocalities already installs Envoy's
// previous_priorities retry predicate.)
func (l lowerer) envoyFilter(target string) (*networkingv1alpha3.EnvoyFilter, error) {
	d := l.in.Spec.Detection
	var patches []*clusterv3.Cluster
	var gated []bool // patch needs a proxy new enough for the field
	if fp := d.FailurePercentage; fp != nil {
		patches = append(patches, &clusterv3.Cluster{OutlierDetection: &clusterv3.OutlierDetection{
			FailurePercentageThreshold:     wrapperspb.UInt32(fp.Threshold),
			FailurePercentageMinimumHosts:  wrapperspb.UInt32(fp.MinimumHosts),
			FailurePercentageRequestVolume: wrapperspb.UInt32(fp.RequestVolume),
			EnforcingFailurePercentage:     wrapperspb.UInt32(100),
		}})
		gated = append(gated, false)
	}
	if d.AlwaysEjectOne && d.MaxEjectionPercent < 100 {
		// With a max ejection percent below 100, a small pool could never
		// eject its only failing host.
		patches = append(patches, &clusterv3.Cluster{OutlierDetection: &clusterv3.OutlierDetection{
			AlwaysEjectOneHost: wrapperspb.Bool(true),
		}})
		gated = append(gated, true)
	}
	// No patch makes a standby strict: Istio's clusters take their
	// endpoints from EDS, and Envoy reads the overprovisioning factor from
	// the EDS assignment (source/common/upstream/eds.cc), which Istio sends
	// without a policy, so a factor patched into the CDS cluster's
	// load_assignment has no effect. The router filter holds traffic on the
	// active tier instead.
	if len(patches) == 0 {
		return nil, nil
	}
	ctx := v1alpha3.EnvoyFilter_SIDECAR_OUTBOUND
	// Scoped to the proxies it is for: the edge gateway, or the clients
	// the intent names (the schema requires them when a patch is needed).
	var sel *v1alpha3.WorkloadSelector
	if target == EdgeTarget {
		ctx = v1alpha3.EnvoyFilter_GATEWAY
		sel = &v1alpha3.WorkloadSelector{Labels: copyMap(l.in.Spec.Entry.Edge.GatewaySelector)}
	} else if c := l.in.Spec.Entry.Clients; len(c) > 0 {
		sel = &v1alpha3.WorkloadSelector{Labels: copyMap(c)}
	}
	ef := &networkingv1alpha3.EnvoyFilter{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1alpha3", Kind: "EnvoyFilter"},
		ObjectMeta: l.extMeta("detour-cluster", target),
	}
	ef.Spec.WorkloadSelector = sel
	for i, p := range patches {
		v, err := patchValue(p)
		if err != nil {
			return nil, err
		}
		m := &v1alpha3.EnvoyFilter_EnvoyConfigObjectMatch{
			Context: ctx,
			ObjectTypes: &v1alpha3.EnvoyFilter_EnvoyConfigObjectMatch_Cluster{Cluster: &v1alpha3.EnvoyFilter_ClusterMatch{
				Service: l.fqdn, PortNumber: l.in.Spec.Service.Port,
			}},
		}
		if gated[i] {
			// always_eject_one_host arrived in Envoy 1.31 (Istio 1.23 proxies).
			m.Proxy = &v1alpha3.EnvoyFilter_ProxyMatch{ProxyVersion: `^1\.(2[3-9]|[3-9][0-9])(\..*)?$`}
		}
		ef.Spec.ConfigPatches = append(ef.Spec.ConfigPatches, &v1alpha3.EnvoyFilter_EnvoyConfigObjectPatch{
			ApplyTo: v1alpha3.EnvoyFilter_CLUSTER,
			Match:   m,
			Patch:   &v1alpha3.EnvoyFilter_Patch{Operation: v1alpha3.EnvoyFilter_Patch_MERGE, Value: v},
		})
	}
	return ef, nil
}

// patchValue renders an Envoy message as the Struct an EnvoyFilter patch
// carries, with Envoy's snake_case field names.
func patchValue(m proto.Message) (*structpb.Struct, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	st := &structpb.Struct{}
	if err := protojson.Unmarshal(b, st); err != nil {
		return nil, err
	}
	return st, nil
}
