package outlier

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// TestFromProtoBoundaries: a maximum ejection time equal to the base is
// valid; an interval of 0 is not.
func TestFromProtoBoundaries(t *testing.T) {
	c, err := FromProto(&clusterv3.OutlierDetection{BaseEjectionTime: durationpb.New(30 * time.Second), MaxEjectionTime: durationpb.New(30 * time.Second)})
	require.NoError(t, err)
	assert.Equal(t, 30*time.Second, c.MaxEjectionTime)
	_, err = FromProto(&clusterv3.OutlierDetection{Interval: durationpb.New(0)})
	assert.ErrorContains(t, err, "interval must be positive")
}

// TestCodeClasses: 5xx is 500-599 and the gateway errors 502-504; 505 and
// 600 are neither.
func TestCodeClasses(t *testing.T) {
	od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), Consecutive_5Xx: wrapperspb.UInt32(3),
		ConsecutiveGatewayFailure: wrapperspb.UInt32(3), EnforcingConsecutiveGatewayFailure: wrapperspb.UInt32(100)}
	for _, c := range []struct {
		code int
		want []string
	}{
		{599, []string{"eject:h0"}},
		{600, nil},
		{504, []string{"eject:h0"}},
	} {
		r := newRig(t, od, 1, false)
		r.fail(r.hosts[0], c.code, 3)
		assert.Equal(t, c.want, r.kinds(), "%d", c.code)
	}
	// 505 is a 5xx but not a gateway error: the 5xx count fires, the
	// gateway one does not.
	r := newRig(t, od, 1, false)
	r.fail(r.hosts[0], 505, 3)
	require.Len(t, r.events, 1)
	assert.Equal(t, Consecutive5xx, r.events[0].Type)
}

// TestLegacyMayEject: before Envoy 1.27 the share before the ejection is
// compared, strictly below the maximum.
func TestLegacyMayEject(t *testing.T) {
	assert.True(t, MayEject(1, 10, 20, false, true), "10 % < 20 %")
	assert.False(t, MayEject(2, 10, 20, false, true), "20 % is not below 20 %")
}

func TestEjectionTimeAddsJitter(t *testing.T) {
	cfg := Config{BaseEjectionTime: 30 * time.Second, MaxEjectionTime: 300 * time.Second}
	assert.Equal(t, 62*time.Second, EjectionTime(cfg, 2, 2*time.Second))
	assert.Equal(t, 301*time.Second, EjectionTime(cfg, 20, time.Second), "capped, then the jitter")
}

// TestEnforcingBoundary: enforcing_X percent ejects when the draw (0-99)
// is below it: a draw of 0 never ejects at 0 %, a draw of 99 always does
// at 100 %.
func TestEnforcingBoundary(t *testing.T) {
	for _, c := range []struct {
		enforcing uint32
		draw      uint64
		want      string
	}{
		{0, 0, "detected_not_enforced:h0"},
		{100, 99, "eject:h0"},
		{50, 49, "eject:h0"},
		{50, 50, "detected_not_enforced:h0"},
	} {
		od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), EnforcingConsecutive_5Xx: wrapperspb.UInt32(c.enforcing)}
		cfg, err := FromProto(od)
		require.NoError(t, err)
		var kinds []string
		h := &Host{ID: "h0"}
		clock := vclock.New(time.Time{})
		d := New(cfg, clock, func() uint64 { return c.draw }, false, func(e Event) { kinds = append(kinds, e.Kind+":"+e.Host.ID) }, nil)
		d.SetHosts([]*Host{h})
		for range 5 {
			d.PutHTTPResponseCode(h, 500)
		}
		clock.RunPending()
		assert.Equal(t, []string{c.want}, kinds, "enforcing %d, draw %d", c.enforcing, c.draw)
	}
}

// TestLocalOriginFailurePercentage: with split errors, local-origin
// results feed their own failure percentage: 90 % failures eject, 60 %
// stays under a 70 % threshold, hosts with connect successes only stay.
func TestLocalOriginFailurePercentage(t *testing.T) {
	od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), SplitExternalLocalOriginErrors: true,
		ConsecutiveLocalOriginFailure: wrapperspb.UInt32(1000), SuccessRateRequestVolume: wrapperspb.UInt32(10000),
		FailurePercentageThreshold: wrapperspb.UInt32(70), EnforcingFailurePercentageLocalOrigin: wrapperspb.UInt32(100)}
	r := newRig(t, od, 5, false)
	failures := []int{30, 45, 0, 0, 0}
	for i, h := range r.hosts {
		for j := range 50 {
			res := LocalOriginConnectSuccess
			if j < failures[i] {
				res = LocalOriginConnectFailed
			}
			r.d.PutResult(h, res, 0)
		}
	}
	r.clock.Advance(10 * time.Second)
	assert.Equal(t, []string{"eject:h1"}, r.kinds())
	require.NotEmpty(t, r.events)
	assert.Equal(t, FailurePercentageLocalOrigin, r.events[0].Type)
}

// TestEjectionBookkeeping: ejections are counted; the jitter is drawn
// when configured; the backoff multiplier stops where base*k reaches
// max+base exactly; a host ejected on a tick is back on the tick exactly
// one ejection time later.
func TestEjectionBookkeeping(t *testing.T) {
	od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100),
		BaseEjectionTime: durationpb.New(10 * time.Second), MaxEjectionTime: durationpb.New(40 * time.Second)}
	r := newRig(t, od, 1, false)
	h := r.hosts[0]
	for i := range 7 {
		r.fail(h, 500, 5)
		require.True(t, h.Ejected)
		assert.Equal(t, i+1, r.events[len(r.events)-1].NumEjections)
		r.clock.RunWhile(r.clock.Now().Add(time.Hour), func() bool { return h.Ejected })
	}
	assert.Equal(t, uint64(5), h.EjectTimeBackoff, "5 x 10s = 50s is not below 40s + 10s")

	// Ejected at t=0, on the interval grid: back at the 30s tick.
	r = newRig(t, &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100)}, 1, false)
	r.fail(r.hosts[0], 500, 5)
	require.True(t, r.hosts[0].Ejected)
	r.clock.Advance(30 * time.Second)
	assert.False(t, r.hosts[0].Ejected)

	cfg, err := FromProto(&clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), MaxEjectionTimeJitter: durationpb.New(time.Second)})
	require.NoError(t, err)
	clock := vclock.New(time.Time{})
	var last Event
	// A draw of 1000 is the largest jitter the 1s bound allows: 0 to 1000 ms.
	d := New(cfg, clock, func() uint64 { return 1000 }, false, func(e Event) { last = e }, nil)
	jh := &Host{ID: "j"}
	d.SetHosts([]*Host{jh})
	for range 5 {
		d.PutHTTPResponseCode(jh, 500)
	}
	clock.RunPending()
	assert.Equal(t, time.Second, jh.Jitter)
	assert.Equal(t, 31*time.Second, last.EjectionTime)
}

func TestSuccessRateThresholdValue(t *testing.T) {
	// mean 90, population stdev 20: 90 - 1.9 x 20.
	assert.InDelta(t, 52.0, SuccessRateThreshold([]float64{100, 100, 100, 100, 50}, 1.9), 1e-9)
}

// TestRateChecksBoundaries: hosts with equal success rates are all at the
// threshold and none is an outlier; a failure share equal to the
// threshold ejects; each check needs its own minimum number of hosts.
func TestRateChecksBoundaries(t *testing.T) {
	traffic := func(r *rig, failures []int) {
		for i, h := range r.hosts {
			for j := range 100 {
				code := 200
				if j < failures[i] {
					code = 500
				}
				r.d.PutHTTPResponseCode(h, code)
			}
		}
		r.clock.Advance(10 * time.Second)
	}
	base := func() *clusterv3.OutlierDetection {
		return &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), Consecutive_5Xx: wrapperspb.UInt32(1000)}
	}

	r := newRig(t, base(), 5, false)
	traffic(r, []int{20, 20, 20, 20, 20})
	assert.Empty(t, r.kinds(), "equal rates: no success-rate outlier")

	od := base()
	od.SuccessRateRequestVolume = wrapperspb.UInt32(10000)
	od.FailurePercentageThreshold = wrapperspb.UInt32(50)
	od.EnforcingFailurePercentage = wrapperspb.UInt32(100)
	r = newRig(t, od, 5, false)
	traffic(r, []int{50, 49, 0, 0, 0})
	assert.Equal(t, []string{"eject:h0"}, r.kinds(), "50 % failures at a 50 % threshold")

	// Three hosts: enough for a success-rate check that needs three, even
	// when the failure-percentage check needs ten.
	od = base()
	od.SuccessRateMinimumHosts = wrapperspb.UInt32(3)
	od.SuccessRateStdevFactor = wrapperspb.UInt32(1000)
	od.FailurePercentageMinimumHosts = wrapperspb.UInt32(10)
	r = newRig(t, od, 3, false)
	traffic(r, []int{90, 0, 0})
	assert.Equal(t, []string{"eject:h0"}, r.kinds(), "success rate with 3 of 3 hosts")
	require.NotEmpty(t, r.events)
	assert.Equal(t, SuccessRate, r.events[0].Type)

	// And the other way round.
	od = base()
	od.SuccessRateMinimumHosts = wrapperspb.UInt32(10)
	od.FailurePercentageMinimumHosts = wrapperspb.UInt32(3)
	od.EnforcingFailurePercentage = wrapperspb.UInt32(100)
	r = newRig(t, od, 3, false)
	traffic(r, []int{90, 0, 0})
	assert.Equal(t, []string{"eject:h0"}, r.kinds(), "failure percentage with 3 of 3 hosts")
	require.NotEmpty(t, r.events)
	assert.Equal(t, FailurePercentage, r.events[0].Type)
}
