package sim

import "time"

// warming is how cold endpoint e is at offset t: the share of its capacity
// it serves and the latency it adds, over every fault it returns from with
// a warm-up (the coldest capacity and the largest latency win), and the
// names of those faults.
func (n *Network) warming(t time.Duration, e *endpoint, names *[]string) (capacity float64, latency time.Duration) {
	capacity = 1
	for i := range n.faults {
		f := &n.faults[i]
		if f.WarmUp == nil || !hitsEndpoint(f, e) {
			continue
		}
		c, l, ok := f.Warming(t)
		if !ok {
			continue
		}
		capacity, latency = min(capacity, c), max(latency, l)
		*names = append(*names, f.Name)
	}
	return capacity, latency
}
