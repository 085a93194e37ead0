// A fleet drill's report (sim's fleet.go runs the drill): every source's
// requests and errors, the fleet's total, and per fault the load each
// cluster's pods served against their capacity.

package report

import (
	"fmt"
	"strings"
	"time"
)

// FleetReport is a fleet drill's view over every source.
type FleetReport struct {
	Sources []SourceReport `json:"sources"`
	Total   SourceReport   `json:"total"`
	// Faults: per fault, the load each cluster's pods served while it was
	// active, and the overflow errors users saw then.
	Faults []FleetFault `json:"faults"`
}

// SourceReport is one source cluster's client sidecar (or all of them).
type SourceReport struct {
	Cluster           string  `json:"cluster"`
	Rate              float64 `json:"rate"`
	Requests          int     `json:"requests"`
	UserVisibleErrors int     `json:"userVisibleErrors"`
	// OverflowErrors are user-visible errors whose last attempt found the
	// pods over capacity (503 overflow).
	OverflowErrors int `json:"overflowErrors"`
	// Seconds is, per second, the source's requests and where they were
	// answered (Share in the order of RunReport.Clusters); the entry
	// proxy's are the run's own Seconds, so it has none here.
	Seconds []SourceSecond `json:"seconds,omitempty"`
}

// SourceSecond is one second of a source's traffic.
type SourceSecond struct {
	T        int       `json:"t"`
	Requests int       `json:"requests"`
	Errors   int       `json:"errors"`
	Share    []float64 `json:"share"`
}

// FleetFault is the fleet's load while one fault was active, measured from
// fleetSettle after its start (detection and failover done) to its end,
// and the errors users saw from its start to its end.
type FleetFault struct {
	Fault    string        `json:"fault"`
	FromS    float64       `json:"fromS"`
	ToS      float64       `json:"toS"`
	Clusters []ClusterLoad `json:"clusters"`
	// OverflowErrors over every source in the window: none means the
	// survivors absorbed the load.
	OverflowErrors int `json:"overflowErrors"`
	// UserVisibleErrors over every source in the window.
	UserVisibleErrors int `json:"userVisibleErrors"`
}

// ClusterLoad is the mean requests/s a cluster's pods served (overflow
// refusals left out) against their capacity (0: unlimited).
type ClusterLoad struct {
	Cluster  string  `json:"cluster"`
	RPS      float64 `json:"rps"`
	Capacity float64 `json:"capacity"`
}

// fleetSettle is how long after a fault's start the fleet's load is read:
// detection and failover take well under it in every drill.
const fleetSettle = 5 * time.Second

// FleetInput is what a fleet drill recorded besides the entry proxy's
// requests.
type FleetInput struct {
	Clusters []string           // report order
	Capacity map[string]float64 // per cluster: its pods' requests/s (0: unlimited)
	Duration time.Duration
	// Served is, per second, per cluster, the attempts a pod served
	// (overflow refusals left out).
	Served  [][]int
	Sources []*FleetSource
}

// FleetSource is one source cluster's client sidecar while it runs.
type FleetSource struct {
	SourceReport
	Entry      bool // the entry proxy: counted from the run's records
	OverflowAt []time.Duration
	ErrorAt    []time.Duration
	// Answered counts, per second, the requests each cluster (then
	// "none") answered; Errors the user-visible errors.
	Answered [][]int
	Errors   []int
}

// Overflowed: the request's last attempt found the pods over capacity.
func Overflowed(atts []AttemptRecord) bool {
	return len(atts) > 0 && strings.Contains(atts[len(atts)-1].Cause, "over capacity")
}

// Fleet sums a fleet drill up: the entry proxy's requests (entry) are
// counted into its source, then every source into the total and, per
// fault, the load each cluster served and the errors users saw.
func Fleet(faults []Fault, fl *FleetInput, entry []RequestRecord) *FleetReport {
	out := &FleetReport{Total: SourceReport{Cluster: "total"}}
	var overflowAt, errorAt []time.Duration
	for _, src := range fl.Sources {
		if src.Entry {
			for _, r := range entry {
				src.Requests++
				if IsUserVisibleError(r.Status) {
					src.UserVisibleErrors++
					src.ErrorAt = append(src.ErrorAt, r.Start)
					if Overflowed(r.Attempts) {
						src.OverflowErrors++
						src.OverflowAt = append(src.OverflowAt, r.Start)
					}
				}
			}
		}
		for t, counts := range src.Answered {
			n := 0
			for _, c := range counts {
				n += c
			}
			sec := SourceSecond{T: t, Requests: n, Errors: src.Errors[t], Share: make([]float64, len(counts))}
			for j, c := range counts {
				if n > 0 {
					sec.Share[j] = round(float64(c) / float64(n))
				}
			}
			src.Seconds = append(src.Seconds, sec)
		}
		out.Sources = append(out.Sources, src.SourceReport)
		out.Total.Rate += src.Rate
		out.Total.Requests += src.Requests
		out.Total.UserVisibleErrors += src.UserVisibleErrors
		out.Total.OverflowErrors += src.OverflowErrors
		overflowAt = append(overflowAt, src.OverflowAt...)
		errorAt = append(errorAt, src.ErrorAt...)
	}
	for _, f := range faults {
		from, to := f.Start+fleetSettle, f.End
		if to == 0 || to > fl.Duration {
			to = fl.Duration
		}
		if to <= from {
			continue
		}
		ff := FleetFault{Fault: f.Name, FromS: secs(from), ToS: secs(to)}
		for i, c := range fl.Clusters {
			n := 0
			for sec := int(from / time.Second); sec < int(to/time.Second) && sec < len(fl.Served); sec++ {
				if fl.Served[sec] != nil {
					n += fl.Served[sec][i]
				}
			}
			ff.Clusters = append(ff.Clusters, ClusterLoad{Cluster: c, RPS: float64(n) / (to - from).Seconds(), Capacity: fl.Capacity[c]})
		}
		// Errors count from the fault's start: detection is immediate in
		// a drill of a loss (connections refused).
		for _, t := range overflowAt {
			if t >= f.Start && t < to {
				ff.OverflowErrors++
			}
		}
		for _, t := range errorAt {
			if t >= f.Start && t < to {
				ff.UserVisibleErrors++
			}
		}
		out.Faults = append(out.Faults, ff)
	}
	return out
}

// fleetRows adds the fleet's rows to the summary's table: per source its
// errors and overflow errors, and per fault each cluster's load against
// its capacity with the verdict (absorbed: no overflow errors).
func fleetRows(runs []RunReport, row func(string, func(RunReport) string, func(a, b RunReport) string)) {
	if len(runs) == 0 || runs[0].Fleet == nil {
		return
	}
	first := runs[0].Fleet
	none := func(RunReport) string { return "" }
	row("sources: errors / overflow", none, nil)
	for i, s := range first.Sources {
		row(fmt.Sprintf("  %s %g rps", s.Cluster, s.Rate), func(run RunReport) string {
			x := run.Fleet.Sources[i]
			return fmt.Sprintf("%d / %d", x.UserVisibleErrors, x.OverflowErrors)
		}, nil)
	}
	// Every run sends the same requests (one seed), so their count is the
	// row's label and the cells stay narrow enough for the columns.
	row(fmt.Sprintf("  fleet %g rps, %d requests", first.Total.Rate, first.Total.Requests), func(run RunReport) string {
		x := run.Fleet.Total
		return fmt.Sprintf("%d / %d", x.UserVisibleErrors, x.OverflowErrors)
	}, nil)
	for i, f := range first.Faults {
		row(f.Fault+" load", none, nil)
		for j, c := range f.Clusters {
			row(fmt.Sprintf("  %s rps", c.Cluster), func(run RunReport) string {
				x := run.Fleet.Faults[i].Clusters[j]
				if x.Capacity == 0 {
					return fmt.Sprintf("%.0f", x.RPS)
				}
				return fmt.Sprintf("%.0f/%.0f", x.RPS, x.Capacity)
			}, nil)
		}
		row(f.Fault+" verdict", func(run RunReport) string {
			if n := run.Fleet.Faults[i].OverflowErrors; n > 0 {
				return fmt.Sprintf("OVERLOADED (%d)", n)
			}
			return "absorbed"
		}, nil)
	}
}
