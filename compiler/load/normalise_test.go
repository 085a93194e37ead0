package load

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/detour-mesh/detour/compiler/intent"
)

func TestDeriveFromSLO(t *testing.T) {
	dur := func(s string) intent.Duration {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return intent.Duration{Duration: d}
	}
	defaults := func() intent.Detection {
		return intent.Detection{Consecutive5xx: 5, ConsecutiveGatewayErrors: 3, ConsecutiveLocalOriginFailures: 3,
			Interval: dur("5s"), FailurePercentage: &intent.FailurePercentage{Threshold: 50, MinimumHosts: 1, RequestVolume: 20}}
	}
	tests := []struct {
		name string
		slo  *intent.SLO
		want func(d *intent.Detection)
	}{
		{"no SLO keeps the values", nil, func(*intent.Detection) {}},
		{"2s at 100 rps: thresholds already tight, interval halved to 1s", &intent.SLO{DetectWithin: dur("2s"), RPS: 100},
			func(d *intent.Detection) { d.Interval = dur("1s") }},
		{"1s at 4 rps: at most 2 consecutive errors, 500ms interval, 2 requests", &intent.SLO{DetectWithin: dur("1s"), RPS: 4},
			func(d *intent.Detection) {
				d.Consecutive5xx, d.ConsecutiveGatewayErrors, d.ConsecutiveLocalOriginFailures = 2, 2, 2
				d.Interval = dur("500ms")
				d.FailurePercentage.RequestVolume = 2
			}},
		// 5 rps x 500ms = 2.5 requests: rounding up would let the third
		// error land after the half window.
		{"1s at 5 rps: fractional counts round down", &intent.SLO{DetectWithin: dur("1s"), RPS: 5},
			func(d *intent.Detection) {
				d.Consecutive5xx, d.ConsecutiveGatewayErrors, d.ConsecutiveLocalOriginFailures = 2, 2, 2
				d.Interval = dur("500ms")
				d.FailurePercentage.RequestVolume = 2
			}},
		{"very low rate still ejects after one error", &intent.SLO{DetectWithin: dur("1s"), RPS: 0.5},
			func(d *intent.Detection) {
				d.Consecutive5xx, d.ConsecutiveGatewayErrors, d.ConsecutiveLocalOriginFailures = 1, 1, 1
				d.Interval = dur("500ms")
				d.FailurePercentage.RequestVolume = 1
			}},
		{"a loose SLO changes nothing", &intent.SLO{DetectWithin: dur("1m"), RPS: 1000}, func(*intent.Detection) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, want := defaults(), defaults()
			got.SLO, want.SLO = tc.slo, tc.slo
			tc.want(&want)
			deriveFromSLO(&got)
			assert.Equal(t, want, got)
			deriveFromSLO(&got)
			assert.Equal(t, want, got, "idempotent")
		})
	}
}
