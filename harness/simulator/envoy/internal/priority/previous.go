package priority

// PreviousPriorities is the previous_priorities retry priority for one
// request (source/extensions/retry/priority/previous_priorities/
// previous_priorities.cc): every UpdateFrequency attempted hosts it
// recomputes the load without the priorities attempted so far; when that
// leaves nothing it starts over, clearing both the excluded priorities and
// the attempted hosts, so the count towards the next update restarts.
type PreviousPriorities struct {
	UpdateFrequency int
	attempted       []int
	excluded        []bool
	healthy         []uint32
	degraded        []uint32
}

// OnHostAttempted records the priority of a host the router sent to.
func (p *PreviousPriorities) OnHostAttempted(priority int) {
	p.attempted = append(p.attempted, priority)
}

// Load is determinePriorityLoad: the load to choose the next host with, or
// ok false for the cluster's own load.
func (p *PreviousPriorities) Load(levels []Level, opf uint64) (healthy, degraded []uint32, ok bool) {
	n := len(p.attempted)
	if p.UpdateFrequency <= 0 || n < p.UpdateFrequency {
		return nil, nil, false
	}
	if n%p.UpdateFrequency == 0 {
		for len(p.excluded) < len(levels) {
			p.excluded = append(p.excluded, false)
		}
		for _, pr := range p.attempted {
			if pr < len(p.excluded) {
				p.excluded[pr] = true
			}
		}
		h, d, adjusted := ExcludeAttempted(levels, opf, p.excluded)
		if !adjusted {
			clear(p.excluded)
			p.attempted = p.attempted[:0]
			h, d, adjusted = ExcludeAttempted(levels, opf, p.excluded)
		}
		if !adjusted {
			return nil, nil, false
		}
		p.healthy, p.degraded = h, d
	}
	if p.healthy == nil {
		return nil, nil, false
	}
	return p.healthy, p.degraded, true
}
