package timeline

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Layout, in SVG user units (px at 100 %).
const (
	width         = 960
	marginLeft    = 64
	marginRight   = 24
	plotWidth     = width - marginLeft - marginRight
	headerTitle   = 28
	headerSub     = 47
	legendTop     = 62
	legendRow     = 20
	titleRow      = 24
	faultLane     = 18
	markLane      = 15
	maxMarkLanes  = 2
	shareHeight   = 150
	stripGap      = 8
	errorsHeight  = 52
	latencyHeight = 52
	axisHeight    = 22
	panelGap      = 18
	fontSize      = 12
	// charWidth estimates a character's advance at fontSize in a system
	// sans-serif, to keep labels from overlapping without measuring text.
	charWidth = 0.6 * fontSize
)

// fontStack is the system fonts of each platform; no web font, so the
// file stays self-contained and renders the same offline.
const fontStack = `system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","Liberation Sans","DejaVu Sans",sans-serif`

// Render writes p as a self-contained SVG document. The same Plot always
// gives the same bytes.
func Render(w io.Writer, p Plot) error {
	if err := p.validate(); err != nil {
		return err
	}
	r := &renderer{p: &p, colors: p.Colors(), dur: p.duration(), step: p.step()}
	r.errMax = 0
	for _, pn := range p.Panels {
		for _, v := range pn.Errors {
			r.errMax = max(r.errMax, v)
		}
	}
	r.errScale = niceCeil(r.errMax)
	r.latScale = p.latencyScale()
	bw := bufio.NewWriter(w)
	r.w = bw
	r.render()
	return bw.Flush()
}

type renderer struct {
	w        *bufio.Writer
	p        *Plot
	colors   map[string]int
	dur      float64
	step     float64
	errMax   float64
	errScale float64
	latScale float64 // ms
}

func (r *renderer) f(format string, a ...any) { fmt.Fprintf(r.w, format, a...) }

// num formats a coordinate with one decimal, without a trailing ".0":
// fixed precision keeps the output byte-for-byte stable and small.
func num(v float64) string {
	s := strconv.FormatFloat(math.Round(v*10)/10, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s == "-0" {
		s = "0"
	}
	return s
}

// esc escapes text for XML content and attribute values.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails
	return b.String()
}

// label formats a number of seconds or errors for people (no exponent).
func label(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func (r *renderer) x(t float64) float64 {
	return marginLeft + plotWidth*min(max(t, 0), r.dur)/r.dur
}

func textWidth(s string) float64 { return charWidth * float64(len([]rune(s))) }

func (r *renderer) render() {
	panelsTop, legend := r.legendLayout()
	heights := make([]float64, len(r.p.Panels))
	layouts := make([]panelLayout, len(r.p.Panels))
	total := panelsTop
	for i := range r.p.Panels {
		layouts[i] = r.layoutPanel(&r.p.Panels[i])
		heights[i] = layouts[i].height
		total += heights[i]
	}
	h := math.Ceil(total)
	r.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%s" viewBox="0 0 %d %s" role="img" aria-labelledby="title">`+"\n", width, num(h), width, num(h))
	r.f("<title id=\"title\">%s</title>\n", esc(r.p.Title))
	r.f("<desc>%s</desc>\n", esc(r.desc()))
	r.style()
	// Faults are hatched: a hatch reads as "fault" in both themes and
	// cannot be mistaken for a series' solid fill.
	r.f(`<defs><pattern id="fault" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><path class="hatch" d="M0 0V6"/></pattern></defs>` + "\n")
	r.f(`<rect class="bg" width="%d" height="%s" rx="6"/>`+"\n", width, num(h))
	r.f(`<text class="fg title" x="%d" y="%d">%s</text>`+"\n", marginLeft-40, headerTitle, esc(r.p.Title))
	if r.p.Subtitle != "" {
		r.f(`<text class="mu" x="%d" y="%d">%s</text>`+"\n", marginLeft-40, headerSub, esc(r.p.Subtitle))
	}
	for _, it := range legend {
		r.f("%s\n", it)
	}
	y := panelsTop
	for i := range r.p.Panels {
		r.panel(&r.p.Panels[i], layouts[i], y)
		y += heights[i]
	}
	r.f("</svg>\n")
}

// desc is the text alternative: what the picture shows, for screen readers.
func (r *renderer) desc() string {
	var names []string
	for _, pn := range r.p.Panels {
		names = append(names, pn.Title)
	}
	d := fmt.Sprintf("Timeline of %s s: traffic share per cluster and user-visible errors per second, faults and state transitions, for %s.",
		label(r.dur), strings.Join(names, ", "))
	if len(r.p.Panels[0].Sources) > 0 {
		d += " Under each run, the traffic share of every other source of the fleet."
	}
	return d
}

func (r *renderer) style() {
	var b strings.Builder
	b.WriteString("<style>\n")
	fmt.Fprintf(&b, "text{font-family:%s;font-size:%dpx}\n", fontStack, fontSize)
	b.WriteString(".title{font-size:17px;font-weight:600}.ptitle{font-size:14px;font-weight:600}.small{font-size:11px}\n")
	theme := func(dark bool) {
		pick := func(c struct{ Light, Dark string }) string {
			if dark {
				return c.Dark
			}
			return c.Light
		}
		th := map[bool][]string{
			false: {"#ffffff", "#1f2328", "#59636e", "#f6f8fa", "#d1d9e0", "#eaeef2", "#818b98"},
			true:  {"#0d1117", "#e6edf3", "#9198a1", "#161b22", "#3d444d", "#262c36", "#9198a1"},
		}[dark]
		bg, fg, mu, plot, grid, lane, edge := th[0], th[1], th[2], th[3], th[4], th[5], th[6]
		_ = bg
		fmt.Fprintf(&b, ".bg{fill:%s}.fg{fill:%s}.mu{fill:%s}.plot{fill:%s}.axis{stroke:%s;fill:none}\n", pick(Background), fg, mu, plot, grid)
		fmt.Fprintf(&b, ".grid{stroke:%s;stroke-opacity:.55;fill:none}.lane{fill:%s;stroke:%s}.hatch{stroke:%s;stroke-opacity:.45}\n", pick(Background), lane, edge, edge)
		fmt.Fprintf(&b, ".edge{stroke:%s;stroke-dasharray:4 3;fill:none}.tick{stroke:%s;fill:none}.tickline{stroke:%s;stroke-opacity:.7;stroke-dasharray:1 2;fill:none}\n", edge, fg, fg)
		for i, c := range Palette {
			fmt.Fprintf(&b, ".c%d{fill:%s}", i, pick(c))
		}
		fmt.Fprintf(&b, ".none{fill:%s}.err{fill:%s}.lat99{fill:%s}.lat50{fill:%s}\n", pick(MutedColor), pick(ErrorColor), pick(LatencyP99Color), pick(LatencyP50Color))
	}
	theme(false)
	b.WriteString("@media (prefers-color-scheme:dark){\n")
	theme(true)
	b.WriteString("}\n</style>\n")
	r.w.WriteString(b.String())
}

// class is the fill class of a series.
func (r *renderer) class(s Series) string {
	i := r.colors[s.Name]
	if i < 0 {
		return "none"
	}
	return "c" + strconv.Itoa(i)
}

// legendLayout lays out the legend (series in colour order, then the
// errors, fault and transition keys), wrapping at the width; it returns
// the y where the panels start and the legend's elements.
func (r *renderer) legendLayout() (float64, []string) {
	type key struct{ name, class, kind string }
	var keys []key
	seen := map[string]bool{}
	for _, pn := range r.p.Panels {
		for _, s := range pn.allSeries() {
			if !seen[s.Name] {
				seen[s.Name] = true
				keys = append(keys, key{s.Name, r.class(s), "series"})
			}
		}
	}
	keys = append(keys, key{"user-visible errors/s", "err", "series"})
	var faults, marks, latency bool
	for _, pn := range r.p.Panels {
		faults = faults || len(pn.Faults) > 0
		marks = marks || len(pn.Marks) > 0
		latency = latency || pn.hasLatency()
	}
	if latency {
		keys = append(keys, key{"latency p50", "lat50", "series"}, key{"p99", "lat99", "series"})
	}
	if faults {
		keys = append(keys, key{"fault", "lane", "fault"})
	}
	if marks {
		keys = append(keys, key{"state transition", "tick", "mark"})
	}
	var out []string
	x, y := float64(marginLeft-40), float64(legendTop)
	if r.p.Subtitle == "" {
		y -= headerSub - headerTitle // no empty line between title and legend
	}
	for _, k := range keys {
		w := 16 + textWidth(k.name) + 8
		if x+w > width-marginRight && x > marginLeft-40 {
			x, y = marginLeft-40, y+legendRow
		}
		var sw string
		switch k.kind {
		case "series":
			sw = fmt.Sprintf(`<rect class="%s" x="%s" y="%s" width="12" height="12" rx="2"/>`, k.class, num(x), num(y))
		case "fault":
			sw = fmt.Sprintf(`<rect class="lane" x="%s" y="%s" width="12" height="12" rx="2"/><rect fill="url(#fault)" x="%s" y="%s" width="12" height="12" rx="2"/>`, num(x+.5), num(y+.5), num(x+.5), num(y+.5))
		case "mark":
			sw = fmt.Sprintf(`<path class="tick" d="M%s %sv12"/>`, num(x+6.5), num(y))
		}
		out = append(out, fmt.Sprintf(`<g data-legend="%s">%s<text class="fg" x="%s" y="%s">%s</text></g>`,
			esc(k.name), sw, num(x+16), num(y+10.5), esc(k.name)))
		x += w
	}
	return y + legendRow + 10, out
}

type placed struct {
	lane  int
	x     float64 // label anchor
	end   bool    // text-anchor end
	text  string
	index int
}

// tick is a mark's x and the lane of its label (-1: unlabelled).
type tick struct {
	x    float64
	lane int
}

type panelLayout struct {
	faultLanes, markLanes int
	faults                []placed // lane per fault
	marks                 []placed // labelled marks
	ticks                 []tick
	height                float64
}

// layoutPanel assigns faults and mark labels to lanes so that none
// overlap: greedily, in time order.
func (r *renderer) layoutPanel(pn *Panel) panelLayout {
	var l panelLayout
	right := float64(marginLeft + plotWidth)
	// Faults: a span with its label inside, or to its right when the span
	// is too narrow; a lane holds spans (and labels) that do not overlap.
	order := make([]int, len(pn.Faults))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return pn.Faults[order[a]].Start < pn.Faults[order[b]].Start })
	var laneEnd []float64
	left := float64(marginLeft)
	for _, i := range order {
		f := pn.Faults[i]
		x0, x1 := r.x(f.Start), r.x(r.end(f))
		text := f.Label + " · " + r.spanTime(f)
		tw := textWidth(text)
		// The label goes inside the span if it fits, else from the span's
		// start on to the right, else to the left of the span.
		lx, endAnchor, a, b := x0+4, false, x0, max(x1, x0+4+tw)
		if b > right && x0-4-tw >= left {
			lx, endAnchor, a, b = x0-4, true, x0-4-tw, x1
		}
		lane := -1
		for k, e := range laneEnd {
			if a >= e+4 {
				lane = k
				break
			}
		}
		if lane < 0 {
			lane = len(laneEnd)
			laneEnd = append(laneEnd, 0)
		}
		laneEnd[lane] = b
		l.faults = append(l.faults, placed{lane: lane, x: lx, end: endAnchor, text: text, index: i})
	}
	l.faultLanes = len(laneEnd)
	// Marks: ticks always; labels where a lane has room, at most
	// maxMarkLanes lanes (a dense burst keeps its ticks).
	type mk struct {
		at    float64
		label string
	}
	seen := map[mk]bool{}
	morder := make([]int, len(pn.Marks))
	for i := range morder {
		morder[i] = i
	}
	sort.SliceStable(morder, func(a, b int) bool { return pn.Marks[morder[a]].At < pn.Marks[morder[b]].At })
	// A label in lane k is clear of its lane's labels, of the ticks of
	// labels above it (they run down through lane k) and its own tick of
	// the labels below it.
	type box struct {
		a, b, tick float64
		lane       int
	}
	var boxes []box
	lanes := 0
	free := func(a, b, x float64, k int) bool {
		for _, o := range boxes {
			switch {
			case o.lane == k && a < o.b+6 && b > o.a-6:
				return false
			case o.lane < k && o.tick >= a-3 && o.tick <= b+3:
				return false
			case o.lane > k && x >= o.a-3 && x <= o.b+3:
				return false
			}
		}
		return true
	}
	for _, i := range morder {
		m := pn.Marks[i]
		x := r.x(m.At)
		l.ticks = append(l.ticks, tick{x, -1})
		if m.Label == "" || seen[mk{m.At, m.Label}] {
			continue
		}
		seen[mk{m.At, m.Label}] = true
		tw := textWidth(m.Label)
		a, b, endAnchor, lx := x+3, x+3+tw, false, x+3
		if b > right {
			a, b, endAnchor, lx = x-3-tw, x-3, true, x-3
		}
		lane := -1
		for k := 0; k < maxMarkLanes; k++ {
			if free(a, b, x, k) {
				lane = k
				break
			}
		}
		if lane < 0 {
			continue
		}
		boxes = append(boxes, box{a, b, x, lane})
		lanes = max(lanes, lane+1)
		l.ticks[len(l.ticks)-1].lane = lane
		l.marks = append(l.marks, placed{lane: lane, x: lx, end: endAnchor, text: m.Label, index: i})
	}
	l.markLanes = lanes
	if len(pn.Marks) > 0 && l.markLanes == 0 {
		l.markLanes = 1 // room for the ticks
	}
	l.height = titleRow + float64(l.faultLanes)*faultLane + float64(l.markLanes)*markLane + 4 + pn.failbackHeight() +
		shareHeight + stripGap + errorsHeight + axisHeight + panelGap
	if pn.hasLatency() {
		l.height += stripGap + latencyHeight
	}
	if len(pn.Sources) > 0 {
		l.height += stripGap + pn.sourcesHeight()
	}
	return l
}

// end is a span's end on the x axis (the run's end if it never ends).
func (r *renderer) end(f Span) float64 {
	if f.End < 0 {
		return r.dur
	}
	return f.End
}

func (r *renderer) spanTime(f Span) string {
	if f.End < 0 {
		return "from " + label(f.Start) + " s"
	}
	return label(f.Start) + "–" + label(f.End) + " s"
}

func (r *renderer) panel(pn *Panel, l panelLayout, top float64) {
	r.f(`<g data-panel="%s" transform="translate(0 %s)">`+"\n", esc(pn.Title), num(top))
	left, right := float64(marginLeft), float64(marginLeft+plotWidth)
	r.f(`<text class="fg ptitle" x="%s" y="16">%s</text>`+"\n", num(left), esc(pn.Title))
	if pn.Note != "" {
		r.f(`<text class="mu" x="%s" y="16" text-anchor="end">%s</text>`+"\n", num(right), esc(pn.Note))
	}
	faultTop := float64(titleRow)
	markTop := faultTop + float64(l.faultLanes)*faultLane
	failbackTop := markTop + float64(l.markLanes)*markLane + 2
	shareTop := markTop + float64(l.markLanes)*markLane + 4 + pn.failbackHeight()
	shareBottom := shareTop + shareHeight
	errTop := shareBottom + stripGap
	errBottom := errTop + errorsHeight
	// bottom is the last strip's: the axis and the faults' edges reach it.
	bottom := errBottom
	if pn.hasLatency() {
		bottom += stripGap + latencyHeight
	}
	sourcesTop := bottom + stripGap
	if len(pn.Sources) > 0 {
		bottom = sourcesTop + pn.sourcesHeight()
	}

	// Share chart: the empty plot area shows where no traffic was sent.
	r.f(`<rect class="plot" x="%s" y="%s" width="%d" height="%d"/>`+"\n", num(left), num(shareTop), plotWidth, shareHeight)
	n := pn.samples()
	cum := cumulativeShares(pn.Series, n)
	// Each band is drawn from the baseline up to its cumulative share, top
	// band first: the bands below cover the rest, so adjacent bands share
	// no anti-aliased edge (no hairline of background between them).
	for j := len(pn.Series) - 1; j >= 0; j-- {
		s := pn.Series[j]
		d := r.stepArea(cum[j], shareTop, shareBottom, 1)
		r.f(`<path class="%s" data-series="%s" d="%s"/>`+"\n", r.class(s), esc(s.Name), d)
	}
	for _, g := range []float64{.25, .5, .75} {
		y := shareTop + shareHeight*(1-g)
		r.f(`<path class="grid" d="M%s %sH%s"/>`+"\n", num(left), num(y), num(right))
	}
	for _, g := range []struct {
		v float64
		s string
	}{{1, "100%"}, {.5, "50%"}, {0, "0%"}} {
		y := shareTop + shareHeight*(1-g.v)
		r.f(`<text class="mu small" x="%s" y="%s" text-anchor="end">%s</text>`+"\n", num(left-6), num(y+4), g.s)
	}
	r.f(`<text class="mu small" transform="translate(%s %s) rotate(-90)" text-anchor="middle">traffic share</text>`+"\n",
		num(left-44), num(shareTop+shareHeight/2))

	// Errors strip: bars as one step-shaped area, on the scale shared by
	// every panel.
	r.f(`<rect class="plot" x="%s" y="%s" width="%d" height="%d"/>`+"\n", num(left), num(errTop), plotWidth, errorsHeight)
	for _, f := range pn.Faults {
		x0, x1 := r.x(f.Start), r.x(r.end(f))
		r.f(`<rect fill="url(#fault)" x="%s" y="%s" width="%s" height="%d"/>`+"\n", num(x0), num(errTop), num(x1-x0), errorsHeight)
	}
	errs := make([]float64, n)
	for i, v := range pn.Errors {
		errs[i] = v / r.errScale
	}
	r.f(`<path class="err" data-errors="%s" d="%s"/>`+"\n", esc(pn.Title), r.stepArea(errs, errTop, errBottom, 1))
	r.f(`<text class="mu small" x="%s" y="%s" text-anchor="end">%s/s</text>`+"\n", num(left-6), num(errTop+9), label(r.errScale))
	r.f(`<text class="mu small" x="%s" y="%s" text-anchor="end">0</text>`+"\n", num(left-6), num(errBottom))
	r.f(`<text class="mu small" transform="translate(%s %s) rotate(-90)" text-anchor="middle">errors</text>`+"\n",
		num(left-44), num(errTop+errorsHeight/2))
	total := 0.0
	for _, v := range pn.Errors {
		total += v
	}
	if total == 0 {
		r.f(`<text class="mu" x="%s" y="%s" text-anchor="middle">no user-visible errors</text>`+"\n", num(left+plotWidth/2), num(errTop+errorsHeight/2+4))
	}

	if pn.hasLatency() {
		r.latency(pn, errBottom+stripGap)
	}
	r.sources(pn, sourcesTop)
	r.failbacks(pn, failbackTop)

	// Faults: span in its lane, dashed edges through every chart.
	for _, pl := range l.faults {
		f := pn.Faults[pl.index]
		x0, x1 := r.x(f.Start), r.x(r.end(f))
		y := faultTop + float64(pl.lane)*faultLane
		anchor := ""
		if pl.end {
			anchor = ` text-anchor="end"`
		}
		r.f(`<g data-fault="%s"><rect class="lane" x="%s" y="%s" width="%s" height="%d" rx="3"/>`,
			esc(f.Label), num(x0+.5), num(y+.5), num(max(x1-x0-1, 1)), faultLane-3)
		r.f(`<rect fill="url(#fault)" x="%s" y="%s" width="%s" height="%d" rx="3"/>`, num(x0+.5), num(y+.5), num(max(x1-x0-1, 1)), faultLane-3)
		r.f(`<text class="fg small" x="%s" y="%s"%s>%s</text>`, num(pl.x), num(y+11.5), anchor, esc(pl.text))
		var d strings.Builder
		for _, x := range []float64{x0, x1} {
			if x > left && x < right {
				fmt.Fprintf(&d, "M%s %sV%s", num(x), num(y+faultLane-3), num(bottom))
			}
		}
		if d.Len() > 0 {
			r.f(`<path class="edge" d="%s"/>`, d.String())
		}
		r.f("</g>\n")
	}

	// Marks: one path for every tick (a short solid tick in the label lane,
	// a dotted line through the share chart), one text per placed label.
	if len(l.ticks) > 0 {
		var solid, dotted strings.Builder
		for _, tk := range l.ticks {
			x := math.Round(tk.x) + .5 // a crisp 1 px line
			from := shareTop - 5
			if tk.lane >= 0 { // up to its label, so the label reads as the tick's
				from = markTop + float64(tk.lane)*markLane + 1
			}
			fmt.Fprintf(&solid, "M%s %sV%s", num(x), num(from), num(shareTop))
			fmt.Fprintf(&dotted, "M%s %sV%s", num(x), num(shareTop), num(shareBottom))
		}
		r.f(`<path class="tickline" d="%s"/>`+"\n", dotted.String())
		r.f(`<path class="tick" data-marks="%d" d="%s"/>`+"\n", len(l.ticks), solid.String())
	}
	for _, pl := range l.marks {
		y := markTop + float64(pl.lane)*markLane + 10
		anchor := ""
		if pl.end {
			anchor = ` text-anchor="end"`
		}
		r.f(`<text class="fg small" x="%s" y="%s"%s>%s</text>`+"\n", num(pl.x), num(y), anchor, esc(pl.text))
	}

	// x axis, under the last strip.
	errBottom = bottom
	var ax strings.Builder
	tstep := niceStep(r.dur)
	for k := 0; float64(k)*tstep <= r.dur+1e-9; k++ {
		t := float64(k) * tstep
		x := r.x(t)
		fmt.Fprintf(&ax, "M%s %sv4", num(x), num(errBottom))
		anchor := "middle"
		if t == 0 {
			anchor = "start"
		} else if x > right-12 {
			anchor = "end"
		}
		r.f(`<text class="mu small" x="%s" y="%s" text-anchor="%s">%s s</text>`+"\n", num(x), num(errBottom+16), anchor, label(t))
	}
	r.f(`<path class="axis" d="M%s %sH%s%s"/>`+"\n", num(left), num(errBottom+.5), num(right), ax.String())
	r.f("</g>\n")
}

// cumulativeShares is each series' share stacked on those before it, per
// sample, capped at 1: the top edge of each band of a share chart.
func cumulativeShares(series []Series, n int) [][]float64 {
	cum := make([][]float64, len(series))
	acc := make([]float64, n)
	for k, s := range series {
		cum[k] = make([]float64, n)
		for i, v := range s.Share {
			acc[i] = min(acc[i]+v, 1)
			cum[k][i] = acc[i]
		}
	}
	return cum
}
