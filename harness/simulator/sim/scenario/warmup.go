package scenario

import (
	"slices"
	"time"
)

// warmUpKinds are the faults after which pods come back (and can come back
// cold).
var warmUpKinds = []string{ServiceScaledToZero, ClusterOutage, RegionOutage}

func (v *validator) warmUp(f *FaultFile, p, kind string) *WarmUp {
	w := f.WarmUp
	p += ".warmUp"
	out := &WarmUp{
		Duration: v.duration(w.Duration, p+".duration", 0),
		Capacity: v.share(w.Capacity, p+".capacity", 1),
		Latency:  v.duration(w.Latency, p+".latency", 0),
	}
	switch {
	case !slices.Contains(warmUpKinds, kind):
		v.failf(p, "warmUp applies to faults whose pods come back (serviceScaledToZero, clusterOutage, regionOutage), not %s", kind)
	case !f.End.Set():
		v.failf(p, "warmUp needs the fault's end (the pods come back cold then)")
	case f.Flap != nil:
		v.failf(p, "warmUp starts at the fault's end; a flapping fault has no single return")
	case out.Duration <= 0:
		v.failf(p+".duration", "expected a positive duration such as 30s")
	case out.Capacity <= 0:
		v.fail(w.Capacity, p+".capacity", "expected a capacity above 0% (a pod at 0% would never warm up)")
	case !w.Capacity.Set() && !w.Latency.Set():
		v.failf(p, "expected capacity (such as 30%%) and/or latency (such as 200ms): a warm-up without either changes nothing")
	}
	return out
}

// Warming reports, at offset t, how far pods returning from f are from
// normal: the share of their capacity they serve (1 = normal) and the
// latency they add. Both move linearly from the warm-up's values at the
// fault's end to normal at its end plus the warm-up's duration.
func (f *Fault) Warming(t time.Duration) (capacity float64, latency time.Duration, ok bool) {
	w := f.WarmUp
	if w == nil || f.End <= 0 || t < f.End || t >= f.End+w.Duration {
		return 1, 0, false
	}
	done := float64(t-f.End) / float64(w.Duration)
	return w.Capacity + (1-w.Capacity)*done, time.Duration(float64(w.Latency) * (1 - done)), true
}
