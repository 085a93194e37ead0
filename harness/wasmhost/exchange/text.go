package exchange

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes a readable summary of a report: per request the
// response, its flags, the route and cluster taken, local replies and the
// lines the plugin logged on that stream; then the other log lines, traps,
// http calls and metrics. JSON stays the format for machines.
func WriteText(w io.Writer, rep *Report) error {
	var b strings.Builder
	for i, s := range rep.Streams {
		fmt.Fprintf(&b, "request %d (worker %d): %s\n", i+1, s.Worker, requestLine(s.request))
		route, cluster := "", ""
		if s.info != nil {
			route, cluster = s.info.RouteName, s.info.ClusterName
		}
		if s.Upstream != nil {
			route, cluster = s.Upstream.Route, s.Upstream.Cluster
		}
		fmt.Fprintf(&b, "  route %s, cluster %s\n", orNone(route), orNone(cluster))
		switch r := s.Response; {
		case !s.Complete || r == nil:
			b.WriteString("  incomplete: no response yet\n")
		case r.Reset:
			fmt.Fprintf(&b, "  reset at %s (%s)\n", r.At, r.Details)
		default:
			fmt.Fprintf(&b, "  response %d at %s, details %s", r.Status, r.At, orNone(r.Details))
			if len(r.Flags) > 0 {
				fmt.Fprintf(&b, ", flags %s", strings.Join(r.Flags, ","))
			}
			if r.Body != "" {
				body := r.Body
				if len(body) > 60 {
					body = body[:60] + "..."
				}
				fmt.Fprintf(&b, ", body %q", body)
			}
			b.WriteString("\n")
		}
		for _, lr := range s.LocalReplies {
			fmt.Fprintf(&b, "  local reply by %s at %s: %d %s", orNone(lr.Filter), lr.At, lr.Status, orNone(lr.Details))
			if lr.Body != "" {
				fmt.Fprintf(&b, " %q", lr.Body)
			}
			b.WriteString("\n")
		}
		for _, l := range s.logs {
			fmt.Fprintf(&b, "  %s %-5s %s\n", l.At, l.Level, l.Envoy)
		}
	}
	var other []string
	for _, l := range rep.Logs {
		if l.Stream == nil {
			other = append(other, fmt.Sprintf("  %s worker %d %-5s %s\n", l.At, l.Worker, l.Level, l.Envoy))
		}
	}
	if len(other) > 0 {
		b.WriteString("other logs:\n")
		b.WriteString(strings.Join(other, ""))
	}
	if len(rep.HTTPCalls) > 0 {
		b.WriteString("http calls:\n")
		for _, c := range rep.HTTPCalls {
			fmt.Fprintf(&b, "  %s worker %d %s -> %s\n", c.At, c.Worker, c.Cluster, c.Outcome)
		}
	}
	fmt.Fprintf(&b, "traps: %d\n", len(rep.Traps))
	for _, t := range rep.Traps {
		fmt.Fprintf(&b, "  %s worker %d in %s: %s\n", t.At, t.Worker, t.Callback, t.Message)
	}
	if rep.Reloads > 0 {
		fmt.Fprintf(&b, "VM reloads: %d\n", rep.Reloads)
	}
	if rep.Prometheus != "" {
		b.WriteString("metrics:\n")
		for _, l := range strings.SplitAfter(rep.Prometheus, "\n") {
			if l != "" && !strings.HasPrefix(l, "# ") {
				b.WriteString("  " + l)
			}
		}
	}
	fmt.Fprintf(&b, "elapsed: %s\n", rep.Elapsed)
	_, err := io.WriteString(w, b.String())
	return err
}

func requestLine(h [][2]string) string {
	get := func(k string) string {
		for _, p := range h {
			if strings.EqualFold(p[0], k) {
				return p[1]
			}
		}
		return ""
	}
	return get(":method") + " " + get(":authority") + get(":path")
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
