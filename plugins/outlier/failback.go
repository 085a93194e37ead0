package outlier

import (
	"math"

	"github.com/detour-mesh/detour/plugins/config"
)

// Failback: a target that is out is probed on a fixed short period; the
// first good probe returns it after a hold-down, and the hold-down grows
// with a flap penalty that decays, as BGP route-flap dampening does
// (RFC 2439: a penalty per flap, halving every half-life). Envoy has no
// hold-down: an ejected host returns when its ejection time is over,
// whatever its history beyond the backoff multiplier (ejectTimeBackoff).

// penaltyUnit is one ejection's penalty, in thousandths.
const penaltyUnit = 1000

// maxPenalty bounds the stored penalty (and so the hold-down's exponent).
const maxPenalty = 16 * penaltyUnit

// holdDownGrowth multiplies the hold-down per penalty unit beyond the
// first: a target ejected twice within one half-life waits about
// three times as long before traffic returns.
const holdDownGrowth = 3

// SetFailback applies the failback configuration (defaults where 0).
func (s *Settings) SetFailback(f config.Failback) {
	s.HoldDownMs = int64(f.HoldDownMs)
	s.ProbeMs, s.HalfLifeMs = int64(f.ProbeIntervalMs), int64(f.FlapHalfLifeMs)
	s.MaxHoldDownMs = int64(f.MaxHoldDownMs)
	if s.ProbeMs == 0 {
		s.ProbeMs = config.DefaultProbeIntervalMs
	}
	if s.HalfLifeMs == 0 {
		s.HalfLifeMs = config.DefaultFlapHalfLifeMs
	}
	if s.MaxHoldDownMs == 0 {
		s.MaxHoldDownMs = 60 * s.HoldDownMs
	}
	s.WarmProbeMs = DefaultWarmProbeMs
}

// PenaltyAt is r's flap penalty at now, in thousandths.
func (s *Settings) PenaltyAt(r *Record, now int64) uint32 {
	if r.Penalty == 0 {
		return 0
	}
	e := now - r.PenaltyAt
	if e <= 0 || s.HalfLifeMs <= 0 {
		return r.Penalty
	}
	return uint32(float64(r.Penalty) * math.Exp2(-float64(e)/float64(s.HalfLifeMs)))
}

// HoldDown is the hold-down of a recovery of r at now: the configured one
// for a penalty of one ejection or less, times holdDownGrowth per further
// unit of penalty, capped at MaxHoldDownMs.
func (s *Settings) HoldDown(r *Record, now int64) int64 {
	p := float64(s.PenaltyAt(r, now))/penaltyUnit - 1
	if p <= 0 || s.HoldDownMs == 0 {
		return s.HoldDownMs
	}
	d := float64(s.HoldDownMs) * math.Pow(holdDownGrowth, p)
	if d >= float64(s.MaxHoldDownMs) {
		return s.MaxHoldDownMs
	}
	return int64(d)
}

// InHoldDown reports whether r is back but still held at 0 %.
func (s *Settings) InHoldDown(r *Record, now int64) bool {
	if r.Ejected || r.RecoveredAt == 0 {
		return false
	}
	e := now - r.RecoveredAt
	return e >= 0 && e < int64(r.HoldDownMs)
}

// ProbeFailed records a failed probe at now. In hold-down it ejects r
// again (a flap: the penalty grows); out, r stays out and is probed again
// one period later, without Envoy's growing backoff.
func (s *Settings) ProbeFailed(r *Record, now int64) {
	r.ProbeUntil = 0
	if !r.Ejected {
		s.Eject(r, now)
		return
	}
	r.NextProbe = now + s.ProbeMs
}

// ProbeOK records a good probe at now: an ejected r returns (hold-down
// from its penalty); one in hold-down is probed again one period later.
func (s *Settings) ProbeOK(r *Record, now int64) {
	r.ProbeUntil = 0
	if r.Ejected {
		s.Uneject(r, now)
		return
	}
	r.NextProbe = now + s.ProbeMs
}

// DefaultWarmProbeMs bounds the answer time of a warm probe
// (ProbeAnswered): pods that answer a probe slower than this are taken for
// cold (warming up) and held down until one answers within it.
const DefaultWarmProbeMs = 100

// FirstRecovery reports whether a recovery of r at now is its first in
// the flap half-life: its penalty is no more than the one unit of the
// ejection it ends.
func (s *Settings) FirstRecovery(r *Record, now int64) bool {
	return s.PenaltyAt(r, now) <= penaltyUnit
}

// ProbeAnswered records a good probe at now that took tookMs (negative:
// unknown). It is ProbeOK, except that a first recovery whose probe
// answered within WarmProbeMs returns at once and whole, as Envoy returns
// a host when its ejection ends (RecoveredAt 0: no hold-down, no ramp), so
// a clean outage costs no more than plain Istio's failback. The hold-down
// and the ramp stay for a target ejected again within the half-life (it
// flaps).
//
// A slow probe that returns a target, or answers in its hold-down, extends
// the hold-down past the next probe's answer (the next probe is due a
// period after this answer and goes out on the filter's tick, up to a
// period later, and takes about as long), up to MaxHoldDownMs: the target
// returns once a probe answers warm, then ramps. Pods that answer slowly
// are warming up (cold caches, JIT, a scaled-up deployment's new pods):
// Envoy would return them whole (slow start only shifts weight among the
// hosts of one priority, and returning pods are new together), and a ramp
// of a few 500 ms steps still hands them half the load within a second
// and overloads them (examples/bookinfo/drills/cold-recovery.yaml: p99
// 272 ms and a second failure when this applied to repeated recoveries
// only, 96 ms and none now). The cost: a preferred cluster whose probe
// answers slower than WarmProbeMs even when warm (farther than ~100 ms, or
// a slow probePath) returns MaxHoldDownMs after it recovers.
func (s *Settings) ProbeAnswered(r *Record, now, tookMs int64) {
	ejected := r.Ejected
	hold := s.InHoldDown(r, now)
	s.ProbeOK(r, now)
	warm := tookMs >= 0 && tookMs <= s.WarmProbeMs
	switch {
	case ejected && warm && s.FirstRecovery(r, now):
		r.RecoveredAt, r.HoldDownMs = 0, 0
	case (ejected || hold) && tookMs > s.WarmProbeMs:
		if hd := min(now-r.RecoveredAt+2*s.ProbeMs+tookMs, s.MaxHoldDownMs); hd > int64(r.HoldDownMs) {
			r.HoldDownMs = uint32(hd)
		}
	}
}
