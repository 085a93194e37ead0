package load

import (
	"math"
	"time"

	"github.com/detour-mesh/detour/compiler/intent"
)

// normalise derives the values CUE cannot compute (it has no duration
// arithmetic) after validation. It is idempotent: a normalised intent
// normalises to itself.
func normalise(in *intent.Intent) {
	deriveFromSLO(&in.Spec.Detection)
}

// deriveFromSLO tightens detection so that a cluster failing every request
// is detected within slo.detectWithin at slo.rps:
//
//   - Consecutive-error ejection fires on the Nth error, after N/rps seconds
//     when every request fails, so each enabled consecutive threshold is at
//     most rps × detectWithin / 2 (half the window; the other half covers
//     the in-flight requests and the retry that moves them).
//   - Failure-percentage ejection is evaluated every interval, so the
//     interval is at most detectWithin / 2 and the request volume at most
//     what arrives in one interval.
//
// Values already tighter than the SLO needs are kept.
func deriveFromSLO(d *intent.Detection) {
	if d.SLO == nil || d.SLO.RPS <= 0 || d.SLO.DetectWithin.Duration <= 0 {
		return
	}
	half := d.SLO.DetectWithin.Duration / 2
	limit := uint32(max(1, math.Floor(d.SLO.RPS*half.Seconds())))
	for _, n := range []*uint32{&d.Consecutive5xx, &d.ConsecutiveGatewayErrors, &d.ConsecutiveLocalOriginFailures} {
		if *n > limit {
			*n = limit
		}
	}
	if half >= time.Millisecond && d.Interval.Duration > half {
		d.Interval.Duration = half
	}
	if fp := d.FailurePercentage; fp != nil {
		perInterval := uint32(max(1, math.Floor(d.SLO.RPS*d.Interval.Seconds())))
		if fp.RequestVolume > perInterval {
			fp.RequestVolume = perInterval
		}
	}
}
