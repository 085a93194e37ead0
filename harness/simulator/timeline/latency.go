// The latency strip and the step areas it draws with, on a scale rounded
// to a readable step.

package timeline

import (
	"fmt"
	"math"
	"strings"
)

// latency draws the latency strip from top: the p99 band, the p50 over
// it, on the scale shared by every panel.
func (r *renderer) latency(pn *Panel, top float64) {
	left := float64(marginLeft)
	bottom := top + latencyHeight
	r.f(`<rect class="plot" x="%s" y="%s" width="%d" height="%d"/>`+"\n", num(left), num(top), plotWidth, latencyHeight)
	for _, f := range pn.Faults {
		x0, x1 := r.x(f.Start), r.x(r.end(f))
		r.f(`<rect fill="url(#fault)" x="%s" y="%s" width="%s" height="%d"/>`+"\n", num(x0), num(top), num(x1-x0), latencyHeight)
	}
	for _, l := range []struct {
		class, name string
		v           []float64
	}{{"lat99", "p99", pn.LatencyP99}, {"lat50", "p50", pn.LatencyP50}} {
		v := make([]float64, pn.samples())
		for i, ms := range l.v {
			v[i] = ms / r.latScale
		}
		r.f(`<path class="%s" data-latency="%s" d="%s"/>`+"\n", l.class, l.name, r.stepArea(v, top, bottom, 1))
	}
	r.f(`<text class="mu small" x="%s" y="%s" text-anchor="end">%sms</text>`+"\n", num(left-6), num(top+9), label(r.latScale))
	r.f(`<text class="mu small" x="%s" y="%s" text-anchor="end">0</text>`+"\n", num(left-6), num(bottom))
	r.f(`<text class="mu small" transform="translate(%s %s) rotate(-90)" text-anchor="middle">latency</text>`+"\n",
		num(left-44), num(top+latencyHeight/2))
}

// stepArea is a filled area from bottom up to v[i] (0..1 of the height)
// over each sample's interval, as a single path with absolute H/V
// commands: a run of equal samples costs nothing, so a 10-minute run at
// 1 s is a few hundred bytes per band unless it is noisy.
func (r *renderer) stepArea(v []float64, top, bottom float64, full float64) string {
	y := func(i int) string { return num(bottom - (bottom-top)*min(v[i], full)/full) }
	var b strings.Builder
	fmt.Fprintf(&b, "M%s %s", num(r.x(0)), num(bottom))
	if len(v) == 0 {
		b.WriteString("Z")
		return b.String()
	}
	cur := y(0)
	fmt.Fprintf(&b, "V%s", cur)
	for i := 1; i < len(v); i++ {
		if yi := y(i); yi != cur {
			fmt.Fprintf(&b, "H%sV%s", num(r.x(float64(i)*r.step)), yi)
			cur = yi
		}
	}
	fmt.Fprintf(&b, "H%sV%sZ", num(r.x(float64(len(v))*r.step)), num(bottom))
	return b.String()
}

// niceCeil rounds up to 1, 2 or 5 × 10^k (at least 1).
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// niceStep is the x tick interval: at most 10 ticks, on round seconds.
func niceStep(d float64) float64 {
	for _, s := range []float64{1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600} {
		if d/s <= 10 {
			return s
		}
	}
	return niceCeil(d / 10)
}
