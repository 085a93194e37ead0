package module_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The per-target requests counter counts every routed request once. The
// combined root ID adds them on its tick (one host call per tick instead
// of one per request), so the counter lags by at most a tick period; the
// split router has no tick and adds each at once.
func TestRequestsCounterPerLayout(t *testing.T) {
	for _, layout := range []string{"", "split"} {
		t.Run("layout="+layout, func(t *testing.T) {
			w := newWorld(t, edgeAuto, worldOpts{workers: 2, layout: layout})
			total := func() int64 {
				var n int64
				for _, c := range []string{"cluster-1a", "cluster-1b", "cluster-2"} {
					if v := w.m("target." + c + ".requests"); v > 0 {
						n += v
					}
				}
				return n
			}
			before := total()
			const n = 40
			for i := range n {
				w.request(i%2, "GET")
				w.clock.Advance(500 * time.Microsecond) // routed at once; counted or pending
			}
			if layout == "" {
				assert.Less(t, total()-before, int64(n), "combined: counted on the tick, not per request")
			} else {
				assert.Equal(t, int64(n), total()-before, "split: counted per request")
			}
			w.clock.Advance(time.Second) // at least one tick
			assert.Equal(t, int64(n), total()-before, "every request counted once")
			w.clock.Advance(2 * time.Second)
			assert.Equal(t, int64(n), total()-before, "and not again")
			w.noTraps()
		})
	}
}
