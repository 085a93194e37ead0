package scenario

import (
	"fmt"
	"slices"
	"strings"
)

// ShareOutsideFile is expect.maxShareOutside as written:
//
//	maxShareOutside: {regions: [eu-west1], max: 0%}
//
// reads "at most 0 % of the requests reach a region other than eu-west1".
type ShareOutsideFile struct {
	Regions []string `yaml:"regions"`
	Max     Scalar   `yaml:"max"`
}

// ShareOutside is a validated residency expectation: at most Max (0..1)
// of the entry proxy's requests send an attempt to a cluster outside
// Regions, over the whole run, faults included (a retry or a failover
// that leaves the regions counts, whether or not it was answered).
type ShareOutside struct {
	Regions []string // in name order
	Max     float64
}

// String is the regions as people read them ("eu-west1 | eu-north1").
func (s *ShareOutside) String() string { return strings.Join(s.Regions, " | ") }

func (v *validator) shareOutside(f *ShareOutsideFile, field string) *ShareOutside {
	out := &ShareOutside{}
	if len(f.Regions) == 0 {
		v.failf(field, "expected regions: the regions the requests may reach, such as {regions: [eu-west1], max: 0%%}")
	}
	for i, r := range f.Regions {
		p := fmt.Sprintf("%s.regions[%d]", field, i)
		v.name(r, p, true)
		if slices.Contains(out.Regions, r) {
			v.failf(p, "region %q listed twice", r)
		}
		out.Regions = append(out.Regions, r)
	}
	slices.Sort(out.Regions)
	if !f.Max.Set() {
		v.failf(field, "expected max: the share of requests that may leave the regions, such as 0%% (none)")
	}
	out.Max = v.share(f.Max, field+".max", 0)
	return out
}
