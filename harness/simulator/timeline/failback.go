package timeline

import (
	"fmt"
	"strings"
)

// Failback is a recovered target's way back: held at 0 % from Start to
// HoldEnd, then ramped in Steps until End (the last step, 100 %, or a
// new ejection). Drawn in a lane of its own above the share chart, so
// that a FAILING_BACK tick followed by a quiet hold-down reads as what
// it is.
type Failback struct {
	// Label names the target ("cluster-1").
	Label          string
	Start, HoldEnd float64
	Steps          []Step
	End            float64
}

// Step is one ramp step: from At, the target takes Percent of its share.
type Step struct {
	At      float64
	Percent float64
}

// failbackLane is the lane's height; the ramp's staircase fills it at
// 100 %.
const failbackLane = 16

func (pn *Panel) failbackHeight() float64 {
	if len(pn.Failbacks) == 0 {
		return 0
	}
	return failbackLane
}

// validateFailbacks names the first bad field of panel i's failbacks.
func (pn *Panel) validateFailbacks(i int) error {
	for j, f := range pn.Failbacks {
		path := fmt.Sprintf("timeline: panels[%d].failbacks[%d]", i, j)
		if f.Start != f.Start || f.HoldEnd != f.HoldEnd || f.End != f.End || f.Start < 0 || f.HoldEnd < f.Start || f.End < f.HoldEnd {
			return fmt.Errorf("%s: start %v, hold-down end %v, end %v, want 0 <= start <= hold-down end <= end", path, f.Start, f.HoldEnd, f.End)
		}
		last := f.HoldEnd
		for k, s := range f.Steps {
			if s.At != s.At || s.At < last || s.At > f.End || s.Percent < 0 || s.Percent > 100 {
				return fmt.Errorf("%s.steps[%d]: %v%% at %v, want steps in time order within [hold-down end, end], 0..100 %%", path, k, s.Percent, s.At)
			}
			last = s.At
		}
	}
	return nil
}

// failbackText is the lane's label: the target, the hold-down and the
// ramp's percentages.
func failbackText(f Failback) string {
	var pct []string
	for _, s := range f.Steps {
		pct = append(pct, label(s.Percent))
	}
	text := f.Label + " failing back: hold-down " + label(round1(f.HoldEnd-f.Start)) + " s"
	if len(pct) > 0 {
		text += ", ramp " + strings.Join(pct, "→") + " %"
	}
	return text
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// failbacks draws the lane at top: the hold-down as an outlined span at
// 0 %, the ramp as a staircase rising to the lane's top at 100 %, and the
// label after the span (before it when there is no room).
func (r *renderer) failbacks(pn *Panel, top float64) {
	right := float64(marginLeft + plotWidth)
	h := float64(failbackLane - 4)
	bottom := top + h
	for _, f := range pn.Failbacks {
		x0, x1, x2 := r.x(f.Start), r.x(f.HoldEnd), r.x(f.End)
		r.f(`<g data-failback="%s">`, esc(f.Label))
		r.f(`<rect class="lane" x="%s" y="%s" width="%s" height="%s"/>`, num(x0), num(top), num(max(x1-x0, 1)), num(h))
		if len(f.Steps) > 0 {
			var d strings.Builder
			fmt.Fprintf(&d, "M%s %s", num(x1), num(bottom))
			for k, s := range f.Steps {
				next := f.End
				if k+1 < len(f.Steps) {
					next = f.Steps[k+1].At
				}
				y := bottom - h*s.Percent/100
				fmt.Fprintf(&d, "H%sV%sH%s", num(r.x(s.At)), num(y), num(max(r.x(next), r.x(s.At)+1)))
			}
			fmt.Fprintf(&d, "V%sZ", num(bottom))
			r.f(`<path class="tick" data-ramp="%d" d="%s"/>`, len(f.Steps), d.String())
		}
		text := failbackText(f)
		tx, anchor := x2+4, ""
		if tx+textWidth(text) > right {
			tx, anchor = x0-4, ` text-anchor="end"`
		}
		r.f(`<text class="fg small" x="%s" y="%s"%s>%s</text>`, num(tx), num(top+10), anchor, esc(text))
		r.f("</g>\n")
	}
}
