// Package router is the decision core of Detour's router filter: which
// target cluster a request goes to, from the failover mode, the targets'
// shared health and the failback ramp. It is plain Go (no proxy-wasm
// import) and allocates nothing per request.
//
// Modes (config.Mode*):
//   - auto: tiers by priority; a tier takes all of the traffic that reaches
//     it while at least minHealthyShare % of its weight is healthy, and only
//     its healthy share below that; the rest spills to the next tier (the
//     idea of Envoy's priority spill, source/common/upstream/load_balancer_impl.cc,
//     with the configured share instead of the 1.4 overprovisioning factor).
//     A target whose hosts are partly ejected takes HostShare of its share
//     (Envoy's own 1.4 factor, per host) and the rest spills the same way.
//   - named: every target is its own tier, in the configured order.
//   - weighted: strict weights over every target, whatever their health.
//   - weighted + healthAware: the weights of healthy targets, redistributed.
//   - activeStandby: active targets by weight; a standby takes traffic only
//     when every active target is out (or while an active one ramps back).
//
// A target that recovered is held at 0 % for the hold-down, then takes
// ramp[k] % of its share at step k (each step lasts stepInterval); what it
// does not take goes to the later tiers, else to the other targets.
package router

import "github.com/detour-mesh/detour/plugins/config"

// MaxTargets is the most targets a configuration may have (exclusion masks
// are 64-bit).
const MaxTargets = 64

// Health is one target's state as the router needs it.
type Health struct {
	// Out: ejected.
	Out bool
	// RecoveredAt is the un-ejection time in ms (0: never ejected).
	RecoveredAt int64
	// Failing: the target's last answer was a failure (a consecutive
	// failure streak is open) though it is not ejected yet. Only a retry's
	// choice reads it (Next).
	Failing bool
	// HoldDownMs is this recovery's hold-down (0: the configured one); the
	// outlier core raises it for a target that flaps.
	HoldDownMs uint32
	// EjectedAt is the last ejection's time in ms (0: never ejected).
	EjectedAt int64
	// Hosts is how many of the target's hosts the outlier filter counts,
	// HostsOut how many of them it has ejected (outlier.Hosts); a target
	// partly out takes only HostShare of its share.
	Hosts, HostsOut uint16
	// Suspect: a host of the target failed within the last second and is
	// not known to be out (outlier.Hosts.Suspect): Envoy has not ejected
	// it yet.
	Suspect bool
}

// Suspects is the mask of suspect targets. A request Envoy will not retry
// (a method outside the route's retry policy: POST, PATCH) avoids them
// while another target is available: Envoy's retry saves an idempotent
// request that lands on the failing host (previous_hosts sends the retry
// elsewhere), but such a request's failure reaches the user. Envoy's own
// load balancer keeps sending any request to a failing host until its
// outlier detection ejects it; this departs from it for those requests
// only, for as long as the failures last, at the cost of sending them to
// a later tier.
func Suspects(h []Health) uint64 {
	var m uint64
	for i := range h {
		if h[i].Suspect {
			m |= 1 << uint(i)
		}
	}
	return m
}

// Overprovisioning is Envoy's default overprovisioning factor
// (kDefaultOverProvisioningFactor, 140 %), which Istio does not change.
const Overprovisioning = 1.4

// Calm reports whether no target is out, failing, partly out or suspect:
// a healthy service, where the filters may pick on health cached for a
// few requests (docs/filters.md, "router"). Otherwise a return or a
// further failure must reach the next pick.
func Calm(h []Health) bool {
	for i := range h {
		if x := &h[i]; x.Out || x.Failing || x.HostsOut != 0 || x.Suspect {
			return false
		}
	}
	return true
}

// HostShare is the part of its share a target takes when some of its hosts
// are ejected: its healthy fraction × the overprovisioning factor, capped
// at 1, which is the availability Envoy's priority load gives a priority
// level (source/extensions/load_balancing_policies/common/
// load_balancer_impl.cc, LoadBalancerBase::recalculatePerPriorityState).
// A target with no host counts takes all of it.
func HostShare(h Health) float64 {
	if h.Hosts == 0 || h.HostsOut == 0 {
		return 1
	}
	if h.HostsOut >= h.Hosts {
		return 0
	}
	return min(1, Overprovisioning*float64(h.Hosts-h.HostsOut)/float64(h.Hosts))
}

// Router picks targets for one configuration. It keeps scratch space, so
// one Router serves one thread (one Wasm VM) at a time.
type Router struct {
	tier      []int // tier index per target
	weight    []float64
	nTiers    int
	strict    bool // weighted without healthAware: ignore health
	noSpill   bool // activeStandby: a standby only when every active is out
	minShare  float64
	ramp      []uint32
	holdDown  int64
	step      int64
	preferred []bool
	eff       []float64 // scratch
	tierW     []float64 // scratch: total weight per tier
	tierAvail []float64 // scratch
	// The question eff last answered (shares): a healthy mesh asks the
	// same one on every request, and the answer does not depend on the
	// clock unless a target ramps.
	memoOK bool
	memoH  []Health
	memoEx uint64
}

// New builds a Router. The configuration must be valid (config.Validate).
func New(c *config.Config) *Router {
	n := len(c.Targets)
	rt := &Router{
		tier: make([]int, n), weight: make([]float64, n), preferred: make([]bool, n), eff: make([]float64, n), memoH: make([]Health, n),
		minShare: float64(c.Failback.MinHealthyShare) / 100, ramp: c.Failback.Ramp,
		holdDown: int64(c.Failback.HoldDownMs), step: int64(c.Failback.StepIntervalMs),
	}
	if rt.step == 0 {
		rt.step = 1
	}
	anyWeight := false
	for _, t := range c.Targets {
		anyWeight = anyWeight || t.Weight > 0
	}
	for i, t := range c.Targets {
		w := float64(t.Weight)
		if !anyWeight || c.Mode == config.ModeNamed || c.Mode == config.ModeAuto && w == 0 {
			w = 1
		}
		rt.weight[i] = w
		switch c.Mode {
		case config.ModeNamed:
			rt.tier[i] = i
		case config.ModeAuto:
			rt.tier[i] = t.Priority
		case config.ModeWeighted:
			rt.tier[i] = 0
			rt.strict = !c.HealthAware
		case config.ModeActiveStandby:
			rt.noSpill = true
			if t.Standby || t.Weight == 0 {
				rt.tier[i] = 1
				rt.weight[i] = 1
			}
		}
	}
	rt.finish()
	return rt
}

// finish makes the tiers dense from 0 (priorities may skip numbers) and
// records which targets take traffic when all are healthy.
func (rt *Router) finish() {
	rt.memoOK = false // the tiers change
	n := len(rt.tier)
	remap := map[int]int{}
	for _, t := range rt.tier {
		if _, ok := remap[t]; !ok {
			remap[t] = 0
		}
	}
	keys := make([]int, 0, len(remap))
	for k := range remap {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	for i, k := range keys {
		remap[k] = i
	}
	for i := range rt.tier {
		rt.tier[i] = remap[rt.tier[i]]
	}
	rt.nTiers = len(keys)
	rt.tierW = make([]float64, rt.nTiers)
	rt.tierAvail = make([]float64, rt.nTiers)
	all := make([]Health, n)
	rt.shares(all, 0, 0, false)
	for i := range rt.eff {
		rt.preferred[i] = rt.eff[i] > 0
	}
}

// Locate tiers the targets by where the proxy runs, for a configuration
// with TierByLocality in auto mode: the targets in the proxy's zone first,
// then those in its region, then the rest. This is the order Envoy's
// locality load balancing gets from Istio when a DestinationRule enables
// locality failover without naming an order (Istio's
// pilot/pkg/networking/core/loadbalancer/loadbalancer.go,
// applyLocalityFailover: priority by how many of region, zone and subzone
// match). An empty region (the proxy reports no locality) changes nothing.
func (rt *Router) Locate(c *config.Config, region, zone string) {
	if !c.TierByLocality || c.Mode != config.ModeAuto || region == "" {
		return
	}
	for i, t := range c.Targets {
		switch {
		case t.Region == region && t.Zone == zone:
			rt.tier[i] = 0
		case t.Region == region:
			rt.tier[i] = 1
		default:
			rt.tier[i] = 2
		}
	}
	rt.finish()
}

// Preferred reports whether target i takes traffic when every target is healthy.
func (rt *Router) Preferred(i int) bool { return rt.preferred[i] }

// RampShare is the percentage of its share a target takes at now.
func (rt *Router) RampShare(h Health, now int64) uint32 {
	if h.RecoveredAt == 0 || len(rt.ramp) == 0 {
		return 100
	}
	e := now - h.RecoveredAt
	if e < 0 {
		return 100
	}
	hd := rt.holdDown
	if h.HoldDownMs > 0 {
		hd = int64(h.HoldDownMs)
	}
	if e < hd {
		return 0
	}
	k := (e - hd) / rt.step
	if k >= int64(len(rt.ramp)) {
		return 100
	}
	return rt.ramp[k]
}

// rampOf is target i's ramp share, or 100 when no other target is a
// settled alternative: available and healthy since before i was ejected
// (never ejected, or back before that). Targets that failed together and
// recover together are no safer than each other, so holding one down only
// moves traffic away from the first tier for nothing.
func (rt *Router) rampOf(h []Health, i int, now int64) uint32 {
	r := rt.RampShare(h[i], now)
	if r == 100 {
		return r
	}
	for j := range h {
		if j != i && !h[j].Out && h[j].RecoveredAt <= h[i].EjectedAt {
			return r
		}
	}
	return 100
}

// UsesClock reports whether Pick, Next and Shares read now for h: only a
// ramp does, and only a target back from an ejection (RecoveredAt set)
// ramps. The filters skip reading the clock (two host calls) otherwise.
func (rt *Router) UsesClock(h []Health) bool {
	if len(rt.ramp) == 0 {
		return false
	}
	for i := range h {
		if h[i].RecoveredAt != 0 {
			return true
		}
	}
	return false
}

// Ramping reports whether a target is back from an ejection but not yet at 100 %.
func (rt *Router) Ramping(h Health, now int64) bool { return !h.Out && rt.RampShare(h, now) < 100 }

// shares fills rt.eff with each target's traffic share (summing to 1, or
// all 0 when nothing can take traffic). exclude masks targets out.
func (rt *Router) shares(h []Health, now int64, exclude uint64, useRamp bool) {
	if rt.memoOK && exclude == rt.memoEx && sameHealth(h, rt.memoH) {
		return
	}
	rt.computeShares(h, now, exclude, useRamp)
	// Without a target back from an ejection nothing ramps: the answer
	// depends on neither the clock nor useRamp.
	rt.memoOK, rt.memoEx = !rt.UsesClock(h), exclude
	copy(rt.memoH, h)
}

func sameHealth(a, b []Health) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// computeShares is shares without the memo.
func (rt *Router) computeShares(h []Health, now int64, exclude uint64, useRamp bool) {
	for t := range rt.tierW {
		rt.tierW[t], rt.tierAvail[t] = 0, 0
	}
	avail := func(i int) bool {
		return exclude&(1<<uint(i)) == 0 && (rt.strict || !h[i].Out)
	}
	for i := range rt.tier {
		rt.eff[i] = 0
		rt.tierW[rt.tier[i]] += rt.weight[i]
		if avail(i) {
			rt.tierAvail[rt.tier[i]] += rt.weight[i]
		}
	}
	remaining := 1.0
	assigned := 0.0
	for t := 0; t < rt.nTiers && remaining > 1e-12; t++ {
		if rt.tierAvail[t] == 0 {
			continue
		}
		hf := rt.tierAvail[t] / rt.tierW[t]
		take := remaining
		if hf < rt.minShare && t < rt.nTiers-1 && !rt.strict && !rt.noSpill {
			take = remaining * hf
		}
		remaining -= take
		for i := range rt.tier {
			if rt.tier[i] != t || !avail(i) {
				continue
			}
			s := take * rt.weight[i] / rt.tierAvail[t]
			if !rt.strict && !rt.noSpill {
				// Hosts partly out: the rest spills on, as from a
				// priority level whose availability is below 100 %.
				f := HostShare(h[i])
				remaining += s * (1 - f)
				s *= f
			}
			if useRamp && !rt.strict {
				r := float64(rt.rampOf(h, i, now)) / 100
				remaining += s * (1 - r)
				s *= r
			}
			rt.eff[i] = s
			assigned += s
		}
	}
	if remaining <= 1e-12 {
		return
	}
	// Left over (ramps with nothing after them, or spill past the last
	// tier): to the targets at full share that already take traffic, else
	// to everything that does, else over every available target ignoring
	// ramps.
	full := 0.0
	for i, s := range rt.eff {
		if s > 0 && (!useRamp || rt.strict || rt.rampOf(h, i, now) == 100) {
			full += s
		}
	}
	if full > 0 {
		f := remaining / full
		for i, s := range rt.eff {
			if s > 0 && (!useRamp || rt.strict || rt.rampOf(h, i, now) == 100) {
				rt.eff[i] += s * f
			}
		}
		return
	}
	// Every target that takes traffic is ramping (or in hold-down): the
	// rest goes to the first tier that has an available target, so targets
	// that recover together return in tier order, not as equals.
	for t := 0; t < rt.nTiers; t++ {
		if rt.tierAvail[t] == 0 {
			continue
		}
		for i := range rt.tier {
			if rt.tier[i] == t && avail(i) {
				rt.eff[i] += remaining * rt.weight[i] / rt.tierAvail[t]
			}
		}
		return
	}
}

// Pick returns the target index for a request, or -1 when every target is
// excluded. h is aligned with the configuration's targets; rnd is uniform
// in [0, 2^32). When every target is out Pick falls back to the configured
// shares ignoring health (Envoy's panic routing: better a try than a 503).
func (rt *Router) Pick(h []Health, now int64, rnd uint32, exclude uint64) int {
	rt.shares(h, now, exclude, true)
	if i := rt.drawShares(rnd); i >= 0 {
		return i
	}
	// Nothing available: panic routing over the non-excluded targets (-1
	// when every target is excluded).
	return rt.pickIgnoringHealth(rnd, exclude)
}

// PickAvoiding is Pick for a request that avoids the targets in avoid
// (Suspects) while an available target outside them takes traffic; else
// it is Pick (an avoided target beats a panic pick of an ejected one).
// Strict weights and active/standby move traffic only on an ejection, so
// nothing is avoided there; and the request goes only to a target at its
// full share, not to one still in its hold-down or ramp, which the spill
// of the avoided share would otherwise hand every such request.
func (rt *Router) PickAvoiding(h []Health, now int64, rnd uint32, exclude, avoid uint64) int {
	if avoid&^exclude != 0 && !rt.strict && !rt.noSpill {
		rt.shares(h, now, exclude|avoid, true)
		if i := rt.drawShares(rnd); i >= 0 && rt.rampOf(h, i, now) == 100 {
			return i
		}
	}
	return rt.Pick(h, now, rnd, exclude)
}

// drawShares draws a target by the shares rt.eff holds; -1 when none has a
// share.
func (rt *Router) drawShares(rnd uint32) int {
	x := float64(rnd) / (1 << 32)
	last := -1
	for i, s := range rt.eff {
		if s <= 0 {
			continue
		}
		last = i
		if x < s {
			return i
		}
		x -= s
	}
	return last
}

// pickIgnoringHealth is the all-out fallback: the first tier with a
// target not excluded, by weight within it. Envoy's total panic spreads
// over every host; keeping the tier order keeps a total outage's attempts
// local (as fast to fail as Envoy) and the recovery local-first.
func (rt *Router) pickIgnoringHealth(rnd uint32, exclude uint64) int {
	first := -1
	for i := range rt.tier {
		if exclude&(1<<uint(i)) == 0 && (first < 0 || rt.tier[i] < first) {
			first = rt.tier[i]
		}
	}
	if first < 0 {
		return -1
	}
	sum := 0.0
	for i := range rt.weight {
		if exclude&(1<<uint(i)) == 0 && rt.tier[i] == first {
			sum += rt.weight[i]
		}
	}
	x := float64(rnd) / (1 << 32) * sum
	last := -1
	for i := range rt.weight {
		if exclude&(1<<uint(i)) != 0 || rt.tier[i] != first {
			continue
		}
		last = i
		if x < rt.weight[i] {
			return i
		}
		x -= rt.weight[i]
	}
	return last
}

// Next is the retry's choice after the targets in tried failed: the best
// remaining target by the same rules, -1 if none is left. Targets that are
// out are skipped unless nothing else is left, and so are targets whose
// last answer failed: when a zone or region goes down its targets fail
// together, before any is ejected, and a retry that lands on the failed
// target's neighbour fails too (Envoy's previous_hosts predicate skips
// only the hosts the request itself tried).
func (rt *Router) Next(h []Health, now int64, rnd uint32, tried uint64) int {
	failing := tried
	for i := range h {
		if h[i].Failing {
			failing |= 1 << uint(i)
		}
	}
	if failing != tried {
		rt.shares(h, now, failing, true)
		if i := rt.drawShares(rnd); i >= 0 {
			return i
		}
	}
	return rt.Pick(h, now, rnd, tried)
}

// Shares reports each target's current traffic share in percent (for
// gauges and tests); out must have one entry per target.
func (rt *Router) Shares(h []Health, now int64, out []float64) {
	rt.shares(h, now, 0, true)
	for i, s := range rt.eff {
		out[i] = s * 100
	}
}
