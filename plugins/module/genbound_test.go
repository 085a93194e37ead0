package module_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/plugins/outlier"
)

// ejectElsewhere marks target ejected in the shared data and moves the
// service's generation, as another worker's ejection does.
func (w *world) ejectElsewhere(t *testing.T, target string) {
	host := w.cfg.Service.Host
	key := "detour/v1/" + host + "/t/" + target
	var rec outlier.Record
	if b, _, st := w.proc.GetSharedData("", key); st == pw.StatusOK {
		rec.Decode(b)
	}
	det := outlier.NewSettings(w.cfg.Detection)
	det.Eject(&rec, w.clock.Now().UnixMilli())
	var buf [outlier.RecordSize]byte
	require.Equal(t, pw.StatusOK, w.proc.SetSharedData("", key, rec.Encode(buf[:]), 0))
	skey := "detour/v1/" + host + "/svc"
	var sr outlier.ServiceRecord
	if b, _, st := w.proc.GetSharedData("", skey); st == pw.StatusOK {
		sr.Decode(b)
	}
	sr.Gen++
	var sbuf [outlier.ServiceRecordSize]byte
	require.Equal(t, pw.StatusOK, w.proc.SetSharedData("", skey, sr.Encode(sbuf[:]), 0))
}

// TestOtherWorkersEjectionSeenWithinBound: while every target is calm the
// combined root ID reads the health generation once in 8 requests
// (refresh's genEvery), so a target
// another worker ejected still gets at most 7 of this worker's requests
// routed before the pick sees it (when it read the generation just
// before the change), none from the 8th on, and none after a tick; the
// three root IDs read it per request and route none. Once a target is
// out, it is read per request in every layout. The
// requests are sent with the clock stopped: no response (which would
// show the ejected record sooner) and no tick comes between them.
func TestOtherWorkersEjectionSeenWithinBound(t *testing.T) {
	zone := pw.Node{Region: "region-1", Zone: "region-1a"} // every pick is cluster-1a
	for _, tc := range []struct {
		layout   string
		maxStale int
	}{{"", 7}, {"split", 0}} {
		t.Run("layout="+tc.layout+"/requests", func(t *testing.T) {
			worst := 0
			for k := range 9 { // wherever the worker's count of 8 stands
				w := newWorld(t, edgeAuto, worldOpts{workers: 2, layout: tc.layout, node: zone})
				w.run(40, 10*time.Millisecond)
				w.clock.Advance(time.Second) // a tick: the next request reads
				for range k {
					w.request(0, "GET")
					w.clock.Advance(0)
				}
				w.dead["cluster-1a"] = true
				w.ejectElsewhere(t, "cluster-1a")
				stale := 0
				for i := range 20 {
					s := w.request(0, "GET")
					w.clock.Advance(0) // the router's turn; answers take 5 ms
					require.NotNil(t, s.Upstream, "routed when the headers pass")
					if w.target(s.Upstream.Cluster) == "cluster-1a" {
						stale++
						require.Less(t, i, 7, "request %d still routed to the ejected target", i)
					}
				}
				worst = max(worst, stale)
				w.clock.Advance(time.Second)
				w.noTraps()
			}
			assert.Equal(t, tc.maxStale, worst, "requests routed on the stale health, at worst")
		})
		// Once a target is out (the cache is not calm), every request
		// reads the generation: a further change is seen at once.
		t.Run("layout="+tc.layout+"/degraded", func(t *testing.T) {
			w := newWorld(t, edgeAuto, worldOpts{workers: 2, layout: tc.layout, node: zone})
			w.run(40, 10*time.Millisecond)
			w.dead["cluster-1a"] = true
			w.ejectElsewhere(t, "cluster-1a")
			w.clock.Advance(time.Second)
			for range 3 { // seen: cluster-1b takes the zone's traffic
				s := w.request(0, "GET")
				w.clock.Advance(0)
				require.NotNil(t, s.Upstream)
				require.Equal(t, "cluster-1b", w.target(s.Upstream.Cluster))
			}
			w.dead["cluster-1b"] = true
			w.ejectElsewhere(t, "cluster-1b")
			for range 10 {
				s := w.request(0, "GET")
				w.clock.Advance(0)
				require.NotNil(t, s.Upstream)
				require.Equal(t, "cluster-2", w.target(s.Upstream.Cluster), "a change is seen at once while a target is out")
			}
			w.clock.Advance(time.Second)
			w.noTraps()
		})
		t.Run("layout="+tc.layout+"/tick", func(t *testing.T) {
			w := newWorld(t, edgeAuto, worldOpts{workers: 2, layout: tc.layout, node: zone})
			w.run(41, 10*time.Millisecond)
			w.dead["cluster-1a"] = true
			w.ejectElsewhere(t, "cluster-1a")
			w.clock.Advance(time.Second) // one tick at least, no request
			s := w.request(0, "GET")
			w.clock.Advance(0)
			require.NotNil(t, s.Upstream)
			assert.Equal(t, "cluster-1b", w.target(s.Upstream.Cluster), "the first request after a tick sees the ejection")
			w.clock.Advance(time.Second)
			w.noTraps()
		})
	}
}
