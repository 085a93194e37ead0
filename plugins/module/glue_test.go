package module_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
)

// Decisions the SDK glue makes, observed on the built module: which
// answers the retry filter retries, when the router sets the cell header,
// and what a weight-0 standby takes while the active cluster ramps back.

const banking = "online-banking/out/transaction-service/web-portal/edge.yaml"

// The compiled retryOn includes gateway-error: 502, 503 and 504 are
// retried on the standby, other statuses pass as they are (Envoy's
// gateway-error class, retry_state_impl.cc).
func TestRetryOnGatewayErrorClass(t *testing.T) {
	for _, tc := range []struct {
		status  int
		retried bool
	}{{502, true}, {503, true}, {504, true}, {500, false}, {501, false}, {404, false}, {409, false}} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			w := newWorld(t, banking, worldOpts{workers: 1})
			require.Contains(t, w.cfg.Retry.RetryOn, "gateway-error")
			w.status["west"] = tc.status
			s := w.request(0, "GET")
			w.clock.Advance(time.Second)
			require.True(t, s.Complete)
			if tc.retried {
				assert.Equal(t, 200, s.Response.Status)
				assert.Equal(t, "hello from east", s.Response.Body)
				assert.Equal(t, []string{w.cfg.ClusterName("east")}, w.calls)
			} else {
				assert.Equal(t, tc.status, s.Response.Status)
				assert.Empty(t, w.calls)
			}
			w.noTraps()
		})
	}
}

// The router sets the cell header to the target's region when it sends a
// request elsewhere than the targets that take traffic when all are
// healthy, or to an ejected one, and only then: in the mesh (bookinfo, local cluster-1) and at
// an edge gateway (online-banking, active west, standby east).
func TestCellHeaderSetOnlyWhenFailedOver(t *testing.T) {
	for _, tc := range []struct {
		name, example, active, standby, region, activeRegion string
	}{
		{"mesh", "bookinfo/out/bookinfo/reviews/clusters/cluster-1.yaml", "cluster-1", "cluster-2", "us-west1", "us-east1"},
		{"edge", banking, "west", "east", "us-east1", "us-west1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.example, worldOpts{workers: 1, env: keyEnv(cellKey)})
			send := func() (string, string, bool) {
				h := [][2]string{{":method", "GET"}, {":path", "/"}, {":scheme", "http"}, {":authority", w.cfg.Service.Host}}
				if len(w.cfg.Service.Authorities) > 0 {
					h[3][1] = w.cfg.Service.Authorities[0]
				}
				s := w.gw.Send(httpsim.Request{Headers: h})
				w.clock.Advance(time.Second)
				require.True(t, s.Complete)
				require.NotNil(t, s.Upstream)
				v, ok := header(s.Upstream.Headers, w.cfg.Headers.Cell)
				return w.target(s.Upstream.Cluster), cellRegion(v), ok
			}
			for range 5 {
				tg, v, ok := send()
				assert.Equal(t, tc.active, tg)
				assert.False(t, ok, "healthy: no cell header (got %q)", v)
			}
			w.dead[tc.active] = true
			for range 5 {
				send() // detection
			}
			require.Equal(t, int64(1), w.m("target."+tc.active+".ejected"))
			for range 5 {
				tg, v, ok := send()
				assert.Equal(t, tc.standby, tg)
				assert.True(t, ok, "failed over: the cell header is set")
				assert.Equal(t, tc.region, v)
			}
			// Both ejected: panic routing sends to the configured shares, the
			// active cluster, still a failed-over request.
			w.dead[tc.standby] = true
			for range 5 {
				send()
			}
			require.Equal(t, int64(1), w.m("target."+tc.standby+".ejected"))
			tg, v, ok := send()
			assert.Equal(t, tc.active, tg)
			assert.True(t, ok, "to an ejected target: the cell header is set")
			assert.Equal(t, tc.activeRegion, v)
			w.noTraps()
		})
	}
}

// A weight-0 standby takes the share the active cluster does not take yet
// while it ramps back: with a 120 s hold-down after the probe and
// online-banking's ramp of 10 %, 25 %, 50 %, 100 % every 30 s, east takes
// the rest, and nothing once the ramp is done.
func TestStandbyTakesWhatTheRampLeaves(t *testing.T) {
	w := newWorld(t, banking, worldOpts{workers: 2, configure: func(cfg map[string]any) {
		fb := cfg["failback"].(map[string]any)
		fb["holdDownMs"], fb["maxHoldDownMs"], fb["stepIntervalMs"] = 120000, 120000, 30000
	}})
	w.dead["west"] = true
	w.run(20, 10*time.Millisecond)
	require.Equal(t, int64(1), w.m("target.west.ejected"))
	w.dead["west"] = false
	w.slow["west"] = 150 * time.Millisecond // cold: a slow probe, so hold-down and ramp
	w.clock.Advance(time.Second)            // the next probe (every 500 ms)
	require.NotEmpty(t, w.logs("probe of west answered 200: back in service"))
	w.slow["west"] = 0
	// The 300 requests of each share take 4 s.
	assert.Equal(t, map[string]float64{"east": 100}, roundShares(w.shareOf(300)), "hold-down")
	w.clock.Advance(120 * time.Second) // past the hold-down: 10 %
	got := w.shareOf(300)
	assert.InDelta(t, 10, got["west"], 5)
	assert.InDelta(t, 90, got["east"], 5)
	w.clock.Advance(26 * time.Second) // 25 %
	got = w.shareOf(300)
	assert.InDelta(t, 25, got["west"], 7)
	assert.InDelta(t, 75, got["east"], 7)
	w.clock.Advance(60 * time.Second) // 100 %
	assert.Equal(t, map[string]float64{"west": 100}, roundShares(w.shareOf(300)))
	w.noTraps()
}

// activeStandby: a target with weight 0 is a standby without the standby
// flag (hand-written configurations): it takes nothing while the active
// cluster is healthy and everything once it is ejected.
func TestWeightZeroIsStandby(t *testing.T) {
	w := newWorld(t, banking, worldOpts{workers: 2, configure: func(cfg map[string]any) {
		east := cfg["targets"].([]any)[1].(map[string]any)
		require.Equal(t, "east", east["cluster"])
		delete(east, "standby")
		east["weight"] = 0
	}})
	assert.Equal(t, map[string]float64{"west": 100}, roundShares(w.shareOf(300)))
	w.dead["west"] = true
	w.run(20, 10*time.Millisecond) // detection
	assert.Equal(t, map[string]float64{"east": 100}, roundShares(w.shareOf(300)))
	w.noTraps()
}

// activeStandby never spills to the standby while an active target is in,
// whatever the healthy share: with two active clusters and a minimum
// healthy share of 75 %, losing one leaves 50 % healthy, which in auto
// mode would spill half the traffic to the next tier; here the other
// active cluster takes it all.
func TestStandbyWaitsForEveryActive(t *testing.T) {
	w := newWorld(t, banking, worldOpts{workers: 2, configure: func(cfg map[string]any) {
		ts := cfg["targets"].([]any)
		west2 := map[string]any{}
		for k, v := range ts[0].(map[string]any) {
			west2[k] = v
		}
		west2["cluster"] = "west2"
		cfg["targets"] = []any{ts[0], west2, ts[1]}
		cfg["failback"].(map[string]any)["minHealthyShare"] = 75
	}})
	got := w.shareOf(300)
	assert.InDelta(t, 50, got["west"], 8)
	assert.InDelta(t, 50, got["west2"], 8)
	assert.Zero(t, got["east"])
	w.dead["west"] = true
	w.run(20, 10*time.Millisecond) // detection
	require.Equal(t, int64(1), w.m("target.west.ejected"))
	assert.Equal(t, map[string]float64{"west2": 100}, roundShares(w.shareOf(300)))
	w.noTraps()
}
