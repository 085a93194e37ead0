package timeline

import "fmt"

// Source is one more source of a fleet drill's traffic besides the
// panel's own proxy (another cluster's client sidecars): where its
// requests were answered, second by second, drawn as a thin share chart
// under the panel's strips, so a reviewer sees every caller move when a
// cluster fails, not only the entry proxy.
type Source struct {
	// Title names the source ("from cluster-2").
	Title string
	// Note follows the title ("300 rps · 0 user-visible errors").
	Note string
	// Series are the share per cluster, as the panel's (same names, same
	// colours, one value per sample).
	Series []Series
}

// A source strip: its label row, then its share chart.
const (
	sourceLabel  = 16
	sourceHeight = 28
)

// sourcesHeight is the room the panel's source strips take.
func (pn *Panel) sourcesHeight() float64 {
	return float64(len(pn.Sources)) * (sourceLabel + sourceHeight)
}

// validateSources names the first bad field of panel i's sources.
func (pn *Panel) validateSources(i, n int) error {
	for j, src := range pn.Sources {
		seen := map[string]bool{}
		for k, s := range src.Series {
			path := fmt.Sprintf("timeline: panels[%d].sources[%d].series[%d]", i, j, k)
			if seen[s.Name] {
				return fmt.Errorf("%s.name: %q repeated, want one series per name", path, s.Name)
			}
			seen[s.Name] = true
			if len(s.Share) != n {
				return fmt.Errorf("%s.share: %d samples, want %d like the panel's series", path, len(s.Share), n)
			}
			for m, v := range s.Share {
				if v != v || v < 0 || v > 1.0001 {
					return fmt.Errorf("%s.share[%d]: %v, want a fraction 0..1", path, m, v)
				}
			}
		}
	}
	return nil
}

// sourceAreas adds the painted area of each source series to out, as
// Areas counts the panel's own.
func (pn *Panel) sourceAreas(out map[string]float64, width func(int) float64) {
	for _, src := range pn.Sources {
		acc := make([]float64, pn.samples())
		for _, s := range src.Series {
			for i, v := range s.Share {
				next := min(acc[i]+v, 1)
				out[s.Name] += (next - acc[i]) * width(i) * sourceHeight
				acc[i] = next
			}
		}
	}
}

// sources draws the panel's source strips from top down.
func (r *renderer) sources(pn *Panel, top float64) {
	left := float64(marginLeft)
	n := pn.samples()
	for j, src := range pn.Sources {
		y := top + float64(j)*(sourceLabel+sourceHeight)
		text := src.Title
		if src.Note != "" {
			text += " · " + src.Note
		}
		r.f(`<g data-source="%s">`, esc(src.Title))
		r.f(`<text class="mu small" x="%s" y="%s">%s</text>`, num(left), num(y+11), esc(text))
		chartTop, chartBottom := y+sourceLabel, y+sourceLabel+sourceHeight
		r.f(`<rect class="plot" x="%s" y="%s" width="%d" height="%d"/>`, num(left), num(chartTop), plotWidth, sourceHeight)
		cum := cumulativeShares(src.Series, n)
		// Top band first, each from the baseline up, as the share chart.
		for k := len(src.Series) - 1; k >= 0; k-- {
			s := src.Series[k]
			r.f(`<path class="%s" data-source-series="%s" d="%s"/>`, r.class(s), esc(s.Name), r.stepArea(cum[k], chartTop, chartBottom, 1))
		}
		r.f("</g>\n")
	}
}
