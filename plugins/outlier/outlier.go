// Package outlier is the decision core of Detour's outlier filter: passive
// health per target cluster from response codes, Envoy response flags and
// resets, ejection with backoff, and the per-service state machine. It is
// plain Go (no proxy-wasm import) so it builds and tests natively; the
// filter glue keeps each target's Record in proxy-wasm shared data and
// updates it with compare-and-swap loops, so every worker VM sees one health
// view.
//
// The counting follows Envoy's detector
// (source/common/upstream/outlier_detection_impl.cc,
// DetectorHostMonitorImpl::putHttpResponseCode and putResult in
// split_external_local_origin_errors mode) with three deliberate
// differences: thresholds fire on >= rather than == (several worker VMs may
// race past the exact count), failure percentage is checked on every
// observation over a window of one interval instead of on the interval
// timer, and the max-ejection share always allows the first ejection (what
// Envoy calls always_eject_one_host), because Istio's multi-network model
// collapses a whole remote cluster into one endpoint.
package outlier

import (
	"encoding/binary"

	"github.com/detour-mesh/detour/plugins/config"
)

// Outcome is one observed response, classified.
type Outcome uint8

const (
	// Success is any response that is not a failure below.
	Success Outcome = iota
	// Ext5xx is a 5xx from the upstream other than a gateway error.
	Ext5xx
	// Gateway is a 502, 503 or 504 from the upstream (also a 5xx).
	Gateway
	// LocalOrigin is a connect failure, reset, timeout or no healthy host.
	LocalOrigin
	// Ignored is not reported (circuit-breaker overflow, as in Envoy).
	Ignored
)

var outcomeNames = [...]string{"success", "5xx", "gateway-error", "local-origin", "ignored"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Envoy response flags (StreamInfo::CoreResponseFlag bits, envoy/stream_info/stream_info.h).
const (
	FlagFailedLocalHealthCheck        = 0x1
	FlagNoHealthyUpstream             = 0x2       // UH
	FlagUpstreamRequestTimeout        = 0x4       // UT
	FlagLocalReset                    = 0x8       // LR
	FlagUpstreamRemoteReset           = 0x10      // UR
	FlagUpstreamConnectionFailure     = 0x20      // UF
	FlagUpstreamConnectionTermination = 0x40      // UC
	FlagUpstreamOverflow              = 0x80      // UO
	FlagNoRouteFound                  = 0x100     // NR
	FlagUpstreamRetryLimitExceeded    = 0x8000    // URX
	FlagNoClusterFound                = 0x1000000 // NC
)

// localOriginFlags are the flags that mean the request never got an answer
// from the application: Envoy's router reports these as local-origin
// results (router.cc onUpstreamReset / onPerTryTimeout). UH is added because
// Detour tracks a whole cluster: no healthy host in it is the cluster failing.
const localOriginFlags = FlagNoHealthyUpstream | FlagUpstreamRequestTimeout | FlagLocalReset |
	FlagUpstreamRemoteReset | FlagUpstreamConnectionFailure | FlagUpstreamConnectionTermination | FlagNoClusterFound

// HostFlags are the response flags Classify should see for a response:
// an answer from an upstream host (upstream: Envoy's router stamped it)
// that carries UO is the host's own status forwarded after Envoy refused
// its retry (retry budget or circuit breaker: router.cc sets
// UpstreamOverflow on RetryStatus::NoOverflow). Envoy's detector counted
// that status when the headers arrived (putHttpResponseCode runs before
// the retry decision), so the filters count it too; only a UO reply of
// Envoy's own (no upstream answer) is overflow.
func HostFlags(flags uint64, upstream bool) uint64 {
	if upstream {
		return flags &^ FlagUpstreamOverflow
	}
	return flags
}

// Classify turns a response into an Outcome. code is response.code (0 when
// there was none), flags response.flags, reset whether the stream or call
// was reset before a response.
func Classify(code int, flags uint64, reset bool) Outcome {
	switch {
	case flags&FlagUpstreamOverflow != 0:
		return Ignored // envoyproxy/envoy#25487: overflow is not the host's fault
	case reset || flags&localOriginFlags != 0 || code == 0:
		return LocalOrigin
	case code >= 502 && code <= 504: // Http::CodeUtility::isGatewayError
		return Gateway
	case code >= 500 && code <= 599:
		return Ext5xx
	}
	return Success
}

// Detector names the check that ejected a target.
type Detector uint8

const (
	None Detector = iota
	Consecutive5xx
	ConsecutiveGateway
	ConsecutiveLocalOrigin
	FailurePercentage
	ProbeFailed
	// Latency: the target's p99 breached the budget (plugins/latency).
	Latency
)

var detectorNames = [...]string{"none", "consecutive-5xx", "consecutive-gateway-errors", "consecutive-local-origin-failures", "failure-percentage", "probe-failed", "latency"}

func (d Detector) String() string {
	if int(d) < len(detectorNames) {
		return detectorNames[d]
	}
	return "unknown"
}

// Record is one target's shared health. All times are milliseconds on the
// proxy's clock.
type Record struct {
	Cons5xx, ConsGateway, ConsLocal uint32
	// WinStart opens the failure-percentage window; WinTotal and WinFail count in it.
	WinStart          int64
	WinTotal, WinFail uint32
	Ejected           bool
	// EjectedAt is the last ejection; Times is Envoy's ejectTimeBackoff.
	EjectedAt int64
	Times     uint32
	// RecoveredAt is the last un-ejection (0: never ejected); the router
	// ramps traffic back from it.
	RecoveredAt int64
	// ProbeUntil claims the probe of an ejected target for one VM until then.
	ProbeUntil int64
	// DecayAt is the last time Times was lowered while healthy.
	DecayAt int64
	// Ejections counts ejections over the record's life.
	Ejections uint32
	// NextProbe is when the next probe of a target that is out or in
	// hold-down is due.
	NextProbe int64
	// Penalty is the flap penalty in thousandths (1000 per ejection) as of
	// PenaltyAt; it halves every half-life.
	Penalty   uint32
	PenaltyAt int64
	// HoldDownMs is the hold-down of the current recovery (0: the
	// configured one), raised by the penalty when it recovered.
	HoldDownMs uint32
}

// RecordSize is the encoded size of a Record.
const RecordSize = 4*3 + 8 + 4*2 + 1 + 8 + 4 + 8 + 8 + 8 + 4 + 1 + 8 + 4 + 8 + 4

const recordVersion = 2

// Encode writes r into b (len(b) >= RecordSize) and returns the bytes used.
func (r *Record) Encode(b []byte) []byte {
	b = b[:RecordSize]
	le := binary.LittleEndian
	b[0] = recordVersion
	le.PutUint32(b[1:], r.Cons5xx)
	le.PutUint32(b[5:], r.ConsGateway)
	le.PutUint32(b[9:], r.ConsLocal)
	le.PutUint64(b[13:], uint64(r.WinStart))
	le.PutUint32(b[21:], r.WinTotal)
	le.PutUint32(b[25:], r.WinFail)
	b[29] = 0
	if r.Ejected {
		b[29] = 1
	}
	le.PutUint64(b[30:], uint64(r.EjectedAt))
	le.PutUint32(b[38:], r.Times)
	le.PutUint64(b[42:], uint64(r.RecoveredAt))
	le.PutUint64(b[50:], uint64(r.ProbeUntil))
	le.PutUint64(b[58:], uint64(r.DecayAt))
	le.PutUint32(b[66:], r.Ejections)
	le.PutUint64(b[70:], uint64(r.NextProbe))
	le.PutUint32(b[78:], r.Penalty)
	le.PutUint64(b[82:], uint64(r.PenaltyAt))
	le.PutUint32(b[90:], r.HoldDownMs)
	return b
}

// Decode reads a Record; anything that is not a record of this version
// (absent key, foreign data) decodes as a fresh, healthy record.
func (r *Record) Decode(b []byte) {
	*r = Record{}
	if len(b) != RecordSize || b[0] != recordVersion {
		return
	}
	le := binary.LittleEndian
	r.Cons5xx = le.Uint32(b[1:])
	r.ConsGateway = le.Uint32(b[5:])
	r.ConsLocal = le.Uint32(b[9:])
	r.WinStart = int64(le.Uint64(b[13:]))
	r.WinTotal = le.Uint32(b[21:])
	r.WinFail = le.Uint32(b[25:])
	r.Ejected = b[29] == 1
	r.EjectedAt = int64(le.Uint64(b[30:]))
	r.Times = le.Uint32(b[38:])
	r.RecoveredAt = int64(le.Uint64(b[42:]))
	r.ProbeUntil = int64(le.Uint64(b[50:]))
	r.DecayAt = int64(le.Uint64(b[58:]))
	r.Ejections = le.Uint32(b[66:])
	r.NextProbe = int64(le.Uint64(b[70:]))
	r.Penalty = le.Uint32(b[78:])
	r.PenaltyAt = int64(le.Uint64(b[82:]))
	r.HoldDownMs = le.Uint32(b[90:])
}

// Failing reports counted failures that have not ejected yet.
func (r *Record) Failing() bool {
	return !r.Ejected && (r.Cons5xx > 0 || r.ConsGateway > 0 || r.ConsLocal > 0 || r.WinFail > 0)
}

// Settings are the detector's thresholds, from config.Detection with
// defaults applied.
type Settings struct {
	Consecutive5xx, ConsecutiveGateway, ConsecutiveLocal uint32
	FailurePercentage, FailureVolume                     uint32
	IntervalMs, BaseMs, MaxMs                            int64
	MaxEjectionPercent                                   uint32
	// Failback: probe period, hold-down and its flap damping (failback.go).
	ProbeMs, HoldDownMs, MaxHoldDownMs, HalfLifeMs int64
	// WarmProbeMs: a first recovery whose probe answered within it
	// returns at once (ProbeAnswered).
	WarmProbeMs int64
}

// NewSettings applies Envoy's defaults where the configuration leaves 0
// (outlier_detection_impl.h DetectorConfig: max_ejection_time = 10 × base
// when the base is the default; a 0 threshold disables its check).
func NewSettings(d config.Detection) Settings {
	s := Settings{
		Consecutive5xx: d.Consecutive5xx, ConsecutiveGateway: d.ConsecutiveGatewayErrors, ConsecutiveLocal: d.ConsecutiveLocalOriginFailures,
		FailurePercentage: d.FailurePercentage, FailureVolume: d.FailureRequestVolume,
		IntervalMs: int64(d.IntervalMs), BaseMs: int64(d.BaseEjectionMs), MaxMs: int64(d.MaxEjectionMs),
		MaxEjectionPercent: d.MaxEjectionPercent,
	}
	if s.IntervalMs == 0 {
		s.IntervalMs = 10000
	}
	if s.BaseMs == 0 {
		s.BaseMs = 30000
	}
	if s.MaxMs == 0 {
		s.MaxMs = 10 * s.BaseMs
	}
	if s.FailureVolume == 0 {
		s.FailureVolume = 50
	}
	s.ProbeMs, s.HalfLifeMs = config.DefaultProbeIntervalMs, config.DefaultFlapHalfLifeMs
	s.WarmProbeMs = DefaultWarmProbeMs
	return s
}

// Observe counts one outcome into r at now and reports the check whose
// threshold it reached (None if none). It does not eject: the caller checks
// the max-ejection share across targets first (AllowEject), then calls Eject.
// An ejected target's outcomes are not counted (Envoy ignores events for an
// ejected host).
func (s *Settings) Observe(r *Record, o Outcome, now int64) Detector {
	if o == Ignored || r.Ejected {
		return None
	}
	if now-r.WinStart >= s.IntervalMs || now < r.WinStart {
		r.WinStart, r.WinTotal, r.WinFail = now, 0, 0
	}
	r.WinTotal++
	hit := None
	switch o {
	case Success:
		r.Cons5xx, r.ConsGateway, r.ConsLocal = 0, 0, 0
		return None
	case LocalOrigin:
		r.WinFail++
		r.ConsLocal++
		if s.ConsecutiveLocal > 0 && r.ConsLocal >= s.ConsecutiveLocal {
			hit = ConsecutiveLocalOrigin
		}
	case Gateway, Ext5xx:
		r.WinFail++
		r.ConsLocal = 0 // the upstream answered: the connection works
		r.Cons5xx++
		if o == Gateway {
			r.ConsGateway++
		} else {
			r.ConsGateway = 0
		}
		if s.ConsecutiveGateway > 0 && r.ConsGateway >= s.ConsecutiveGateway {
			hit = ConsecutiveGateway
		} else if s.Consecutive5xx > 0 && r.Cons5xx >= s.Consecutive5xx {
			hit = Consecutive5xx
		}
	}
	if hit == None && s.FailurePercentage > 0 && r.WinTotal >= s.FailureVolume &&
		uint64(r.WinFail)*100 >= uint64(s.FailurePercentage)*uint64(r.WinTotal) {
		hit = FailurePercentage
	}
	return hit
}

// Count is the counter of r that det looks at, for logs.
func (r *Record) Count(det Detector) uint32 {
	switch det {
	case Consecutive5xx:
		return r.Cons5xx
	case ConsecutiveGateway:
		return r.ConsGateway
	case ConsecutiveLocalOrigin:
		return r.ConsLocal
	case FailurePercentage:
		return r.WinFail
	}
	return r.Times
}

// AllowEject applies the max-ejection share: ejecting one more of total
// targets, with ejected already out, keeps the ejected share at or below
// the maximum, or nothing is ejected yet (so a pool of one or two targets
// can still eject). Envoy: ejectHost with always_eject_one_host.
func (s *Settings) AllowEject(ejected, total int) bool {
	if total <= 0 {
		return false
	}
	if ejected == 0 {
		return true
	}
	return uint64(ejected+1)*100 <= uint64(s.MaxEjectionPercent)*uint64(total)
}

// Eject marks r ejected at now and raises its backoff the way Envoy does
// (ejectTimeBackoff grows while backoff × base < max + base).
func (s *Settings) Eject(r *Record, now int64) {
	r.Ejected = true
	r.EjectedAt = now
	r.Ejections++
	if int64(r.Times)*s.BaseMs < s.MaxMs+s.BaseMs {
		r.Times++
	}
	r.Cons5xx, r.ConsGateway, r.ConsLocal = 0, 0, 0
	r.WinStart, r.WinTotal, r.WinFail = now, 0, 0
	r.ProbeUntil = 0
	r.NextProbe = now + s.ProbeMs
	r.Penalty = min(s.PenaltyAt(r, now)+penaltyUnit, maxPenalty)
	r.PenaltyAt = now
}

// EjectionMs is how long r stays ejected: min(base × times, max).
func (s *Settings) EjectionMs(r *Record) int64 {
	d := s.BaseMs * int64(max(r.Times, 1))
	return min(d, s.MaxMs)
}

// ProbeDue reports whether a probe of r is due: r is out or in hold-down,
// a probe period has passed since the last probe (or the ejection), and no
// other VM holds the probe. ClaimProbe then takes it until now + hold.
// The period is fixed, not Envoy's growing ejection time: a target is
// tried again within one period of answering, so failback is bounded by
// hold-down + ramp (failback.go).
func (s *Settings) ProbeDue(r *Record, now int64) bool {
	if !r.Ejected && !s.InHoldDown(r, now) {
		return false
	}
	return now >= r.NextProbe && (r.ProbeUntil == 0 || now >= r.ProbeUntil)
}

// ClaimProbe records that one VM probes r until until.
func (r *Record) ClaimProbe(until int64) { r.ProbeUntil = until }

// Uneject returns r to service at now (a successful probe); the router
// ramps traffic back from RecoveredAt.
func (s *Settings) Uneject(r *Record, now int64) {
	r.Ejected = false
	r.RecoveredAt = now
	r.DecayAt = now
	r.ProbeUntil = 0
	r.NextProbe = now + s.ProbeMs
	r.HoldDownMs = uint32(s.HoldDown(r, now))
	r.Cons5xx, r.ConsGateway, r.ConsLocal = 0, 0, 0
	r.WinStart, r.WinTotal, r.WinFail = now, 0, 0
}

// Decay lowers the backoff of a healthy target by one per interval, as
// Envoy's onIntervalTimer does; it reports whether r changed.
func (s *Settings) Decay(r *Record, now int64) bool {
	if r.Ejected || r.Times == 0 || now-r.DecayAt < s.IntervalMs {
		return false
	}
	r.Times--
	r.DecayAt = now
	return true
}
