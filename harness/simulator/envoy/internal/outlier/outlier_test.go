package outlier

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

type rig struct {
	clock  *vclock.Clock
	d      *Detector
	hosts  []*Host
	events []Event
}

func newRig(t *testing.T, od *clusterv3.OutlierDetection, n int, legacy bool) *rig {
	t.Helper()
	cfg, err := FromProto(od)
	require.NoError(t, err)
	r := &rig{clock: vclock.New(time.Time{})}
	rng := rand.New(rand.NewPCG(1, 2))
	r.d = New(cfg, r.clock, rng.Uint64, legacy, func(e Event) { r.events = append(r.events, e) }, nil)
	for i := range n {
		r.hosts = append(r.hosts, &Host{ID: fmt.Sprintf("h%d", i)})
	}
	r.d.SetHosts(r.hosts)
	return r
}

func (r *rig) fail(h *Host, code, times int) {
	for range times {
		r.d.PutHTTPResponseCode(h, code)
	}
	r.clock.RunPending()
}

func (r *rig) kinds() []string {
	var out []string
	for _, e := range r.events {
		out = append(out, e.Kind+":"+e.Host.ID)
	}
	return out
}

func TestDefaults(t *testing.T) {
	c, err := FromProto(&clusterv3.OutlierDetection{})
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, c.Interval)
	assert.Equal(t, 30*time.Second, c.BaseEjectionTime)
	assert.Equal(t, 300*time.Second, c.MaxEjectionTime)
	assert.Equal(t, uint64(5), c.Consecutive5xx)
	assert.Equal(t, uint64(10), c.MaxEjectionPercent)
	assert.Equal(t, uint64(0), c.EnforcingConsecutiveGatewayFailure)
	assert.Equal(t, uint64(100), c.EnforcingConsecutive5xx)
	assert.Equal(t, uint64(0), c.EnforcingFailurePercentage)
	// max_ejection_time defaults to max(300s, base).
	c, err = FromProto(&clusterv3.OutlierDetection{BaseEjectionTime: durationpb.New(400 * time.Second)})
	require.NoError(t, err)
	assert.Equal(t, 400*time.Second, c.MaxEjectionTime)
	_, err = FromProto(&clusterv3.OutlierDetection{BaseEjectionTime: durationpb.New(60 * time.Second), MaxEjectionTime: durationpb.New(30 * time.Second)})
	assert.ErrorContains(t, err, "max_ejection_time")
}

// max_ejection_percent over all hosts: 100*(ejected+1)/N <= max.
func TestMayEjectArithmetic(t *testing.T) {
	cases := []struct {
		active, n int
		max       uint64
		always    bool
		legacy    bool
		want      bool
	}{
		// Default 10%: nothing under 10 hosts can be ejected.
		{0, 1, 10, false, false, false},
		{0, 2, 10, false, false, false},
		{0, 3, 10, false, false, false},
		{0, 10, 10, false, false, true},
		{1, 10, 10, false, false, false},
		// always_eject_one_host: the first one goes regardless.
		{0, 1, 10, true, false, true},
		{0, 3, 10, true, false, true},
		{1, 3, 10, true, false, false},
		// 100%: every host may go (a remote cluster that is one endpoint).
		{0, 1, 100, false, false, true},
		{1, 2, 100, false, false, true},
		{2, 3, 100, false, false, true},
		// 50% of 3: one host (33%) yes, a second (67%) no.
		{0, 3, 50, false, false, true},
		{1, 3, 50, false, false, false},
		// 50% of 2: exactly 50% is allowed.
		{0, 2, 50, false, false, true},
		{1, 2, 50, false, false, false},
		// Before 1.27 the check used the percentage before ejecting.
		{0, 1, 10, false, true, true},
		{0, 3, 10, false, true, true},
		{1, 3, 10, false, true, false},
		{1, 10, 10, false, true, false},
		{0, 3, 0, false, true, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d_of_%d_max%d_always%v_legacy%v", c.active, c.n, c.max, c.always, c.legacy), func(t *testing.T) {
			assert.Equal(t, c.want, MayEject(c.active, c.n, c.max, c.always, c.legacy))
		})
	}
}

func TestConsecutive5xxEjectionPerHostCount(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r := newRig(t, &clusterv3.OutlierDetection{}, n, false)
			r.fail(r.hosts[0], 500, 5)
			if n < 10 {
				assert.False(t, r.hosts[0].Ejected)
				assert.Equal(t, []string{"ejection_overflow:h0"}, r.kinds())
				return
			}
			assert.True(t, r.hosts[0].Ejected)
			assert.Equal(t, 1, r.d.Active())
			// A second host cannot go: 2/10 > 10%.
			r.fail(r.hosts[1], 500, 5)
			assert.False(t, r.hosts[1].Ejected)
			assert.Equal(t, []string{"eject:h0", "ejection_overflow:h1"}, r.kinds())
		})
	}
}

func TestConsecutiveCountersReset(t *testing.T) {
	r := newRig(t, &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100)}, 1, false)
	r.fail(r.hosts[0], 500, 4)
	r.fail(r.hosts[0], 200, 1)
	r.fail(r.hosts[0], 500, 4)
	assert.False(t, r.hosts[0].Ejected)
	r.fail(r.hosts[0], 500, 1)
	assert.True(t, r.hosts[0].Ejected)
	// Ejection is one dispatcher hop after the fifth error, at the same instant.
	assert.Equal(t, r.clock.Start(), r.events[0].At)
	assert.Equal(t, Consecutive5xx, r.events[0].Type)
}

func TestGatewayFailureNotEnforcedByDefault(t *testing.T) {
	od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), Consecutive_5Xx: wrapperspb.UInt32(100)}
	r := newRig(t, od, 1, false)
	r.fail(r.hosts[0], 503, 5)
	assert.False(t, r.hosts[0].Ejected)
	assert.Equal(t, []string{"detected_not_enforced:h0"}, r.kinds())
	// Istio sets enforcing 100 when consecutiveGatewayErrors is given.
	od.EnforcingConsecutiveGatewayFailure = wrapperspb.UInt32(100)
	r = newRig(t, od, 1, false)
	r.fail(r.hosts[0], 502, 5)
	assert.True(t, r.hosts[0].Ejected)
	assert.Equal(t, ConsecutiveGatewayFailure, r.events[0].Type)
	// A 500 breaks a gateway-failure run.
	r = newRig(t, od, 1, false)
	r.fail(r.hosts[0], 502, 4)
	r.fail(r.hosts[0], 500, 1)
	r.fail(r.hosts[0], 504, 4)
	assert.False(t, r.hosts[0].Ejected)
}

func TestLocalOriginResults(t *testing.T) {
	od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100)}
	// Default (no split): connect failures count as 503, timeouts as 504.
	r := newRig(t, od, 1, false)
	r.d.PutResult(r.hosts[0], LocalOriginConnectFailed, 0)
	r.d.PutResult(r.hosts[0], LocalOriginTimeout, 0)
	r.d.PutResult(r.hosts[0], LocalOriginConnectSuccess, 0) // not reported
	r.d.PutResult(r.hosts[0], LocalOriginConnectFailed, 0)
	r.d.PutResult(r.hosts[0], LocalOriginTimeout, 504)
	r.fail(r.hosts[0], 500, 1)
	assert.True(t, r.hosts[0].Ejected)
	assert.Equal(t, Consecutive5xx, r.events[0].Type)

	// Split: local-origin failures have their own counter; 5xx counts
	// only externally originated errors; a connect success resets it.
	od.SplitExternalLocalOriginErrors = true
	r = newRig(t, od, 1, false)
	for range 4 {
		r.d.PutResult(r.hosts[0], LocalOriginConnectFailed, 0)
	}
	r.fail(r.hosts[0], 500, 4)
	assert.False(t, r.hosts[0].Ejected)
	r.d.PutResult(r.hosts[0], LocalOriginConnectSuccess, 0)
	for range 4 {
		r.d.PutResult(r.hosts[0], LocalOriginTimeout, 0)
	}
	r.clock.RunPending()
	assert.False(t, r.hosts[0].Ejected)
	r.d.PutResult(r.hosts[0], LocalOriginConnectFailed, 0)
	r.clock.RunPending()
	assert.True(t, r.hosts[0].Ejected)
	assert.Equal(t, ConsecutiveLocalOriginFailure, r.events[0].Type)
}

// Un-ejection happens only on interval ticks, once min(base*k, max) has
// passed since the ejection.
func TestUnejectionAtIntervalGranularity(t *testing.T) {
	od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100)}
	r := newRig(t, od, 1, false)
	r.clock.Advance(3 * time.Second)
	r.fail(r.hosts[0], 500, 5)
	require.True(t, r.hosts[0].Ejected)
	// Ejected at 3s for 30s: ticks at 10, 20, 30 are too early; at 40s
	// 37s have passed.
	r.clock.Advance(36 * time.Second) // t = 39s
	assert.True(t, r.hosts[0].Ejected)
	r.clock.Advance(time.Second) // t = 40s
	assert.False(t, r.hosts[0].Ejected)
	last := r.events[len(r.events)-1]
	assert.Equal(t, KindUneject, last.Kind)
	assert.Equal(t, 40*time.Second, last.At.Sub(r.clock.Start()))

	// Ejected again at 45s, before the multiplier decayed (the first
	// decay step is at the 50s tick): multiplier 2 → 60s, so the tick at
	// 100s is too early (55s) and the one at 110s un-ejects.
	r.clock.Advance(5 * time.Second)
	r.fail(r.hosts[0], 500, 5)
	require.True(t, r.hosts[0].Ejected)
	assert.Equal(t, uint64(2), r.hosts[0].EjectTimeBackoff)
	r.clock.Advance(64 * time.Second) // t = 109s
	assert.True(t, r.hosts[0].Ejected)
	r.clock.Advance(time.Second) // t = 110s
	assert.False(t, r.hosts[0].Ejected)
}

func TestBackoffGrowthAndDecay(t *testing.T) {
	od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100),
		BaseEjectionTime: durationpb.New(10 * time.Second), MaxEjectionTime: durationpb.New(35 * time.Second)}
	r := newRig(t, od, 1, false)
	h := r.hosts[0]
	var durations []time.Duration
	// Eject again right after each un-ejection: the multiplier grows while
	// base*k < max+base (45s), so it stops at 5 (one past max/base, as
	// Envoy's code does), and the duration is capped at max.
	for range 6 {
		r.fail(h, 500, 5)
		require.True(t, h.Ejected)
		durations = append(durations, r.events[len(r.events)-1].EjectionTime)
		r.clock.RunWhile(r.clock.Now().Add(time.Hour), func() bool { return h.Ejected })
	}
	assert.Equal(t, []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 35 * time.Second, 35 * time.Second, 35 * time.Second}, durations)
	assert.Equal(t, uint64(5), h.EjectTimeBackoff)
	// Decay: one step per healthy interval, starting one interval after
	// the un-ejection.
	r.clock.Advance(10 * time.Second)
	assert.Equal(t, uint64(4), h.EjectTimeBackoff)
	r.clock.Advance(20 * time.Second)
	assert.Equal(t, uint64(2), h.EjectTimeBackoff)
	r.clock.Advance(30 * time.Second)
	assert.Equal(t, uint64(0), h.EjectTimeBackoff)
	r.fail(h, 500, 5)
	assert.Equal(t, 10*time.Second, r.events[len(r.events)-1].EjectionTime)
}

func TestSuccessRateThreshold(t *testing.T) {
	// The example in outlier_detection_impl.cc: mean 90, stdev 20, 1.9 → 52.
	assert.InDelta(t, 52.0, SuccessRateThreshold([]float64{50, 100, 100, 100, 100}, 1.9), 1e-9)
}

func TestSuccessRateAndFailurePercentageEjection(t *testing.T) {
	od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), Consecutive_5Xx: wrapperspb.UInt32(1000),
		EnforcingFailurePercentage: wrapperspb.UInt32(100)}
	r := newRig(t, od, 5, false)
	// One interval of traffic: h0 50% success, others 100%.
	for i, h := range r.hosts {
		for j := range 100 {
			code := 200
			if i == 0 && j%2 == 0 {
				code = 500
			}
			r.d.PutHTTPResponseCode(h, code)
		}
	}
	// The tick at 10s moves the bucket; the rates are judged then.
	r.clock.Advance(10 * time.Second)
	require.True(t, r.hosts[0].Ejected)
	assert.Equal(t, SuccessRate, r.events[0].Type)
	for _, h := range r.hosts[1:] {
		assert.False(t, h.Ejected)
	}

	// Failure percentage: 90% failures on h1 with SR disabled by volume.
	od.SuccessRateRequestVolume = wrapperspb.UInt32(10000)
	r = newRig(t, od, 5, false)
	for i, h := range r.hosts {
		for j := range 50 {
			code := 200
			if i == 1 && j%10 != 0 {
				code = 500
			}
			r.d.PutHTTPResponseCode(h, code)
		}
	}
	r.clock.Advance(10 * time.Second)
	require.True(t, r.hosts[1].Ejected)
	assert.Equal(t, FailurePercentage, r.events[0].Type)
}

func TestEnforcingPercentageIsSeeded(t *testing.T) {
	od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), EnforcingConsecutive_5Xx: wrapperspb.UInt32(50)}
	outcomes := func() []bool {
		r := newRig(t, od, 1, false)
		var out []bool
		for range 40 {
			r.fail(r.hosts[0], 500, 5)
			out = append(out, r.hosts[0].Ejected)
			r.clock.RunWhile(r.clock.Now().Add(time.Hour), func() bool { return r.hosts[0].Ejected })
		}
		return out
	}
	a, b := outcomes(), outcomes()
	assert.Equal(t, a, b)
	assert.Contains(t, a, true)
	assert.Contains(t, a, false)
}
