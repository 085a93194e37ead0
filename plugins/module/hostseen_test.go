package module_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/plugins/outlier"
)

// TestHealthyHostStaysSeen: a host that only ever answers successes on a
// clean table (no per-request write of the table) keeps its last-seen
// time fresh through the tick (outlier.Hosts.Touch), so it is still
// counted after several TTLs of healthy traffic, and its time lags the
// last answer by at most one refresh step plus one tick period.
func TestHealthyHostStaysSeen(t *testing.T) {
	for _, layout := range []string{"", "split"} {
		t.Run("layout="+layout, func(t *testing.T) {
			w := newWorld(t, edgeAuto, worldOpts{workers: 1, layout: layout})
			// 300 s of traffic, 2.5 TTLs (hostTTLMs is 120 s; a host not
			// seen for two of them is forgotten).
			for range 3000 {
				w.one(t)
				w.clock.Advance(90 * time.Millisecond)
			}
			now := w.clock.Now().UnixMilli()
			seen := 0
			for k, v := range w.proc.SharedData("") {
				if !strings.HasSuffix(k, "/hosts") {
					continue
				}
				var h outlier.Hosts
				h.Decode(v)
				known, out := h.Count(now)
				if known == 0 {
					continue
				}
				seen++
				require.Equal(t, 0, out, "%s: a healthy host is not out", k)
				for _, e := range h.H {
					if e.Key != 0 {
						require.Less(t, now-e.Seen, int64(10_000+1_000+100), "%s: last seen %d ms ago", k, now-e.Seen)
					}
				}
			}
			require.Positive(t, seen, "the answering target's host is counted")
			w.noTraps()
		})
	}
}
