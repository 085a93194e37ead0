// Package outlier is Envoy's outlier detector for one cluster, following
// source/common/upstream/outlier_detection_impl.cc (DetectorImpl,
// DetectorHostMonitorImpl) and its defaults in outlier_detection_impl.h:
// consecutive 5xx / gateway failure / local-origin failure ejections
// (posted to the main thread, so they land one dispatcher hop later),
// success-rate and failure-percentage ejections on interval ticks,
// max_ejection_percent over every host of the cluster, always_eject_one_host,
// enforcing percentages, un-ejection checked only on interval ticks, and
// the ejection-time back-off multiplier with its per-interval decay.
package outlier

import (
	"fmt"
	"math"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// Config is DetectorConfig with Envoy's defaults applied.
type Config struct {
	Interval, BaseEjectionTime, MaxEjectionTime, MaxEjectionTimeJitter time.Duration

	Consecutive5xx, ConsecutiveGatewayFailure, ConsecutiveLocalOriginFailure uint64
	MaxEjectionPercent                                                       uint64
	AlwaysEjectOneHost                                                       bool
	SplitExternalLocalOriginErrors                                           bool

	SuccessRateMinimumHosts, SuccessRateRequestVolume, SuccessRateStdevFactor                    uint64
	FailurePercentageThreshold, FailurePercentageMinimumHosts, FailurePercentageRequestVolume    uint64
	EnforcingConsecutive5xx, EnforcingConsecutiveGatewayFailure, EnforcingConsecutiveLocalOrigin uint64
	EnforcingSuccessRate, EnforcingLocalOriginSuccessRate                                        uint64
	EnforcingFailurePercentage, EnforcingFailurePercentageLocalOrigin                            uint64
}

func ms(d *durationpb.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return d.AsDuration()
}

func u32(v *wrapperspb.UInt32Value, def uint64) uint64 {
	if v == nil {
		return def
	}
	return uint64(v.GetValue())
}

// FromProto applies the defaults of outlier_detection_impl.h to the
// cluster's OutlierDetection. A max_ejection_time below the base ejection
// time is a configuration error, as in Envoy.
func FromProto(od *clusterv3.OutlierDetection) (Config, error) {
	c := Config{
		Interval:                              ms(od.GetInterval(), 10*time.Second),
		BaseEjectionTime:                      ms(od.GetBaseEjectionTime(), 30*time.Second),
		MaxEjectionTimeJitter:                 ms(od.GetMaxEjectionTimeJitter(), 0),
		Consecutive5xx:                        u32(od.GetConsecutive_5Xx(), 5),
		ConsecutiveGatewayFailure:             u32(od.GetConsecutiveGatewayFailure(), 5),
		ConsecutiveLocalOriginFailure:         u32(od.GetConsecutiveLocalOriginFailure(), 5),
		MaxEjectionPercent:                    u32(od.GetMaxEjectionPercent(), 10),
		AlwaysEjectOneHost:                    od.GetAlwaysEjectOneHost().GetValue(),
		SplitExternalLocalOriginErrors:        od.GetSplitExternalLocalOriginErrors(),
		SuccessRateMinimumHosts:               u32(od.GetSuccessRateMinimumHosts(), 5),
		SuccessRateRequestVolume:              u32(od.GetSuccessRateRequestVolume(), 100),
		SuccessRateStdevFactor:                u32(od.GetSuccessRateStdevFactor(), 1900),
		FailurePercentageThreshold:            u32(od.GetFailurePercentageThreshold(), 85),
		FailurePercentageMinimumHosts:         u32(od.GetFailurePercentageMinimumHosts(), 5),
		FailurePercentageRequestVolume:        u32(od.GetFailurePercentageRequestVolume(), 50),
		EnforcingConsecutive5xx:               u32(od.GetEnforcingConsecutive_5Xx(), 100),
		EnforcingConsecutiveGatewayFailure:    u32(od.GetEnforcingConsecutiveGatewayFailure(), 0),
		EnforcingConsecutiveLocalOrigin:       u32(od.GetEnforcingConsecutiveLocalOriginFailure(), 100),
		EnforcingSuccessRate:                  u32(od.GetEnforcingSuccessRate(), 100),
		EnforcingLocalOriginSuccessRate:       u32(od.GetEnforcingLocalOriginSuccessRate(), 100),
		EnforcingFailurePercentage:            u32(od.GetEnforcingFailurePercentage(), 0),
		EnforcingFailurePercentageLocalOrigin: u32(od.GetEnforcingFailurePercentageLocalOrigin(), 0),
	}
	// max_ejection_time defaults to max(300s, base_ejection_time).
	if od.GetMaxEjectionTime() != nil {
		c.MaxEjectionTime = od.GetMaxEjectionTime().AsDuration()
		if c.MaxEjectionTime < c.BaseEjectionTime {
			return c, fmt.Errorf("outlier_detection.max_ejection_time %s is below base_ejection_time %s", c.MaxEjectionTime, c.BaseEjectionTime)
		}
	} else {
		c.MaxEjectionTime = max(300*time.Second, c.BaseEjectionTime)
	}
	if c.Interval <= 0 {
		return c, fmt.Errorf("outlier_detection.interval must be positive, got %s", c.Interval)
	}
	return c, nil
}

// Result is what the router reports besides response codes
// (Upstream::Outlier::Result).
type Result int

const (
	ExtOriginRequestSuccess Result = iota
	ExtOriginRequestFailed
	LocalOriginConnectSuccess
	LocalOriginConnectSuccessFinal
	LocalOriginConnectFailed
	LocalOriginTimeout
)

// Event kinds and detector types.
const (
	KindEject       = "eject"
	KindUneject     = "uneject"
	KindNotEnforced = "detected_not_enforced"
	KindOverflow    = "ejection_overflow"

	Consecutive5xx                = "CONSECUTIVE_5XX"
	ConsecutiveGatewayFailure     = "CONSECUTIVE_GATEWAY_FAILURE"
	ConsecutiveLocalOriginFailure = "CONSECUTIVE_LOCAL_ORIGIN_FAILURE"
	SuccessRate                   = "SUCCESS_RATE"
	SuccessRateLocalOrigin        = "SUCCESS_RATE_LOCAL_ORIGIN"
	FailurePercentage             = "FAILURE_PERCENTAGE"
	FailurePercentageLocalOrigin  = "FAILURE_PERCENTAGE_LOCAL_ORIGIN"
)

// Event reports an ejection decision or an un-ejection.
type Event struct {
	At           time.Time
	Host         *Host
	Kind         string
	Type         string
	NumEjections int
	Active       int
	Hosts        int
	EjectionTime time.Duration
}

// srBucket is one interval's request counts.
type srBucket struct{ success, total uint64 }

// srMonitor is the two-bucket success-rate accumulator: requests count into
// current; each interval tick moves it to previous, which the success-rate
// and failure-percentage checks read.
type srMonitor struct{ current, previous srBucket }

func (m *srMonitor) swap() { m.previous, m.current = m.current, srBucket{} }

func (m *srMonitor) rate() (float64, uint64, bool) {
	if m.previous.total == 0 {
		return 0, 0, false
	}
	return float64(m.previous.success) * 100 / float64(m.previous.total), m.previous.total, true
}

// Host is DetectorHostMonitorImpl: one host's counters and ejection state.
type Host struct {
	// ID is the owner's handle (e.g. the address).
	ID string

	Ejected          bool
	NumEjections     int
	LastEjection     time.Time
	LastUnejection   time.Time
	hasUnejection    bool
	EjectTimeBackoff uint64
	Jitter           time.Duration

	consecutive5xx, consecutiveGateway, consecutiveLocal uint64
	external, local                                      srMonitor
}

// Detector is one cluster's DetectorImpl.
type Detector struct {
	cfg      Config
	clock    *vclock.Clock
	rnd      func() uint64
	legacy   bool
	hosts    []*Host
	active   int
	timer    *vclock.Timer
	onEvent  func(Event)
	onChange func()
}

// New starts a detector whose interval timer runs from now. rnd drives the
// enforcing percentages and ejection jitter. legacy selects the pre-1.27
// max_ejection_percent rule (the first ejection is always allowed).
// onChange runs after every ejection and un-ejection (the priority set's
// member-update callbacks: the load balancer recomputes).
func New(cfg Config, clock *vclock.Clock, rnd func() uint64, legacy bool, onEvent func(Event), onChange func()) *Detector {
	d := &Detector{cfg: cfg, clock: clock, rnd: rnd, legacy: legacy, onEvent: onEvent, onChange: onChange}
	d.arm()
	return d
}

// Config returns the detector's configuration.
func (d *Detector) Config() Config { return d.cfg }

// SetHosts replaces the monitored hosts (an EDS update). Hosts kept from
// before keep their state; a removed ejected host no longer counts as active.
func (d *Detector) SetHosts(hosts []*Host) {
	d.hosts = hosts
	d.active = 0
	for _, h := range hosts {
		if h.Ejected {
			d.active++
		}
	}
}

// Hosts is the monitored host set.
func (d *Detector) Hosts() []*Host { return d.hosts }

// Active is the number of ejected hosts.
func (d *Detector) Active() int { return d.active }

func (d *Detector) arm() {
	d.timer = d.clock.After(d.cfg.Interval, d.onIntervalTimer)
}

// Stop cancels the interval timer.
func (d *Detector) Stop() { d.timer.Stop() }

// PutHTTPResponseCode is putHttpResponseCode: an upstream response code.
func (d *Detector) PutHTTPResponseCode(h *Host, code int) {
	h.external.current.total++
	if code >= 500 && code < 600 {
		if code >= 502 && code < 505 { // Http::CodeUtility::isGatewayError
			h.consecutiveGateway++
			if h.consecutiveGateway == d.cfg.ConsecutiveGatewayFailure {
				d.post(h, ConsecutiveGatewayFailure)
			}
		} else {
			h.consecutiveGateway = 0
		}
		h.consecutive5xx++
		if h.consecutive5xx == d.cfg.Consecutive5xx {
			d.post(h, Consecutive5xx)
		}
		return
	}
	h.external.current.success++
	h.consecutive5xx = 0
	h.consecutiveGateway = 0
}

// PutResult is putResult: code, if non-zero, is the HTTP code the caller
// attaches (the router's timeout_response_code).
func (d *Detector) PutResult(h *Host, r Result, code int) {
	if d.cfg.SplitExternalLocalOriginErrors {
		d.putResultSplit(h, r)
		return
	}
	// putResultNoLocalExternalSplit: results become HTTP codes.
	if code != 0 {
		d.PutHTTPResponseCode(h, code)
		return
	}
	switch r {
	case LocalOriginConnectFailed:
		d.PutHTTPResponseCode(h, 503)
	case LocalOriginTimeout:
		d.PutHTTPResponseCode(h, 504)
	case ExtOriginRequestFailed:
		d.PutHTTPResponseCode(h, 500)
	case ExtOriginRequestSuccess, LocalOriginConnectSuccessFinal:
		d.PutHTTPResponseCode(h, 200)
	}
}

func (d *Detector) putResultSplit(h *Host, r Result) {
	switch r {
	case LocalOriginConnectSuccess, LocalOriginConnectSuccessFinal:
		h.local.current.total++
		h.local.current.success++
		h.consecutiveLocal = 0
	case LocalOriginTimeout, LocalOriginConnectFailed:
		h.local.current.total++
		h.consecutiveLocal++
		if h.consecutiveLocal == d.cfg.ConsecutiveLocalOriginFailure {
			d.post(h, ConsecutiveLocalOriginFailure)
		}
	case ExtOriginRequestFailed:
		d.PutHTTPResponseCode(h, 503)
	case ExtOriginRequestSuccess:
		d.PutHTTPResponseCode(h, 200)
	}
}

// post hands a consecutive-error detection to the main thread
// (onConsecutiveErrorWorker), one dispatcher hop later.
func (d *Detector) post(h *Host, typ string) {
	d.clock.Post(func() {
		if !d.member(h) || h.Ejected {
			return
		}
		// The matching counter is reset so a new bout can be detected.
		switch typ {
		case Consecutive5xx:
			h.consecutive5xx = 0
		case ConsecutiveGatewayFailure:
			h.consecutiveGateway = 0
		case ConsecutiveLocalOriginFailure:
			h.consecutiveLocal = 0
		}
		d.eject(h, typ)
	})
}

func (d *Detector) member(h *Host) bool {
	for _, x := range d.hosts {
		if x == h {
			return true
		}
	}
	return false
}

func (d *Detector) enforcing(typ string) uint64 {
	switch typ {
	case Consecutive5xx:
		return d.cfg.EnforcingConsecutive5xx
	case ConsecutiveGatewayFailure:
		return d.cfg.EnforcingConsecutiveGatewayFailure
	case ConsecutiveLocalOriginFailure:
		return d.cfg.EnforcingConsecutiveLocalOrigin
	case SuccessRate:
		return d.cfg.EnforcingSuccessRate
	case SuccessRateLocalOrigin:
		return d.cfg.EnforcingLocalOriginSuccessRate
	case FailurePercentage:
		return d.cfg.EnforcingFailurePercentage
	case FailurePercentageLocalOrigin:
		return d.cfg.EnforcingFailurePercentageLocalOrigin
	}
	return 0
}

// MayEject is the max_ejection_percent rule of ejectHost for the next
// ejection, given active ejections among n hosts.
func MayEject(active, n int, maxPercent uint64, alwaysEjectOne, legacy bool) bool {
	maxPct := float64(min(100, maxPercent))
	if n == 0 {
		return false
	}
	if legacy {
		// Before Envoy 1.27 the percentage was taken before the ejection,
		// so the first host could always go (unless the maximum is 0).
		return 100*float64(active)/float64(n) < maxPct
	}
	if alwaysEjectOne && active == 0 {
		return true
	}
	return 100*float64(active+1)/float64(n) <= maxPct
}

// EjectionTime is min(base*backoff, max) + jitter, the un-ejection bound.
func EjectionTime(cfg Config, backoff uint64, jitter time.Duration) time.Duration {
	return min(cfg.BaseEjectionTime*time.Duration(backoff), cfg.MaxEjectionTime) + jitter
}

func (d *Detector) eject(h *Host, typ string) {
	now := d.clock.Now()
	if !MayEject(d.active, len(d.hosts), d.cfg.MaxEjectionPercent, d.cfg.AlwaysEjectOneHost, d.legacy) {
		d.event(Event{At: now, Host: h, Kind: KindOverflow, Type: typ})
		return
	}
	// enforceEjection: runtime featureEnabled(enforcing_X, percent).
	if d.rnd()%100 >= d.enforcing(typ) {
		d.event(Event{At: now, Host: h, Kind: KindNotEnforced, Type: typ})
		return
	}
	d.active++
	h.Ejected = true
	h.NumEjections++
	h.LastEjection = now
	if j := d.cfg.MaxEjectionTimeJitter; j > 0 {
		h.Jitter = time.Duration(d.rnd()%uint64(j.Milliseconds()+1)) * time.Millisecond
	} else {
		h.Jitter = 0
	}
	// The multiplier grows while base*k < max+base.
	if time.Duration(h.EjectTimeBackoff)*d.cfg.BaseEjectionTime < d.cfg.MaxEjectionTime+d.cfg.BaseEjectionTime {
		h.EjectTimeBackoff++
	}
	d.event(Event{At: now, Host: h, Kind: KindEject, Type: typ, EjectionTime: EjectionTime(d.cfg, h.EjectTimeBackoff, h.Jitter)})
	if d.onChange != nil {
		d.onChange()
	}
}

func (d *Detector) event(e Event) {
	e.NumEjections = e.Host.NumEjections
	e.Active = d.active
	e.Hosts = len(d.hosts)
	if d.onEvent != nil {
		d.onEvent(e)
	}
}

// onIntervalTimer: un-eject due hosts, swap success-rate buckets, run the
// success-rate and failure-percentage checks, decay the back-off of hosts
// healthy for at least an interval since their last un-ejection.
func (d *Detector) onIntervalTimer() {
	now := d.clock.Now()
	changed := false
	for _, h := range d.hosts {
		if h.Ejected && EjectionTime(d.cfg, h.EjectTimeBackoff, h.Jitter) <= now.Sub(h.LastEjection) {
			d.active--
			h.Ejected = false
			h.consecutive5xx, h.consecutiveGateway, h.consecutiveLocal = 0, 0, 0
			h.LastUnejection = now
			h.hasUnejection = true
			changed = true
			d.event(Event{At: now, Host: h, Kind: KindUneject})
		}
		h.external.swap()
		h.local.swap()
	}
	if changed && d.onChange != nil {
		d.onChange()
	}
	d.successRateEjections(false)
	if d.cfg.SplitExternalLocalOriginErrors {
		d.successRateEjections(true)
	}
	for _, h := range d.hosts {
		if !h.Ejected && h.hasUnejection && now.Sub(h.LastUnejection) >= d.cfg.Interval && h.EjectTimeBackoff > 0 {
			h.EjectTimeBackoff--
		}
	}
	d.arm()
}

type hostRate struct {
	h  *Host
	sr float64
}

// SuccessRateThreshold is successRateEjectionThreshold: mean - factor*stdev
// (population standard deviation).
func SuccessRateThreshold(rates []float64, factor float64) float64 {
	var sum float64
	for _, r := range rates {
		sum += r
	}
	mean := sum / float64(len(rates))
	var v float64
	for _, r := range rates {
		v += (r - mean) * (r - mean)
	}
	return mean - factor*math.Sqrt(v/float64(len(rates)))
}

// successRateEjections is processSuccessRateEjections for one origin.
func (d *Detector) successRateEjections(localOrigin bool) {
	c := d.cfg
	n := uint64(len(d.hosts))
	if n < c.SuccessRateMinimumHosts && n < c.FailurePercentageMinimumHosts {
		return
	}
	var srHosts, fpHosts []hostRate
	for _, h := range d.hosts {
		if h.Ejected {
			continue
		}
		m := &h.external
		if localOrigin {
			m = &h.local
		}
		sr, vol, ok := m.rate()
		if !ok {
			continue
		}
		if vol >= c.SuccessRateRequestVolume {
			srHosts = append(srHosts, hostRate{h, sr})
		}
		if vol >= c.FailurePercentageRequestVolume {
			fpHosts = append(fpHosts, hostRate{h, sr})
		}
	}
	srType, fpType := SuccessRate, FailurePercentage
	if localOrigin {
		srType, fpType = SuccessRateLocalOrigin, FailurePercentageLocalOrigin
	}
	if len(srHosts) > 0 && uint64(len(srHosts)) >= c.SuccessRateMinimumHosts {
		rates := make([]float64, len(srHosts))
		for i, x := range srHosts {
			rates[i] = x.sr
		}
		threshold := SuccessRateThreshold(rates, float64(c.SuccessRateStdevFactor)/1000)
		for _, x := range srHosts {
			if x.sr < threshold && !x.h.Ejected {
				d.eject(x.h, srType)
			}
		}
	}
	if len(fpHosts) > 0 && uint64(len(fpHosts)) >= c.FailurePercentageMinimumHosts {
		for _, x := range fpHosts {
			if 100-x.sr >= float64(c.FailurePercentageThreshold) && !x.h.Ejected {
				d.eject(x.h, fpType)
			}
		}
	}
}
