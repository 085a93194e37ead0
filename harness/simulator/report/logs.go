// The filters' log as the report reads it: their state transitions and
// their ejections and returns (failback.go reads the returns' ramps).

package report

import (
	"regexp"
	"strings"
	"time"
)

// LogLine is one line of the filters' log: when, and what.
type LogLine struct {
	Time    time.Time
	Message string
}

// transitionLine is the filters' state-machine log line (docs/filters.md,
// "Log lines"): "detour: <host>: <FROM> -> <TO> (<trigger>)".
var transitionLine = regexp.MustCompile(`^detour: (\S+): ([A-Z_]+) -> ([A-Z_]+) \((.*)\)$`)

// Transitions reads the state transitions from the filters' log. The
// state is shared by every worker, so the same transition logged by
// several workers at one instant is one transition.
func Transitions(logs []LogLine, start time.Time, proxy string) []Transition {
	out := []Transition{}
	for _, l := range logs {
		m := transitionLine.FindStringSubmatch(l.Message)
		if m == nil {
			continue
		}
		t := Transition{AtS: secs(l.Time.Sub(start)), Proxy: proxy, Service: m[1], From: m[2], To: m[3], Trigger: m[4]}
		if n := len(out); n > 0 && out[n-1].AtS == t.AtS && out[n-1].From == t.From && out[n-1].To == t.To {
			continue
		}
		out = append(out, t)
	}
	return out
}

// FilterEvents are the filters' ejections and returns, as health events.
func FilterEvents(logs []LogLine, start time.Time, proxy string) []Event {
	var out []Event
	for _, l := range logs {
		msg := l.Message
		if !strings.HasPrefix(msg, "detour: ") {
			continue
		}
		kind := ""
		switch {
		case strings.Contains(msg, ": ejected "):
			kind = "filter-eject"
		case strings.Contains(msg, "back in service"):
			kind = "filter-back"
		default:
			continue
		}
		out = append(out, Event{At: l.Time.Sub(start), Proxy: proxy, Kind: kind, Detail: strings.TrimPrefix(msg, "detour: ")})
	}
	return out
}
