package report

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// FailbackReport is one return of a recovered target by the filters: held
// at 0 % from StartS (its good probe) to HoldDownEndS, then ramped in
// Steps (the router's failback ramp, plugins/router RampShare) until EndS,
// the last step or a new ejection, whichever came first.
type FailbackReport struct {
	Service      string     `json:"service"`
	Target       string     `json:"target"`
	StartS       float64    `json:"startS"`
	HoldDownEndS float64    `json:"holdDownEndS"`
	Steps        []RampStep `json:"steps"`
	EndS         float64    `json:"endS"`
}

// RampStep is one step of a ramp: from AtS the target takes Percent of
// its share.
type RampStep struct {
	AtS     float64 `json:"atS"`
	Percent float64 `json:"percent"`
}

// backLine and ejectLine are the filters' log lines for a target's return
// and ejection (plugins/filters/service.go, docs/filters.md).
var (
	backLine  = regexp.MustCompile(`^detour: (\S+): probe of (\S+) answered \d+: back in service, hold-down (\d+)ms then ramp \[([0-9 ]*)\]$`)
	ejectLine = regexp.MustCompile(`^detour: (\S+): ejected (\S+) for `)
)

// Failbacks reads the targets' returns from the filters' log, with the
// ramp's steps as the router applies them (steps: each service's step
// interval), cut at the target's next ejection and at the run's end.
func Failbacks(logs []LogLine, start time.Time, steps map[string]time.Duration, dur time.Duration) []FailbackReport {
	out := []FailbackReport{}
	seen := map[string]bool{}
	for i, l := range logs {
		m := backLine.FindStringSubmatch(l.Message)
		if m == nil {
			continue
		}
		at := l.Time.Sub(start)
		// Every worker logs the same return at the same instant.
		key := m[1] + " " + m[2] + " " + at.String()
		if seen[key] {
			continue
		}
		seen[key] = true
		hd, _ := strconv.Atoi(m[3])
		end := dur
		for _, e := range logs[i+1:] {
			if em := ejectLine.FindStringSubmatch(e.Message); em != nil && em[1] == m[1] && em[2] == m[2] && e.Time.Sub(start) > at {
				end = min(end, e.Time.Sub(start))
				break
			}
		}
		fb := FailbackReport{Service: m[1], Target: m[2], StartS: secs(at)}
		hold := min(at+time.Duration(hd)*time.Millisecond, end)
		fb.HoldDownEndS = secs(hold)
		t := hold
		for k, p := range strings.Fields(m[4]) {
			t = at + time.Duration(hd)*time.Millisecond + time.Duration(k)*steps[m[1]]
			if t >= end {
				t = end
				break
			}
			pct, _ := strconv.ParseFloat(p, 64)
			fb.Steps = append(fb.Steps, RampStep{AtS: secs(t), Percent: pct})
		}
		fb.EndS = secs(max(t, hold))
		out = append(out, fb)
	}
	return out
}
