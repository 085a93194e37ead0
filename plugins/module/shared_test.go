package module_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

// Decisions that depend on the health the workers share: counts updated
// by several VMs at once, the failing streaks retries steer around, and
// the max-ejection share.

// calls wraps the world's http_call answers to watch each call.
type calls struct {
	*world
	before func(req *pw.HTTPCallRequest)
}

func (c calls) HTTPCall(req *pw.HTTPCallRequest) pw.HTTPCallResult {
	c.before(req)
	return c.world.HTTPCall(req)
}

// setThresholds sets the compiled consecutive-failure thresholds.
func setThresholds(gateway, local, fivexx int) func(map[string]any) {
	return func(cfg map[string]any) {
		d := cfg["detection"].(map[string]any)
		d["consecutiveGatewayErrors"], d["consecutiveLocalOriginFailures"], d["consecutive5xx"] = gateway, local, fivexx
	}
}

// Two workers count one target's failures into one shared record while
// every other read of a target record returns the version before the
// latest write (another worker's update landing between a get and a set).
// The compare-and-swap loop re-reads on the mismatch, so no failure is
// lost: the target is ejected on exactly its Nth consecutive failure.
func TestCountsSurviveInterleavedWorkers(t *testing.T) {
	const n = 8
	w := newWorld(t, edgeAuto, worldOpts{workers: 2, configure: setThresholds(n, 3, 0)})
	stale, mismatches := map[string]bool{}, 0
	w.proc.StaleSharedData = func(_, key string) bool {
		if !strings.Contains(key, "/t/") {
			return false
		}
		stale[key] = !stale[key]
		if stale[key] {
			mismatches++
		}
		return stale[key]
	}
	w.status["cluster-2"] = 503
	// POSTs are not retried: each request routed to cluster-2 is one
	// gateway error there.
	for i := 0; i < 400 && len(w.logs("ejected cluster-2")) == 0; i++ {
		s := w.request(i%2, "POST")
		w.clock.Advance(20 * time.Millisecond)
		require.True(t, s.Complete)
	}
	require.Len(t, w.logs("ejected cluster-2"), 1)
	assert.Equal(t, n, w.served["cluster-2"], "failures counted before the ejection: none lost")
	assert.Contains(t, w.logs("ejected cluster-2")[0], "count=8")
	assert.Greater(t, mismatches, n/2, "reads were interleaved")
	w.noTraps()
}

// A retry avoids a target whose last answer failed, even before it is
// ejected and even when another worker saw the failure: two of three
// targets answer 503 (thresholds too high to eject), and once each has
// failed, every retry from either worker goes to the healthy one.
func TestRetriesAvoidATargetThatJustFailed(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 2, configure: setThresholds(1000, 1000, 1000)})
	w.status["cluster-1a"], w.status["cluster-1b"] = 503, 503
	// Until both have failed once, a retry may still go to the other.
	for i := 0; w.served["cluster-1a"] == 0 || w.served["cluster-1b"] == 0; i++ {
		require.Less(t, i, 100, "both failing targets get traffic")
		s := w.request(i%2, "GET")
		w.clock.Advance(20 * time.Millisecond)
		require.True(t, s.Complete)
	}
	w.clock.Advance(time.Second)
	var retries, wrong int
	byWorker := map[int]int{}
	w.proc.HTTPCalls = calls{w, func(req *pw.HTTPCallRequest) {
		retries++
		byWorker[req.Worker]++
		if tg := w.target(req.Cluster); tg != "cluster-2" {
			wrong++
			t.Logf("worker %d retried on %s, which failed before", req.Worker, tg)
		}
	}}
	for i := range 200 {
		s := w.request(i%2, "GET")
		w.clock.Advance(20 * time.Millisecond)
		require.True(t, s.Complete)
		assert.Equal(t, 200, s.Response.Status)
	}
	assert.Zero(t, wrong, "retries to a target that just failed, of %d", retries)
	assert.Greater(t, byWorker[0], 20, "worker 0 retried")
	assert.Greater(t, byWorker[1], 20, "worker 1 retried")
	assert.Empty(t, w.logs("ejected"), "nothing ejected: the failing streaks alone steer")
	w.noTraps()
}

// maxEjectionPercent below 100: with 34 % of three targets one ejection is
// allowed (the first always is), with 67 % two. Two targets die; the
// share decides how many leave, and the refusal is logged.
func TestMaxEjectionPercentBelow100(t *testing.T) {
	for _, tc := range []struct {
		percent, ejected int
	}{{34, 1}, {67, 2}} {
		w := newWorld(t, edgeAuto, worldOpts{workers: 2, configure: func(cfg map[string]any) {
			cfg["detection"].(map[string]any)["maxEjectionPercent"] = tc.percent
		}})
		w.dead["cluster-1a"], w.dead["cluster-1b"] = true, true
		w.run(200, 10*time.Millisecond) // 2 s: well inside the 30 s ejection
		ejected := len(w.logs("ejected cluster-1a")) + len(w.logs("ejected cluster-1b"))
		assert.Equal(t, tc.ejected, ejected, "%d%%: %v", tc.percent, w.logs("detour: "))
		refused := w.logs("the max ejection share (" + strconv.Itoa(tc.percent) + "%) is reached")
		if tc.ejected == 1 {
			assert.NotEmpty(t, refused, "the second ejection is refused")
		} else {
			assert.Empty(t, refused)
		}
		w.noTraps()
	}
}
