package scenario

import (
	"fmt"
	"slices"
)

// fleet reads traffic.fleet and traffic.sources.
func (v *validator) fleet(t *TrafficFile, out *Traffic) {
	switch t.Fleet.Value {
	case "", "false":
	case "true":
		out.Fleet = true
	default:
		v.fail(t.Fleet, "traffic.fleet", fmt.Sprintf("expected true or false, got %q", t.Fleet.Value))
	}
	names := make([]string, 0, len(t.Sources))
	for n := range t.Sources {
		names = append(names, n)
	}
	slices.Sort(names)
	total := 0.0
	for _, n := range names {
		p := "traffic.sources." + n
		v.name(n, p, true)
		r := v.number(t.Sources[n], p, 0, 0, 1e6)
		total += r
		out.Sources = append(out.Sources, Weighted{n, r})
	}
	if len(names) > 0 {
		out.Fleet = true
	}
	if total*out.Duration.Seconds() > MaxRequests {
		v.failf("traffic.sources", "the sources' rate × duration is %.0f requests; expected at most 50 million", total*out.Duration.Seconds())
	}
}

// MaxRequests bounds a drill's requests: a source's rate × duration,
// and a fleet's in all (the messages say "50 million").
const MaxRequests = 50e6

// Source is the rate the scenario gives cluster c (ok false: not given).
func (t *Traffic) Source(c string) (float64, bool) {
	for _, s := range t.Sources {
		if s.Name == c {
			return s.Weight, true
		}
	}
	return 0, false
}
