package outlier

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Expectations ported from Envoy's test/common/upstream/
// outlier_detection_impl_test.cc (OutlierDetectorImplTest.*). Envoy's
// tests mock the runtime; where a test turns an enforcing_* key on or off,
// the row sets that enforcing percentage to 100 or 0. Where the test sets
// max_ejection_percent to 100 (for one or two hosts, since Envoy 1.31's
// rule), so does the row. Times are seconds since the detector started;
// the interval timer ticks every 10 s as in the tests.

const odTest = "test/common/upstream/outlier_detection_impl_test.cc OutlierDetectorImplTest."

// advanceTo runs the virtual clock to sec seconds after the start.
func (r *rig) advanceTo(sec float64) {
	r.clock.RunUntil(r.clock.Start().Add(time.Duration(sec * float64(time.Second))))
}

func (r *rig) result(h *Host, res Result, code, times int) {
	for range times {
		r.d.PutResult(h, res, code)
	}
	r.clock.RunPending()
}

// typed returns the detector types of the events of kind k, in order.
func (r *rig) typed(k string) []string {
	var out []string
	for _, e := range r.events {
		if e.Kind == k {
			out = append(out, e.Type+":"+e.Host.ID)
		}
	}
	return out
}

func pct(v uint32) *wrapperspb.UInt32Value { return wrapperspb.UInt32(v) }

func TestConformanceOutlierConfig(t *testing.T) {
	// DetectorStaticConfig.
	c, err := FromProto(&clusterv3.OutlierDetection{
		Interval: durationpb.New(100 * time.Millisecond), BaseEjectionTime: durationpb.New(10 * time.Second),
		Consecutive_5Xx: pct(10), MaxEjectionPercent: pct(50), EnforcingConsecutive_5Xx: pct(10), EnforcingSuccessRate: pct(20),
		SuccessRateMinimumHosts: pct(50), SuccessRateRequestVolume: pct(200), SuccessRateStdevFactor: pct(3000),
		FailurePercentageMinimumHosts: pct(10), FailurePercentageRequestVolume: pct(25), FailurePercentageThreshold: pct(70),
		MaxEjectionTime: durationpb.New(400 * time.Second)})
	require.NoError(t, err, odTest+"DetectorStaticConfig")
	assert.Equal(t, Config{Interval: 100 * time.Millisecond, BaseEjectionTime: 10 * time.Second, MaxEjectionTime: 400 * time.Second,
		Consecutive5xx: 10, ConsecutiveGatewayFailure: 5, ConsecutiveLocalOriginFailure: 5, MaxEjectionPercent: 50,
		SuccessRateMinimumHosts: 50, SuccessRateRequestVolume: 200, SuccessRateStdevFactor: 3000,
		FailurePercentageThreshold: 70, FailurePercentageMinimumHosts: 10, FailurePercentageRequestVolume: 25,
		EnforcingConsecutive5xx: 10, EnforcingConsecutiveGatewayFailure: 0, EnforcingConsecutiveLocalOrigin: 100,
		EnforcingSuccessRate: 20, EnforcingLocalOriginSuccessRate: 100}, c, odTest+"DetectorStaticConfig")

	// DetectorStaticConfigMaxDefaultValue.
	c, err = FromProto(&clusterv3.OutlierDetection{Interval: durationpb.New(100 * time.Millisecond), BaseEjectionTime: durationpb.New(10 * time.Second)})
	require.NoError(t, err)
	assert.Equal(t, 300*time.Second, c.MaxEjectionTime, odTest+"DetectorStaticConfigMaxDefaultValue")
	// DetectorStaticConfigDefaultMaxEjectionTimeJitter.
	assert.Equal(t, time.Duration(0), c.MaxEjectionTimeJitter, odTest+"DetectorStaticConfigDefaultMaxEjectionTimeJitter")

	// DetectorStaticConfigiInvalidMaxEjectTime.
	_, err = FromProto(&clusterv3.OutlierDetection{BaseEjectionTime: durationpb.New(10 * time.Second), MaxEjectionTime: durationpb.New(3 * time.Second)})
	assert.Error(t, err, odTest+"DetectorStaticConfigiInvalidMaxEjectTime")

	// DetectorStaticConfigBaseLargerThanMaxNoMax.
	c, err = FromProto(&clusterv3.OutlierDetection{BaseEjectionTime: durationpb.New(400 * time.Second)})
	require.NoError(t, err)
	assert.Equal(t, 400*time.Second, c.MaxEjectionTime, odTest+"DetectorStaticConfigBaseLargerThanMaxNoMax")

	// DetectorStaticConfigMaxEjectionTimeJitter.
	c, err = FromProto(&clusterv3.OutlierDetection{MaxEjectionTimeJitter: durationpb.New(13 * time.Second)})
	require.NoError(t, err)
	assert.Equal(t, 13*time.Second, c.MaxEjectionTimeJitter, odTest+"DetectorStaticConfigMaxEjectionTimeJitter")
}

func TestConformanceOutlierFlows(t *testing.T) {
	all := pct(100)
	cases := []struct {
		name  string
		od    *clusterv3.OutlierDetection
		hosts int
		run   func(t *testing.T, r *rig)
	}{
		{"BasicFlow5xxViaHttpCodes", &clusterv3.OutlierDetection{MaxEjectionPercent: all}, 2, func(t *testing.T, r *rig) {
			h := r.hosts[0]
			r.fail(h, 500, 1)
			r.fail(h, 200, 1)
			r.fail(h, 500, 4)
			assert.False(t, h.Ejected, "4 consecutive after a success")
			r.fail(h, 500, 1)
			assert.True(t, h.Ejected)
			r.advanceTo(29.999) // the tick at 20 s is too early
			assert.True(t, h.Ejected)
			r.advanceTo(30)
			assert.False(t, h.Ejected)
			r.fail(h, 500, 5)
			assert.True(t, h.Ejected)
			assert.Equal(t, []string{"CONSECUTIVE_5XX:h0", "CONSECUTIVE_5XX:h0"}, r.typed(KindEject))
		}},
		{"BasicFlow5xxViaNonHttpCodes", &clusterv3.OutlierDetection{MaxEjectionPercent: all}, 2, func(t *testing.T, r *rig) {
			h := r.hosts[0]
			r.result(h, LocalOriginConnectFailed, 0, 1)
			r.fail(h, 200, 1)
			r.result(h, LocalOriginConnectFailed, 0, 4)
			assert.False(t, h.Ejected)
			r.result(h, LocalOriginConnectFailed, 0, 1)
			assert.True(t, h.Ejected)
			// Connect failures count as 503: the gateway detector fires too,
			// not enforced by default.
			assert.Equal(t, []string{"CONSECUTIVE_GATEWAY_FAILURE:h0"}, r.typed(KindNotEnforced))
			assert.Equal(t, []string{"CONSECUTIVE_5XX:h0"}, r.typed(KindEject))
		}},
		{"BasicFlowGatewayFailure", &clusterv3.OutlierDetection{MaxEjectionPercent: all,
			EnforcingConsecutiveGatewayFailure: all, EnforcingConsecutive_5Xx: pct(0)}, 2, func(t *testing.T, r *rig) {
			h := r.hosts[0]
			r.fail(h, 503, 1)
			r.fail(h, 500, 1)
			r.fail(h, 503, 4)
			assert.Equal(t, []string{"CONSECUTIVE_5XX:h0"}, r.typed(KindNotEnforced), "5 consecutive 5xx, not enforced")
			assert.False(t, h.Ejected)
			r.fail(h, 503, 1)
			assert.True(t, h.Ejected)
			r.advanceTo(30)
			assert.False(t, h.Ejected)
			r.fail(h, 503, 5)
			assert.True(t, h.Ejected)
			assert.Equal(t, []string{"CONSECUTIVE_GATEWAY_FAILURE:h0", "CONSECUTIVE_GATEWAY_FAILURE:h0"}, r.typed(KindEject))
		}},
		{"BasicFlowGatewayFailureAnd5xx", &clusterv3.OutlierDetection{MaxEjectionPercent: all,
			EnforcingConsecutiveGatewayFailure: all}, 2, func(t *testing.T, r *rig) {
			h := r.hosts[0]
			r.fail(h, 503, 1)
			r.fail(h, 200, 1)
			r.fail(h, 503, 5)
			assert.True(t, h.Ejected)
			assert.Equal(t, []string{"CONSECUTIVE_GATEWAY_FAILURE:h0"}, r.typed(KindEject), "the gateway detector first; the 5xx one finds the host ejected")
		}},
		{"TimeoutWithHttpCode", &clusterv3.OutlierDetection{MaxEjectionPercent: all}, 3, func(t *testing.T, r *rig) {
			h := r.hosts[0]
			r.result(h, LocalOriginTimeout, 500, 5)
			assert.True(t, h.Ejected, "timeouts with code 500")
			r.advanceTo(50)
			assert.False(t, h.Ejected)
			r.result(h, LocalOriginTimeout, 200, 5)
			assert.False(t, h.Ejected, "timeouts with code 200")
			r.result(h, LocalOriginTimeout, 0, 5)
			assert.True(t, h.Ejected, "timeouts without a code count as 504")
			assert.Equal(t, []string{"CONSECUTIVE_GATEWAY_FAILURE:h0"}, r.typed(KindNotEnforced))
		}},
		{"LargeNumberOfTimeouts", &clusterv3.OutlierDetection{MaxEjectionPercent: all, SplitExternalLocalOriginErrors: true}, 1, func(t *testing.T, r *rig) {
			h := r.hosts[0]
			r.result(h, LocalOriginTimeout, 0, 5)
			assert.True(t, h.Ejected)
			r.result(h, LocalOriginTimeout, 0, 10)
			r.advanceTo(50)
			assert.False(t, h.Ejected, "timeouts while ejected do not hold the host")
			r.result(h, LocalOriginTimeout, 0, 5)
			assert.True(t, h.Ejected)
			assert.Equal(t, []string{"CONSECUTIVE_LOCAL_ORIGIN_FAILURE:h0", "CONSECUTIVE_LOCAL_ORIGIN_FAILURE:h0"}, r.typed(KindEject))
		}},
		{"BasicFlowLocalOriginFailure", &clusterv3.OutlierDetection{MaxEjectionPercent: all, SplitExternalLocalOriginErrors: true}, 1, func(t *testing.T, r *rig) {
			h := r.hosts[0]
			r.result(h, LocalOriginConnectFailed, 0, 5)
			assert.True(t, h.Ejected)
			r.result(h, LocalOriginConnectFailed, 0, 5)
			r.advanceTo(29.999)
			assert.True(t, h.Ejected)
			r.advanceTo(30)
			assert.False(t, h.Ejected)
			r.result(h, LocalOriginConnectFailed, 0, 5)
			assert.True(t, h.Ejected)
			r.advanceTo(40)
			assert.True(t, h.Ejected)
			r.advanceTo(90) // second ejection: 60 s
			assert.False(t, h.Ejected)
			r.result(h, LocalOriginConnectFailed, 0, 4)
			r.result(h, LocalOriginConnectSuccess, 0, 1)
			r.result(h, LocalOriginConnectFailed, 0, 2)
			assert.False(t, h.Ejected, "a connect success resets the count")
			assert.Len(t, r.typed(KindEject), 2)
		}},
		{"ConnectSuccessWithOptionalHTTP_OK", &clusterv3.OutlierDetection{MaxEjectionPercent: all}, 1, func(t *testing.T, r *rig) {
			h := r.hosts[0]
			for range 100 {
				r.result(h, LocalOriginConnectSuccess, 200, 1)
				r.result(h, LocalOriginConnectFailed, 0, 1)
			}
			assert.False(t, h.Ejected)
		}},
		{"ExternalOriginEventsNonSplit", &clusterv3.OutlierDetection{MaxEjectionPercent: all}, 1, func(t *testing.T, r *rig) {
			h := r.hosts[0]
			for range 100 {
				r.result(h, ExtOriginRequestFailed, 0, 1)
				r.result(h, ExtOriginRequestSuccess, 0, 1)
			}
			assert.False(t, h.Ejected)
			r.result(h, ExtOriginRequestFailed, 0, 100)
			assert.True(t, h.Ejected)
			assert.Equal(t, []string{"CONSECUTIVE_5XX:h0"}, r.typed(KindEject))
		}},
		{"ExternalOriginEventsWithSplit", &clusterv3.OutlierDetection{MaxEjectionPercent: all, SplitExternalLocalOriginErrors: true}, 1, func(t *testing.T, r *rig) {
			h := r.hosts[0]
			for range 100 {
				r.result(h, ExtOriginRequestFailed, 0, 1)
				r.result(h, ExtOriginRequestSuccess, 0, 1)
			}
			assert.False(t, h.Ejected)
			r.result(h, ExtOriginRequestFailed, 0, 100)
			assert.True(t, h.Ejected)
			assert.Equal(t, []string{"CONSECUTIVE_5XX:h0"}, r.typed(KindEject))
		}},
		{"BasicFlowSuccessRateLocalOrigin", &clusterv3.OutlierDetection{MaxEjectionPercent: all, SplitExternalLocalOriginErrors: true,
			EnforcingConsecutiveLocalOriginFailure: pct(0)}, 5, func(t *testing.T, r *rig) {
			for _, h := range r.hosts {
				r.result(h, LocalOriginConnectSuccess, 0, 200)
			}
			r.result(r.hosts[4], LocalOriginConnectFailed, 0, 200)
			// h4: 50% of 400; mean 90, threshold 90 - 1.9*20 = 52.
			r.advanceTo(10)
			assert.True(t, r.hosts[4].Ejected)
			assert.Equal(t, []string{"SUCCESS_RATE_LOCAL_ORIGIN:h4"}, r.typed(KindEject))
			r.advanceTo(19.999)
			assert.True(t, r.hosts[4].Ejected)
			r.advanceTo(50)
			assert.False(t, r.hosts[4].Ejected)
			// Four hosts with 25 requests are below the volume of 100: no
			// success-rate ejection.
			for _, h := range r.hosts {
				r.result(h, LocalOriginConnectSuccess, 0, 25)
			}
			r.result(r.hosts[4], LocalOriginConnectFailed, 0, 25)
			r.advanceTo(60)
			assert.Equal(t, 0, r.d.Active())
		}},
		{"BasicFlowFailurePercentageExternalOrigin", &clusterv3.OutlierDetection{MaxEjectionPercent: all,
			EnforcingConsecutive_5Xx: pct(0), EnforcingSuccessRate: pct(0), EnforcingFailurePercentage: all}, 5, func(t *testing.T, r *rig) {
			for _, h := range r.hosts {
				r.fail(h, 200, 50)
			}
			r.fail(r.hosts[3], 503, 250) // 83.3% failures: below 85
			r.fail(r.hosts[4], 503, 300) // 85.7%: above
			r.advanceTo(10)
			assert.False(t, r.hosts[3].Ejected)
			assert.True(t, r.hosts[4].Ejected)
			assert.Equal(t, []string{"FAILURE_PERCENTAGE:h4"}, r.typed(KindEject))
			r.advanceTo(50)
			assert.False(t, r.hosts[4].Ejected)
			for _, h := range r.hosts {
				r.fail(h, 200, 25)
			}
			r.fail(r.hosts[4], 503, 25) // volume 50 but only h4 has it
			r.advanceTo(60)
			assert.Equal(t, 0, r.d.Active())
		}},
		{"BasicFlowFailurePercentageLocalOrigin", &clusterv3.OutlierDetection{MaxEjectionPercent: all, SplitExternalLocalOriginErrors: true,
			EnforcingConsecutiveLocalOriginFailure: pct(0), EnforcingLocalOriginSuccessRate: pct(0),
			EnforcingFailurePercentageLocalOrigin: all, FailurePercentageThreshold: pct(40)}, 5, func(t *testing.T, r *rig) {
			for _, h := range r.hosts {
				r.result(h, LocalOriginConnectSuccess, 0, 200)
			}
			r.result(r.hosts[4], LocalOriginConnectFailed, 0, 200)
			r.advanceTo(10)
			assert.True(t, r.hosts[4].Ejected)
			assert.Equal(t, []string{"FAILURE_PERCENTAGE_LOCAL_ORIGIN:h4"}, r.typed(KindEject))
			assert.Contains(t, r.typed(KindNotEnforced), "SUCCESS_RATE_LOCAL_ORIGIN:h4")
		}},
		{"RemoveWhileEjected", &clusterv3.OutlierDetection{MaxEjectionPercent: all}, 1, func(t *testing.T, r *rig) {
			r.fail(r.hosts[0], 500, 5)
			require.Equal(t, 1, r.d.Active())
			r.d.SetHosts(nil)
			assert.Equal(t, 0, r.d.Active())
			r.advanceTo(10)
		}},
		{"CrossThreadRemoveRace", &clusterv3.OutlierDetection{MaxEjectionPercent: all}, 1, func(t *testing.T, r *rig) {
			// The fifth 5xx posts the ejection; the host is removed before
			// the main thread runs it.
			for range 5 {
				r.d.PutHTTPResponseCode(r.hosts[0], 500)
			}
			r.d.SetHosts(nil)
			r.clock.RunPending()
			assert.Equal(t, 0, r.d.Active())
			assert.Empty(t, r.typed(KindEject))
		}},
		{"Consecutive_5xxAlreadyEjected", &clusterv3.OutlierDetection{MaxEjectionPercent: all}, 1, func(t *testing.T, r *rig) {
			r.fail(r.hosts[0], 500, 5)
			r.fail(r.hosts[0], 200, 1)
			r.fail(r.hosts[0], 500, 5)
			assert.Len(t, r.typed(KindEject), 1)
		}},
		{"NotEnforcing", &clusterv3.OutlierDetection{MaxEjectionPercent: all, EnforcingConsecutive_5Xx: pct(0)}, 1, func(t *testing.T, r *rig) {
			r.fail(r.hosts[0], 503, 5)
			assert.False(t, r.hosts[0].Ejected)
			// Both detectors fire, neither enforced (Envoy's test does not
			// order them).
			assert.ElementsMatch(t, []string{"CONSECUTIVE_5XX:h0", "CONSECUTIVE_GATEWAY_FAILURE:h0"}, r.typed(KindNotEnforced))
		}},
		{"MaxEjectionPercentage", &clusterv3.OutlierDetection{MaxEjectionPercent: pct(50), MaxEjectionTimeJitter: durationpb.New(13 * time.Second)}, 3, func(t *testing.T, r *rig) {
			for _, h := range r.hosts {
				r.fail(h, 500, 5)
			}
			assert.True(t, r.hosts[0].Ejected)
			assert.False(t, r.hosts[1].Ejected)
			assert.False(t, r.hosts[2].Ejected)
		}},
		{"MaxEjectionPercentageSingleHost", &clusterv3.OutlierDetection{MaxEjectionPercent: pct(90), MaxEjectionTimeJitter: durationpb.New(13 * time.Second)}, 1, func(t *testing.T, r *rig) {
			r.fail(r.hosts[0], 500, 5)
			assert.False(t, r.hosts[0].Ejected)
		}},
		{"EjectTimeBackoff", &clusterv3.OutlierDetection{MaxEjectionPercent: all, BaseEjectionTime: durationpb.New(10 * time.Second)}, 1, func(t *testing.T, r *rig) {
			h := r.hosts[0]
			steps := []struct {
				at      float64
				fail    bool
				ejected bool
			}{
				{0, true, true}, {10, false, false}, // 1st: 10 s
				{10, true, true}, {20, false, true}, {30, false, false}, // 2nd: 20 s
				{30, true, true}, {40, false, true}, {50, false, true}, {60, false, false}, // 3rd: 30 s
				{80, true, true}, {90, false, true}, {100, false, false}, // two healthy intervals: 20 s
				{610, true, true}, {620, false, false}, // long healthy: back to 10 s
			}
			for i, s := range steps {
				r.advanceTo(s.at)
				if s.fail {
					r.fail(h, 500, 5)
				}
				assert.Equal(t, s.ejected, h.Ejected, "step %d at %vs", i, s.at)
			}
		}},
		{"MaxEjectTime", &clusterv3.OutlierDetection{MaxEjectionPercent: all, BaseEjectionTime: durationpb.New(10 * time.Second),
			MaxEjectionTime: durationpb.New(300 * time.Second)}, 1, func(t *testing.T, r *rig) {
			h := r.hosts[0]
			tick := 0
			for i := 1; i <= 40; i++ {
				r.fail(h, 500, 5)
				require.True(t, h.Ejected)
				// The i-th ejection in a row lasts min(10 s * i, 300 s).
				for range min(i, 30) - 1 {
					tick++
					r.advanceTo(float64(10 * tick))
					require.True(t, h.Ejected, "ejection %d at tick %d", i, tick)
				}
				tick++
				r.advanceTo(float64(10 * tick))
				require.False(t, h.Ejected, "ejection %d at tick %d", i, tick)
			}
		}},
		{"MaxEjectTimeNotAlligned", &clusterv3.OutlierDetection{MaxEjectionPercent: all, BaseEjectionTime: durationpb.New(10 * time.Second),
			MaxEjectionTime: durationpb.New(305 * time.Second)}, 1, func(t *testing.T, r *rig) {
			h := r.hosts[0]
			tick := 0
			for i := 1; i <= 40; i++ {
				r.fail(h, 500, 5)
				require.True(t, h.Ejected)
				// Capped at 305 s, un-ejected on the 31st tick.
				for range min(i, 31) - 1 {
					tick++
					r.advanceTo(float64(10 * tick))
					require.True(t, h.Ejected, "ejection %d at tick %d", i, tick)
				}
				tick++
				r.advanceTo(float64(10 * tick))
				require.False(t, h.Ejected, "ejection %d at tick %d", i, tick)
			}
		}},
		{"EjectionTimeJitterIsZeroWhenNotConfigured", &clusterv3.OutlierDetection{MaxEjectionPercent: all}, 1, func(t *testing.T, r *rig) {
			r.fail(r.hosts[0], 500, 5)
			assert.Equal(t, time.Duration(0), r.hosts[0].Jitter)
		}},
		{"EjectionTimeJitterIsInRange", &clusterv3.OutlierDetection{MaxEjectionPercent: all, MaxEjectionTimeJitter: durationpb.New(10 * time.Second)}, 1, func(t *testing.T, r *rig) {
			r.fail(r.hosts[0], 500, 5)
			assert.LessOrEqual(t, r.hosts[0].Jitter, 10*time.Second)
		}},
	}
	for _, c := range cases {
		t.Run(odTest+c.name, func(t *testing.T) {
			c.run(t, newRig(t, c.od, c.hosts, false))
		})
	}
}

// OutlierDetectorImplTest.Overflow (before Envoy 1.31): with
// max_ejection_percent 1 the first ejection of two hosts was allowed, the
// second overflowed. Config.LegacyEjection keeps that rule.
func TestConformanceOutlierLegacyOverflow(t *testing.T) {
	r := newRig(t, &clusterv3.OutlierDetection{MaxEjectionPercent: pct(1)}, 2, true)
	r.fail(r.hosts[0], 500, 5)
	assert.True(t, r.hosts[0].Ejected)
	r.fail(r.hosts[1], 500, 5)
	assert.False(t, r.hosts[1].Ejected)
	assert.Equal(t, []string{"CONSECUTIVE_5XX:h1"}, r.typed(KindOverflow))
}

// EjectionTimeJitterIsInRange: with max_ejection_time_jitter 10 s and a
// random draw of 123456789 the jitter is 123456789 % 10001 ms = 4445 ms.
func TestConformanceOutlierJitterValue(t *testing.T) {
	cfg, err := FromProto(&clusterv3.OutlierDetection{MaxEjectionPercent: pct(100), MaxEjectionTimeJitter: durationpb.New(10 * time.Second)})
	require.NoError(t, err)
	r := &rig{}
	r.clock = newRig(t, &clusterv3.OutlierDetection{}, 0, false).clock
	r.d = New(cfg, r.clock, func() uint64 { return 123456789 }, false, func(e Event) { r.events = append(r.events, e) }, nil)
	r.hosts = []*Host{{ID: "h0"}}
	r.d.SetHosts(r.hosts)
	r.fail(r.hosts[0], 500, 5)
	require.True(t, r.hosts[0].Ejected)
	assert.Equal(t, 4445*time.Millisecond, r.hosts[0].Jitter, odTest+"EjectionTimeJitterIsInRange")
}
