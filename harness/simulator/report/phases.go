// Measurements per phase of the fault timeline, per second's latency, and
// the cost of failing back.

package report

import (
	"slices"
	"strings"
	"time"

	"github.com/detour-mesh/detour/harness/simulator/sim/scenario"
)

// Phase is a slice of the run between two fault edges (a start or an end).
type Phase struct {
	FromS float64 `json:"fromS"`
	ToS   float64 `json:"toS"`
	// Label: "before faults", "during A" (a flapping fault: "A flapping",
	// up-phases included), or "after A" (the failback window lies here).
	Label            string  `json:"label"`
	Requests         int     `json:"requests"`
	Errors           int     `json:"errors"`
	LatencyMs        Latency `json:"latencyMs"`
	CrossRegionShare float64 `json:"crossRegionShare"`
}

// FailBackCost: from the fault's end until the target's share is back
// (FaultResult.FailBackS; the run's end if it never is), the requests sent,
// those answered from another region than the entry proxy's, and the
// latency they had beyond the mean of the preWindow before the fault, in
// request-seconds (max 0).
type FailBackCost struct {
	WindowS              float64 `json:"windowS"`
	Recovered            bool    `json:"recovered"`
	Requests             int     `json:"requests"`
	CrossRegionRequests  int     `json:"crossRegionRequests"`
	AddedLatencyRequestS float64 `json:"addedLatencyRequestS"`
}

// inSpan: t lies within fault f's span [Start, End), flapping or not.
func inSpan(f *Fault, t time.Duration) bool {
	return t >= f.Start && (f.End == 0 || t < f.End)
}

// crossRegion: the request's answer came from another region than the
// entry proxy's.
func crossRegion(in *Input, r *RequestRecord) bool {
	at := final(r)
	if at == nil {
		return false
	}
	reg := in.Regions[at.Cluster]
	return reg != "" && in.EntryRegion != "" && reg != in.EntryRegion
}

// crossRegionOutsideFaults is RunReport.CrossRegionShare.
func crossRegionOutsideFaults(faults []Fault, in *Input) float64 {
	all, remote := 0, 0
	for i := range in.Requests {
		r := &in.Requests[i]
		if final(r) == nil || slices.ContainsFunc(faults, func(f Fault) bool { return inSpan(&f, r.Start) }) {
			continue
		}
		all++
		if crossRegion(in, r) {
			remote++
		}
	}
	if all == 0 {
		return 0
	}
	return round(float64(remote) / float64(all))
}

// phases cuts the run at every fault's start and end.
func phases(faults []Fault, in *Input) []Phase {
	cuts := []time.Duration{0, in.Duration}
	for i := range faults {
		cuts = append(cuts, faults[i].Start)
		if faults[i].End > 0 && faults[i].End < in.Duration {
			cuts = append(cuts, faults[i].End)
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	out := []Phase{}
	for k := 0; k+1 < len(cuts); k++ {
		from, to := cuts[k], cuts[k+1]
		p := Phase{FromS: secs(from), ToS: secs(to), Label: phaseLabel(faults, from)}
		var lat []time.Duration
		answered, remote := 0, 0
		for i := range in.Requests {
			r := &in.Requests[i]
			if r.Start < from || r.Start >= to {
				continue
			}
			p.Requests++
			lat = append(lat, r.End-r.Start)
			if IsUserVisibleError(r.Status) {
				p.Errors++
			}
			if final(r) != nil {
				answered++
				if crossRegion(in, r) {
					remote++
				}
			}
		}
		slices.Sort(lat)
		p.LatencyMs = Latency{P50: pct(lat, 50), P90: pct(lat, 90), P99: pct(lat, 99)}
		if answered > 0 {
			p.CrossRegionShare = round(float64(remote) / float64(answered))
		}
		out = append(out, p)
	}
	return out
}

// phaseLabel names what the timeline does from t on.
func phaseLabel(faults []Fault, t time.Duration) string {
	var during []string
	after := ""
	for i := range faults {
		f := &faults[i]
		switch {
		case inSpan(f, t) && f.FlapPeriod > 0:
			during = append(during, f.Name+" flapping")
		case inSpan(f, t):
			during = append(during, "during "+f.Name)
		case f.End > 0 && t >= f.End:
			after = f.Name // the latest to end, faults being in start order
		}
	}
	switch {
	case len(during) > 0:
		return strings.Join(during, ", ")
	case after != "":
		return "after " + after
	}
	return "before faults"
}

// secondLatencies fills each second's p50 and p99 (requests by start).
func secondLatencies(seconds []Second, in *Input) {
	per := make([][]time.Duration, len(seconds))
	for i := range in.Requests {
		r := &in.Requests[i]
		s := min(int(r.Start/time.Second), len(seconds)-1)
		per[s] = append(per[s], r.End-r.Start)
	}
	for s, lat := range per {
		slices.Sort(lat)
		seconds[s].P50Ms, seconds[s].P99Ms = pct(lat, 50), pct(lat, 99)
	}
}

// failBackCost measures FailBackCost for fault f given its result.
func failBackCost(f *Fault, res *FaultResult, in *Input, b *buckets) *FailBackCost {
	if f.Kind == scenario.Partition || f.End == 0 || f.End >= in.Duration {
		return nil
	}
	if pre, n := targetShare(targets(f, in), b, int((f.Start-preWindow)/bucket), int(f.Start/bucket)); n == 0 || pre == 0 {
		return nil
	}
	end := in.Duration
	c := &FailBackCost{}
	if res.FailBackS != nil {
		end = min(end, f.End+time.Duration(*res.FailBackS*float64(time.Second)))
		c.Recovered = true
	}
	c.WindowS = secs(end - f.End)
	var ref, added time.Duration
	n := 0
	for i := range in.Requests {
		r := &in.Requests[i]
		if r.Start >= f.Start-preWindow && r.Start < f.Start {
			ref += r.End - r.Start
			n++
		}
	}
	if n > 0 {
		ref /= time.Duration(n)
	}
	for i := range in.Requests {
		r := &in.Requests[i]
		if r.Start < f.End || r.Start >= end {
			continue
		}
		c.Requests++
		if crossRegion(in, r) {
			c.CrossRegionRequests++
		}
		added += r.End - r.Start - ref
	}
	c.AddedLatencyRequestS = secs(max(0, added))
	return c
}

// targets are the clusters fault f hits.
func targets(f *Fault, in *Input) []string {
	var out []string
	for c, reg := range in.Regions {
		if f.Target.Hits(c, reg, in.Zones[c]) {
			out = append(out, c)
		}
	}
	return out
}

// targetShare is the share of the requests of buckets [from, to) answered
// by the clusters tg, and how many requests there were.
func targetShare(tg []string, b *buckets, from, to int) (float64, int) {
	from, to = max(0, from), min(to, b.n)
	req, hit := 0, 0
	for k := from; k < to; k++ {
		req += b.requests[k]
		for _, c := range tg {
			if bc := b.byCluster[c]; bc != nil {
				hit += bc[k]
			}
		}
	}
	if req == 0 {
		return 0, 0
	}
	return float64(hit) / float64(req), req
}
