package outlier

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/detour-mesh/detour/harness/vclock"
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
