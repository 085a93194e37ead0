package explain

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/detour-mesh/detour/compiler/intent"
)

// WriteText prints a report for people: one line per ladder, then the
// what-if table.
func WriteText(w io.Writer, in intent.Intent, r Report) error {
	s := in.Spec
	mode := s.Failover.Mode
	if mode == intent.ModeWeighted {
		if s.Failover.HealthAware {
			mode += ", health-aware"
		} else {
			mode += ", strict"
		}
	}
	fmt.Fprintf(w, "%s/%s  (mode %s, entry %s)\n\n", in.Metadata.Namespace, in.Metadata.Name, mode, s.Entry.Kind)
	fmt.Fprintln(w, "Failover ladder")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, l := range r.Ladders {
		fmt.Fprintf(tw, "  from %s\t%s\n", l.From, ladderText(l))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Subsets) > 0 {
		fmt.Fprintln(w, "\nSubsets that run in some clusters only (their traffic fails over only there)")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, s := range r.Subsets {
			for _, l := range s.Ladders {
				fmt.Fprintf(tw, "  %s (in %s) from %s\t%s\n", s.Subset, strings.Join(s.Clusters, ","), l.From, ladderText(l))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if c := s.Compose; c != nil {
		fmt.Fprintf(w, "\nComposed routes (%s), ahead of Detour's, with its retries and ladder: %s\n", c.VirtualService, composedText(c))
	}
	fmt.Fprintf(w, "\nWhat if (Envoy priority spill, overprovisioning %.1f; callers keep sending;\n"+
		"  health counts Envoy hosts: a pod locally, a WorkloadEntry per remote cluster%s)\n", OverprovisioningFactor, subsetNote(in))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  LOST\tTRAFFIC MOVES\tLOAD AFTER / CAPACITY (rps)\tVERDICT")
	for _, l := range r.WhatIf {
		fmt.Fprintf(tw, "  %s %s\t%s\t%s\t%s\n", l.Lost.Kind, l.Lost.Name, movesText(l), loadText(l), verdict(l))
	}
	return tw.Flush()
}

func ladderText(l Ladder) string {
	if len(l.Tiers) == 0 {
		return "nowhere"
	}
	var parts []string
	for _, t := range l.Tiers {
		var cs []string
		for _, c := range t.Clusters {
			cs = append(cs, fmt.Sprintf("%s %s%%", c.Cluster, num(c.Percent)))
		}
		p := fmt.Sprintf("P%d ", t.Priority)
		if t.Standby {
			p += "standby "
		}
		parts = append(parts, p+strings.Join(cs, ", "))
	}
	out := strings.Join(parts, "  ->  ")
	if l.Strict {
		out += "  (strict split, no failover)"
	}
	return out
}

func movesText(l Loss) string {
	var parts []string
	for _, m := range l.Moves {
		s := fmt.Sprintf("%s -> %s %s%%", m.From, m.To, num(m.Percent))
		if m.RPS > 0 {
			s += fmt.Sprintf(" (%s rps)", num(m.RPS))
		}
		parts = append(parts, s)
	}
	for _, d := range l.Dropped {
		s := fmt.Sprintf("%s drops %s%%", d.From, num(d.Percent))
		if d.RPS > 0 {
			s += fmt.Sprintf(" (%s rps)", num(d.RPS))
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

func loadText(l Loss) string {
	var parts []string
	for _, x := range l.Load {
		c := "?"
		if x.Capacity > 0 {
			c = num(x.Capacity)
		}
		parts = append(parts, fmt.Sprintf("%s %s/%s", x.Cluster, num(x.RPS), c))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func verdict(l Loss) string {
	var v []string
	if len(l.Overloaded) > 0 {
		v = append(v, "OVERLOADED "+strings.Join(l.Overloaded, ","))
	}
	if len(l.Stranded) > 0 {
		v = append(v, "FAILS for "+strings.Join(l.Stranded, ","))
	}
	if len(v) == 0 {
		if len(l.Unjudged) > 0 {
			v = append(v, "not judged: "+strings.Join(l.Unjudged, ","))
		} else {
			v = append(v, "absorbed")
		}
	}
	var why []string
	if len(l.CapacityUnknown) > 0 {
		why = append(why, "capacity unknown: "+strings.Join(l.CapacityUnknown, ","))
	}
	if len(l.LoadUnknown) > 0 {
		why = append(why, "load unknown: "+strings.Join(l.LoadUnknown, ","))
	}
	if len(why) > 0 {
		v = append(v, "("+strings.Join(why, "; ")+")")
	}
	return strings.Join(v, " ")
}

// subsetNote says how many WorkloadEntries a remote cluster has.
func subsetNote(in intent.Intent) string {
	if n := len(in.Spec.Subsets); n > 1 {
		return fmt.Sprintf(" and subset (%d)", n)
	}
	return ""
}

// num prints a figure without trailing zeros.
func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// composedText is one clause per team route: its name and where it sends.
func composedText(c *intent.Compose) string {
	var parts []string
	for i, r := range c.Routes {
		name := c.RouteName(i)
		var to []string
		for _, d := range r.GetRoute() {
			sub := d.GetDestination().GetSubset()
			if sub == "" {
				sub = "any version"
			}
			if len(r.GetRoute()) > 1 {
				sub += " " + strconv.Itoa(int(d.GetWeight())) + "%"
			}
			to = append(to, sub)
		}
		parts = append(parts, name+" -> "+strings.Join(to, ", "))
	}
	return strings.Join(parts, "; ")
}
