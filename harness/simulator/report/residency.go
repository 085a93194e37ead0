package report

import (
	"slices"
	"strings"
)

// Data residency (expect.maxShareOutside): over the whole run, faults
// included, the share of the entry proxy's requests that sent an attempt
// to a cluster outside the allowed regions. Any attempt counts, answered
// or not: a connect or a retry that leaves the regions already sent the
// request (or its connection) there.

// regionShare is, per region, the share of the requests that sent at
// least one attempt to one of its clusters.
func regionShare(in *Input) map[string]float64 {
	out := map[string]float64{}
	if len(in.Requests) == 0 {
		return out
	}
	n := map[string]int{}
	for i := range in.Requests {
		seen := map[string]bool{}
		for _, a := range in.Requests[i].Attempts {
			if reg, ok := in.Regions[a.Cluster]; ok && !seen[reg] {
				seen[reg] = true
				n[reg]++
			}
		}
	}
	for reg, c := range n {
		out[reg] = round(float64(c) / float64(len(in.Requests)))
	}
	return out
}

// shareOutside is the share of the requests with an attempt to a cluster
// whose region is not in regions.
func shareOutside(in *Input, regions []string) float64 {
	if len(in.Requests) == 0 {
		return 0
	}
	out := 0
	for i := range in.Requests {
		if slices.ContainsFunc(in.Requests[i].Attempts, func(a AttemptRecord) bool {
			reg, ok := in.Regions[a.Cluster]
			return ok && !slices.Contains(regions, reg)
		}) {
			out++
		}
	}
	return round(float64(out) / float64(len(in.Requests)))
}

// CheckAll checks every expectation of e on the run.
func CheckAll(e Expect, run *RunReport, in *Input) []Expectation {
	return append(check(e, run), residency(e, in)...)
}

// residency is the maxShareOutside expectation, if e has one.
func residency(e Expect, in *Input) []Expectation {
	r := e.MaxShareOutside
	if r == nil {
		return nil
	}
	m := shareOutside(in, r.Regions)
	return []Expectation{{Name: "maxShareOutside", Limit: round(r.Max), Measured: ptr(m),
		Unit: "share outside " + strings.Join(r.Regions, " | "), OK: m <= r.Max}}
}
