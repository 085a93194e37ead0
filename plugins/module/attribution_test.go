package module_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSuccessesResetTheStreakInEveryLayout: a target whose every fourth
// answer is a 503 is never ejected for consecutive errors, because each
// success in between is counted against it and resets the streak; the
// combined root ID attributes an upstream's success to the target it
// routed without reading xds.cluster_name, the split ones read it. Once
// every answer fails, the same target is ejected (the control: the
// successes are what kept it in).
func TestSuccessesResetTheStreakInEveryLayout(t *testing.T) {
	for _, layout := range []string{"", "split"} {
		t.Run("layout="+layout, func(t *testing.T) {
			w := newWorld(t, edgeAuto, worldOpts{workers: 1, layout: layout})
			served, failed := 0, 0
			for range 400 {
				w.status["cluster-1a"] = 200
				if served%4 == 3 {
					w.status["cluster-1a"] = 503
				}
				s := w.request(0, "GET")
				w.clock.Advance(10 * time.Millisecond)
				require.True(t, s.Complete)
				if s.Upstream != nil && w.target(s.Upstream.Cluster) == "cluster-1a" {
					if w.status["cluster-1a"] == 503 {
						failed++
					}
					served++
				}
			}
			require.GreaterOrEqual(t, failed, 10, "cluster-1a answered 503s")
			assert.Empty(t, w.logs("ejected cluster-1a"), "successes reset the streak")
			w.status["cluster-1a"] = 503
			w.run(200, 10*time.Millisecond)
			assert.NotEmpty(t, w.logs("ejected cluster-1a"), "consecutive 503s eject")
			w.noTraps()
		})
	}
}
