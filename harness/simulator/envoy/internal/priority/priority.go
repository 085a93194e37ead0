// Package priority is Envoy's priority load arithmetic: per-priority
// health with the overprovisioning factor, the normalized total
// availability, the healthy/degraded load split, panic mode and the choice
// of a priority from a 1..100 draw. It follows
// source/extensions/load_balancing_policies/common/load_balancer_impl.cc
// (LoadBalancerBase::recalculatePerPriorityState, distributeLoad,
// recalculatePerPriorityPanic, recalculateLoadInTotalPanic,
// isHostSetInPanic, choosePriority), all in integer arithmetic as there.
package priority

// DefaultOverprovisioning is kDefaultOverProvisioningFactor (percent).
const DefaultOverprovisioning = 140

// DefaultPanicThreshold is the default healthy_panic_threshold (percent).
const DefaultPanicThreshold = 50

// Level is one priority's host counts (or weights, with
// weighted_priority_health). Total counts every host, Excluded the hosts
// excluded from load balancing (EDS DRAINING): availability and panic use
// Total-Excluded, total-panic shares use Total (recalculatePerPriorityState,
// isHostSetInPanic and recalculateLoadInTotalPanic read hosts() minus
// excludedHosts() and hosts() respectively).
type Level struct {
	Total, Excluded, Healthy, Degraded uint64
}

// Eligible is the host count health is measured against.
func (lv Level) Eligible() uint64 { return lv.Total - min(lv.Total, lv.Excluded) }

// Load is the outcome of a recalculation.
type Load struct {
	Healthy  []uint32 // percent per priority, sums with Degraded to 100
	Degraded []uint32
	// Panic marks priorities whose host selection ignores health.
	Panic []bool
	// TotalPanic: every priority is in panic; loads follow host counts.
	TotalPanic bool
	// Health and DegradedHealth are the per-priority availabilities
	// (min(100, OPF*healthy/total)).
	Health, DegradedHealth []uint32
}

// Availability is min(100, opf*part/total), 0 for an empty level.
func Availability(opf, part, total uint64) uint32 {
	if total == 0 {
		return 0
	}
	return uint32(min(100, opf*part/total))
}

// NormalizedTotalAvailability is min(100, Σ health + degraded).
func NormalizedTotalAvailability(health, degraded []uint32) uint32 {
	var s uint32
	for i := range health {
		s += health[i] + degraded[i]
	}
	return min(100, s)
}

// Distribute spreads totalLoad over the priorities by availability, as
// distributeLoad: it returns the first priority with availability (-1 if
// none) and the load left over by rounding.
func Distribute(load []uint32, avail []uint32, totalLoad, nta uint32) (int, uint32) {
	first := -1
	for i := range avail {
		if first == -1 && avail[i] > 0 {
			first = i
		}
		load[i] = min(totalLoad, avail[i]*100/nta)
		totalLoad -= load[i]
	}
	return first, totalLoad
}

// Compute recalculates the loads of a cluster's priorities. opf is the
// overprovisioning factor in percent; panicThreshold the healthy panic
// threshold in percent (0 disables panic mode).
func Compute(levels []Level, opf uint64, panicThreshold uint64) Load {
	n := len(levels)
	l := Load{Healthy: make([]uint32, n), Degraded: make([]uint32, n), Panic: make([]bool, n),
		Health: make([]uint32, n), DegradedHealth: make([]uint32, n)}
	if n == 0 {
		return l
	}
	for i, lv := range levels {
		l.Health[i] = Availability(opf, lv.Healthy, lv.Eligible())
		l.DegradedHealth[i] = Availability(opf, lv.Degraded, lv.Eligible())
	}
	nta := NormalizedTotalAvailability(l.Health, l.DegradedHealth)
	if nta > 0 {
		firstHealthy, rem := Distribute(l.Healthy, l.Health, 100, nta)
		firstDegraded, rem := Distribute(l.Degraded, l.DegradedHealth, rem, nta)
		if rem != 0 {
			if firstHealthy != -1 {
				l.Healthy[firstHealthy] += rem
			} else {
				l.Degraded[firstDegraded] += rem
			}
		}
	}
	// recalculatePerPriorityPanic.
	threshold := min(100, panicThreshold)
	if threshold == 0 && nta == 0 {
		// Nothing routable and panic disabled: all load on P0, whose
		// (empty) healthy set then answers "no healthy upstream".
		l.Healthy[0] = 100
		return l
	}
	total := true
	for i, lv := range levels {
		if nta != 100 {
			l.Panic[i] = InPanic(lv, threshold)
		}
		total = total && l.Panic[i]
	}
	if total {
		l.TotalPanic = true
		totalLoadInPanic(levels, &l)
	}
	return l
}

// InPanic is isHostSetInPanic: healthy% + degraded% < threshold.
func InPanic(lv Level, threshold uint64) bool {
	var h, d float64
	if n := lv.Eligible(); n > 0 {
		h = 100 * float64(lv.Healthy) / float64(n)
		d = 100 * float64(lv.Degraded) / float64(n)
	}
	return h+d < float64(threshold)
}

// totalLoadInPanic is recalculateLoadInTotalPanic: load by host counts
// (excluded hosts included), the rounding remainder to the first non-empty
// priority.
func totalLoadInPanic(levels []Level, l *Load) {
	var all uint64
	for _, lv := range levels {
		all += lv.Total
	}
	for i := range l.Degraded {
		l.Degraded[i] = 0
		l.Healthy[i] = 0
	}
	if all == 0 {
		l.Healthy[0] = 100
		return
	}
	first := -1
	var sum uint32
	for i, lv := range levels {
		if first == -1 && lv.Total > 0 {
			first = i
		}
		l.Healthy[i] = uint32(100 * lv.Total / all)
		sum += l.Healthy[i]
	}
	l.Healthy[first] += 100 - sum
}

// Choose is choosePriority: draw is any random number; it becomes 1..100
// and walks the cumulative healthy loads, then the degraded ones.
func Choose(draw uint64, healthy, degraded []uint32) (prio int, isDegraded bool) {
	h := uint32(draw%100 + 1)
	var agg uint32
	for i, v := range healthy {
		agg += v
		if h <= agg {
			return i, false
		}
	}
	for i, v := range degraded {
		agg += v
		if h <= agg {
			return i, true
		}
	}
	return 0, false
}

// EffectiveLocalityWeight is HostSetImpl::effectiveLocalityWeight
// (source/common/upstream/upstream_impl.cc): the locality weight scaled by
// min(1, OPF/100 * eligible/hosts), a real number (hosts excludes the
// excluded ones).
func EffectiveLocalityWeight(weight uint32, eligible, hosts int, opf uint64) float64 {
	if hosts == 0 {
		return 0
	}
	ratio := float64(eligible) / float64(hosts)
	return min(1.0, float64(opf)/100*ratio) * float64(weight)
}

// ExcludeAttempted is the previous_priorities retry priority's
// adjustForAttemptedPriorities (source/extensions/retry/priority/
// previous_priorities/previous_priorities.cc): the load spread by
// availability over the priorities not excluded. ok is false when nothing
// is left to spread over.
func ExcludeAttempted(levels []Level, opf uint64, excluded []bool) (healthy, degraded []uint32, ok bool) {
	health := make([]uint32, len(levels))
	deg := make([]uint32, len(levels))
	for i, lv := range levels {
		if i < len(excluded) && excluded[i] {
			continue
		}
		health[i] = Availability(opf, lv.Healthy, lv.Eligible())
		deg[i] = Availability(opf, lv.Degraded, lv.Eligible())
	}
	nta := NormalizedTotalAvailability(health, deg)
	if nta == 0 {
		return nil, nil, false
	}
	healthy, degraded = make([]uint32, len(levels)), make([]uint32, len(levels))
	fh, rem := Distribute(healthy, health, 100, nta)
	fd, rem := Distribute(degraded, deg, rem, nta)
	if rem > 0 {
		if fh >= 0 {
			healthy[fh] += rem
		} else {
			degraded[fd] += rem
		}
	}
	return healthy, degraded, true
}
