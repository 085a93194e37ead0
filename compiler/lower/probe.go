package lower

import (
	"math"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"istio.io/api/networking/v1alpha3"
	networkingv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"

	"github.com/detour-mesh/detour/compiler/explain"
	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/plugins/config"
)

// Probe subsets. The outlier filter probes a target that is out to learn
// when it answers again. Through the subset that carries the target's
// traffic, a probe meets Envoy's own outlier detection: once Envoy has
// ejected every host of that subset (an edge gateway sees one host per
// cluster, and ejects up to 100 %), the probe gets a local 503 "no healthy
// upstream" and never reaches the pods, however healthy they are again.
// So each target gets a second subset over the same endpoints whose Envoy
// cluster has no outlier detection: a probe there reaches the real hosts
// whatever Envoy thinks of them in the traffic subset (each Envoy cluster
// keeps its own detector: source/common/upstream/outlier_detection_impl.cc
// is built per cluster).
//
// Istio merges a subset's traffic policy over the service's field by field
// and keeps the service's outlierDetection when the subset sets none
// (pilot/pkg/model/destination_rule.go MergeTrafficPolicy); a port-level
// policy in the subset replaces every field instead, unset ones included
// (hasPortLevel). The probe subset therefore carries a port-level policy
// for the service port with the TLS mode and connect timeout of the
// service's policy and nothing else: no outlierDetection (so Istio emits
// no outlier_detection and no panic threshold: Envoy's default 50 %
// applies), no locality ladder (the subset holds one cluster). The
// simulator's xdsgen test checks the cluster Istio builds from it.

// ProbeSubset is the DestinationRule subset a target cluster is probed
// through; its name is config.ProbeSubsetPrefix + ClusterSubset(cluster),
// the name the filters derive (config.ProbeClusterName).
func ProbeSubset(cluster string) string {
	return shortLabel(config.ProbeSubsetPrefix + config.SubsetPrefix + cluster)
}

// probeSubsets reports whether the probe subsets are emitted: with the
// filters, and only when every name fits a DNS label uncut, since the
// filters build the Envoy cluster name from the target's name and could not
// find a shortened one (without them, probes go through the traffic
// subsets, as before).
func probeSubsets(in intent.Intent, lad explain.Ladder) bool {
	if !in.Spec.Plugins.Enabled {
		return false
	}
	for _, c := range ladderClusters(lad) {
		if len(config.ProbeSubsetPrefix+config.SubsetPrefix+c) > maxLabel {
			return false
		}
	}
	return true
}

// probeSubsetsFor is the probe subsets of the targets on lad, as seen from
// target (the same endpoint labels as the traffic subsets).
func (l lowerer) probeSubsetsFor(target string, lad explain.Ladder) []*v1alpha3.Subset {
	if !probeSubsets(l.in, lad) {
		return nil
	}
	var out []*v1alpha3.Subset
	for _, c := range ladderClusters(lad) {
		k, v := l.endpointLabel(target, c)
		out = append(out, &v1alpha3.Subset{
			Name:   ProbeSubset(c),
			Labels: map[string]string{k: v},
			TrafficPolicy: &v1alpha3.TrafficPolicy{PortLevelSettings: []*v1alpha3.TrafficPolicy_PortTrafficPolicy{{
				Port: &v1alpha3.PortSelector{Number: l.in.Spec.Service.Port},
				Tls:  &v1alpha3.ClientTLSSettings{Mode: v1alpha3.ClientTLSSettings_ISTIO_MUTUAL},
				ConnectionPool: &v1alpha3.ConnectionPoolSettings{
					Tcp: &v1alpha3.ConnectionPoolSettings_TCPSettings{ConnectTimeout: durationpb.New(connectTimeout(l.in.Spec.Retries))},
				},
			}}},
		})
	}
	return out
}

// probeUnpatch keeps the probe clusters free of ejection when the
// EnvoyFilter patches outlier detection into the service's clusters: its
// patches match by service and port, so every subset's cluster, the probe
// subsets' included, gets them, and a MERGE into a cluster without
// outlier_detection creates one with Envoy's defaults (consecutive 5xx and
// success rate enforced at 100 %). A last patch per probe subset puts every
// detector's threshold out of reach: EnvoyFilter patches apply in order, a
// MERGE cannot remove the block, and it cannot lower an enforcement to 0
// either (a wrapper holding 0 merges as unset), so the thresholds, not the
// enforcements, are what it moves.
func (l lowerer) probeUnpatch(ef *networkingv1alpha3.EnvoyFilter, lad explain.Ladder) error {
	if !probeSubsets(l.in, lad) || len(ef.Spec.ConfigPatches) == 0 {
		return nil
	}
	never := wrapperspb.UInt32(math.MaxUint32)
	v, err := patchValue(&clusterv3.Cluster{OutlierDetection: &clusterv3.OutlierDetection{
		Consecutive_5Xx:                never,
		ConsecutiveGatewayFailure:      never,
		ConsecutiveLocalOriginFailure:  never,
		SuccessRateMinimumHosts:        never,
		FailurePercentageMinimumHosts:  never,
		FailurePercentageRequestVolume: never,
	}})
	if err != nil {
		return err
	}
	first := ef.Spec.ConfigPatches[0].GetMatch()
	for _, c := range ladderClusters(lad) {
		m := &v1alpha3.EnvoyFilter_EnvoyConfigObjectMatch{
			Context: first.GetContext(),
			ObjectTypes: &v1alpha3.EnvoyFilter_EnvoyConfigObjectMatch_Cluster{Cluster: &v1alpha3.EnvoyFilter_ClusterMatch{
				Service: l.fqdn, PortNumber: l.in.Spec.Service.Port, Subset: ProbeSubset(c),
			}},
		}
		ef.Spec.ConfigPatches = append(ef.Spec.ConfigPatches, &v1alpha3.EnvoyFilter_EnvoyConfigObjectPatch{
			ApplyTo: v1alpha3.EnvoyFilter_CLUSTER,
			Match:   m,
			Patch:   &v1alpha3.EnvoyFilter_Patch{Operation: v1alpha3.EnvoyFilter_Patch_MERGE, Value: v},
		})
	}
	return nil
}
