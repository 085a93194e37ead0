package timeline

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLabelsDoNotOverlap: in a burst of transitions and overlapping
// faults, no two labels of a lane overlap, no tick runs through a label of
// another lane, and overlapping faults get their own lanes.
func TestLabelsDoNotOverlap(t *testing.T) {
	pn := Panel{Title: "detour", Series: []Series{{Name: "a", Share: make([]float64, 600)}}}
	for i := range 60 {
		at := float64(i * i % 600)
		pn.Marks = append(pn.Marks, Mark{At: at + .1*float64(i%3), Label: fmt.Sprintf("gw-%d: failing → failed over", i%4)})
	}
	pn.Faults = []Span{{"outage", 60, 120}, {"partition", 90, 300}, {"slow", 100, -1}, {"late", 590, 600}}
	p := Plot{Panels: []Panel{pn}}
	require.NoError(t, p.validate())
	r := &renderer{p: &p, colors: p.Colors(), dur: p.duration(), step: p.step()}
	l := r.layoutPanel(&p.Panels[0])

	type box struct{ a, b, tick float64 }
	lanes := map[int][]box{}
	for _, m := range l.marks {
		w := textWidth(m.text)
		b := box{m.x, m.x + w, r.x(pn.Marks[m.index].At)}
		if m.end {
			b.a, b.b = m.x-w, m.x
		}
		assert.GreaterOrEqual(t, b.a, float64(marginLeft)-40, "label %q starts inside the plot's margin", m.text)
		assert.LessOrEqual(t, b.b, float64(marginLeft+plotWidth), "label %q ends inside the plot", m.text)
		for _, o := range lanes[m.lane] {
			assert.False(t, b.a < o.b && b.b > o.a, "lane %d: %v overlaps %v", m.lane, b, o)
		}
		lanes[m.lane] = append(lanes[m.lane], b)
	}
	assert.NotEmpty(t, lanes[0])
	assert.NotEmpty(t, lanes[1])
	assert.LessOrEqual(t, l.markLanes, maxMarkLanes)
	for upper, bs := range lanes {
		for lower, ls := range lanes {
			if lower <= upper {
				continue
			}
			for _, b := range bs {
				for _, o := range ls {
					assert.False(t, b.tick >= o.a && b.tick <= o.b, "tick at %v (lane %d) crosses a label of lane %d %v", b.tick, upper, lower, o)
				}
			}
		}
	}
	assert.Len(t, l.ticks, len(pn.Marks), "every mark keeps its tick")

	faultLane := map[string]int{}
	for _, f := range l.faults {
		faultLane[pn.Faults[f.index].Label] = f.lane
	}
	assert.Len(t, faultLane, 4)
	assert.NotEqual(t, faultLane["outage"], faultLane["partition"])
	assert.NotEqual(t, faultLane["partition"], faultLane["slow"])
	assert.NotEqual(t, faultLane["outage"], faultLane["slow"])
}
