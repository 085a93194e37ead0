package module_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/plugins/outlier"
)

// TestSilentHostStaysOutAcrossTicks: a host that answered since the last
// tick and then went out of rotation (Envoy ejected it; its answers
// predate that) is still out after the tick. The tick refreshes the
// last-seen time of hosts that answered, but it must not bring a silent
// one back: that would restore the target's full share while Envoy still
// skips the host.
func TestSilentHostStaysOutAcrossTicks(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1, node: pw.Node{Region: "region-1", Zone: "region-1a"}})
	up := twoHosts(w)
	out := func() int {
		now := w.clock.Now().UnixMilli()
		n := 0
		for k, v := range w.proc.SharedData("") {
			if strings.HasSuffix(k, "/hosts") {
				var h outlier.Hosts
				h.Decode(v)
				_, o := h.Count(now)
				n += o
			}
		}
		return n
	}
	w.run(150, 10*time.Millisecond) // both hosts answer, across ticks (in the table)
	// Just after a tick: .2 answers once more, then .3 alone (a failure
	// among its answers) until .2 is out of rotation, all before the
	// next tick (the tick period is 500 ms here).
	for i := range 2 + 2*outlier.SilentAnswers + 4 {
		up.both = i < 2
		up.failing = 0
		if i == 3 {
			up.failing = 1
		}
		s := w.request(0, "GET")
		w.clock.Advance(10 * time.Millisecond)
		require.True(t, s.Complete)
	}
	require.NotEmpty(t, w.logs("1 of 2 hosts out"), "the first host out of rotation")
	require.Equal(t, 1, out())
	for range 3 {
		w.clock.Advance(time.Second)
		require.Equal(t, 1, out(), "a tick brought the silent host back")
	}
	w.noTraps()
}

// TestTickRefreshesOnlyHostsThatAnswered: the tick refreshes the
// last-seen time of the hosts that answered this VM since the last tick,
// and only theirs. A pod scaled away (no failure: a removal, not an
// ejection) keeps its last answer's time, so the table forgets it after
// the TTL; the pod that keeps answering successes (no table write of its
// own) stays seen through the tick alone.
func TestTickRefreshesOnlyHostsThatAnswered(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1, node: pw.Node{Region: "region-1", Zone: "region-1a"}})
	up := twoHosts(w)
	w.run(150, 10*time.Millisecond) // both answer, across ticks
	up.both = false                 // 10.0.0.2 is gone; 10.0.0.3 answers alone
	gone := w.clock.Now().UnixMilli()
	w.run(1400, 100*time.Millisecond) // 140 s: past the TTL (120 s)
	now := w.clock.Now().UnixMilli()
	seen := map[uint64]int64{}
	for k, v := range w.proc.SharedData("") {
		if strings.HasSuffix(k, "/hosts") {
			var h outlier.Hosts
			h.Decode(v)
			for _, e := range h.H {
				if e.Key != 0 {
					seen[e.Key] = e.Seen
				}
			}
		}
	}
	answering, removed := outlier.HostKey("10.0.0.3:15443"), outlier.HostKey("10.0.0.2:15443")
	require.Contains(t, seen, answering)
	// Refreshed at most every 10 s (outlier's seenRefreshMs), by a tick.
	require.Less(t, now-seen[answering], int64(11_000), "the answering host's last-seen time, refreshed by the tick")
	if s, ok := seen[removed]; ok { // forgotten entirely after 2 TTLs; here it is only stale
		require.LessOrEqual(t, s, gone, "the removed host was refreshed after its last answer")
	}
	w.noTraps()
}
