package lower

import (
	"google.golang.org/protobuf/proto"
	"istio.io/api/networking/v1alpha3"

	"github.com/detour-mesh/detour/compiler/explain"
)

// Edge ejection limits. The edge gateway sees one host per cluster (its
// east-west gateway, one per WorkloadEntry), so the intent's 100 % max
// ejection with Istio's panic threshold 0 lets Envoy eject every gateway in
// a total outage; Envoy then answers 503 "no healthy upstream" until each
// ejection ends (base ejection time, then longer), long after the pods
// answer again (examples/edge-named/drills/total-outage.yaml).
//
//   - The service's cluster (what the gateway uses without the filters)
//     may eject every gateway but one: Envoy allows an ejection only while
//     100 × (ejected + 1) / hosts stays within max_ejection_percent, hosts
//     counted over every priority (source/common/upstream/
//     outlier_detection_impl.cc, ejectHost), so the last gateway to fail
//     stays in and takes the traffic as soon as its pods answer. Priority
//     failover is unchanged while any gateway is healthy.
//   - The per-cluster subsets the filters route to hold one gateway each:
//     a panic threshold of 1 % puts the subset in panic only when that
//     gateway is ejected, and Envoy then sends to it anyway
//     (source/extensions/load_balancing_policies/common/load_balancer_impl.cc,
//     recalculatePerPriorityPanic, isHostSetInPanic), so a target the
//     filters chose after their probe succeeded is reached at once instead
//     of meeting Envoy's ejection. The filters' own outlier detection still
//     moves traffic away from a failing target.
//
// docs/intent.md ("the detection defaults after a total outage") has the
// drill figures of this choice and of the ones measured against it.

// edgeSubsetPanic is the panic threshold of the edge's per-cluster subsets.
const edgeSubsetPanic = 1

// edgeHosts is how many hosts the edge's service cluster holds: one
// WorkloadEntry per cluster and subset variant (workloadEntries).
func (l lowerer) edgeHosts(lad explain.Ladder) int {
	n := 0
	for _, c := range ladderClusters(lad) {
		n += max(1, len(l.in.Spec.SubsetsIn(c)))
	}
	return n
}

// edgeOutlier lowers od for the edge gateway: it returns the service
// cluster's outlier detection (max ejection leaving one gateway in) and
// the one of the per-cluster subsets (panic when their gateway is out).
func (l lowerer) edgeOutlier(od *v1alpha3.OutlierDetection, lad explain.Ladder) (service, subset *v1alpha3.OutlierDetection) {
	subset = proto.Clone(od).(*v1alpha3.OutlierDetection)
	subset.MinHealthPercent = max(subset.MinHealthPercent, edgeSubsetPanic)
	service = proto.Clone(od).(*v1alpha3.OutlierDetection)
	if n := l.edgeHosts(lad); n > 1 {
		service.MaxEjectionPercent = min(service.MaxEjectionPercent, allButOne(n))
	}
	return service, subset
}

// allButOne is the smallest max ejection percent that lets Envoy eject n-1
// of n hosts. Envoy compares the unrounded percentage, so it rounds up (3
// hosts: 67 %, as 66 % would stop at one ejection); it stays below 100.
func allButOne(n int) int32 {
	return int32(min(99, (100*(n-1)+n-1)/n))
}
