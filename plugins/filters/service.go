package main

import (
	"fmt"
	"strconv"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

	"github.com/detour-mesh/detour/plugins/config"
	"github.com/detour-mesh/detour/plugins/outlier"
	"github.com/detour-mesh/detour/plugins/retry"
	"github.com/detour-mesh/detour/plugins/router"
)

// Shared-data keys (per service host, so several services in one VM never
// collide): one record per target, one for the service, one for the retry
// budget.
func targetKey(host, cluster string) string { return "detour/v1/" + host + "/t/" + cluster }
func serviceKey(host string) string         { return "detour/v1/" + host + "/svc" }
func budgetKey(host string) string          { return "detour/v1/" + host + "/budget" }

type targetMetrics struct {
	ejected   proxywasm.MetricGauge
	ejections proxywasm.MetricCounter
	probes    proxywasm.MetricCounter
	probeFail proxywasm.MetricCounter
	requests  proxywasm.MetricCounter
	ramp      proxywasm.MetricGauge
	// pending: requests routed since the last tick, not yet added to
	// requests (combined root ID: flushed on the tick, so the counter
	// costs a host call per tick, not per request; it lags by at most
	// one tick period, ≤ 1 s, well inside Envoy's stats flush interval).
	pending uint64
}

type metrics struct {
	state           proxywasm.MetricGauge
	transitions     [len(outlier.States)]proxywasm.MetricCounter
	targets         []targetMetrics
	retries         proxywasm.MetricCounter
	retrySuccess    proxywasm.MetricCounter
	retryFailure    proxywasm.MetricCounter
	budgetExhausted proxywasm.MetricCounter
	bodyTooLarge    proxywasm.MetricCounter
	stripped        proxywasm.MetricCounter
	errors          proxywasm.MetricCounter
}

// service is one plugin's view of its service: configuration, cores,
// keys, metrics and the VM-local cache of the shared health.
type service struct {
	cfg     config.Config
	det     outlier.Settings
	rt      *router.Router
	pol     retry.Policy
	byName  map[string]int // target cluster, and its Envoy cluster name, to index
	tkeys   []string
	hkeys   []string // per-target host tables (hosts.go)
	skey    string
	bkey    string
	cluster []string // Envoy cluster names per target
	probeTo []string // Envoy cluster each target is probed through (config.ProbeClusterName)
	m       metrics

	// Failures per upstream host (upstream.address), where the response
	// names one: a filter cannot eject a host from Envoy's load balancer, so
	// hosts are attributed in metrics and ejection logs, while ejection is
	// per target cluster.
	hostFail map[string]proxywasm.MetricCounter
	lastHost []string

	// Cache of the shared health, re-read when the service record's Gen moves.
	gen    uint64
	genOK  bool
	health []router.Health
	recs   []outlier.Record
	buf    [outlier.RecordSize]byte
	sbuf   [outlier.ServiceRecordSize]byte
	bbuf   [retry.BudgetSize]byte

	// genEvery: how many requests may route on the cached health before
	// Gen is read again (0 or 1: every request); genLeft counts them down.
	// See refresh for the bound.
	genEvery, genLeft int

	// This VM's active requests (retry filter), published under slotKey.
	active  uint32
	slotKey string
	abuf    [4]byte
	// lat is latency failover's per-VM state (latency.go); nil when off.
	lat *latencyState
	// cell is the cell header's signing state (cell.go; router only).
	cell cellState
	// Host tables: scratch, and whether this VM last saw one with counts.
	hosts     outlier.Hosts
	hbuf      [outlier.HostsSize]byte
	hostDirty []bool
	rot       []outlier.Rotation // per target, this VM's view
	rotSeq    []uint64           // per target, rot's Seq at the last tick
}

func newService(data []byte) (*service, error) {
	cfg, err := config.Parse(data)
	if err != nil {
		return nil, err
	}
	if len(cfg.Targets) > router.MaxTargets {
		return nil, fmt.Errorf("plugin config: targets: %d targets, at most %d are supported", len(cfg.Targets), router.MaxTargets)
	}
	pol, err := retry.NewPolicy(cfg.Retry)
	if err != nil {
		return nil, err
	}
	n := len(cfg.Targets)
	s := &service{
		cfg: cfg, det: outlier.NewSettings(cfg.Detection), rt: router.New(&cfg), pol: pol,
		byName: map[string]int{}, tkeys: make([]string, n), hkeys: make([]string, n), hostDirty: make([]bool, n), rot: make([]outlier.Rotation, n), rotSeq: make([]uint64, n), cluster: make([]string, n), probeTo: make([]string, n),
		skey: serviceKey(cfg.Service.Host), bkey: budgetKey(cfg.Service.Host),
		health: make([]router.Health, n), recs: make([]outlier.Record, n),
		hostFail: map[string]proxywasm.MetricCounter{}, lastHost: make([]string, n),
	}
	s.det.SetFailback(cfg.Failback)
	if cfg.TierByLocality {
		// Where the proxy runs (Envoy's bootstrap node); absent, the
		// targets keep one tier.
		s.rt.Locate(&cfg, nodeLocality("region"), nodeLocality("zone"))
	}
	prefix := "detour." + cfg.Service.Host + "."
	s.m.state = proxywasm.DefineGaugeMetric(prefix + "state")
	for i, st := range outlier.States {
		s.m.transitions[i] = proxywasm.DefineCounterMetric(prefix + "transitions." + st.String())
	}
	for i, t := range cfg.Targets {
		s.tkeys[i] = targetKey(cfg.Service.Host, t.Cluster)
		s.hkeys[i] = hostsKey(cfg.Service.Host, t.Cluster)
		s.cluster[i] = cfg.ClusterName(t.Cluster)
		s.probeTo[i] = cfg.ProbeClusterName(t.Cluster)
		s.byName[t.Cluster] = i
		s.byName[s.cluster[i]] = i
		tp := prefix + "target." + t.Cluster + "."
		s.m.targets = append(s.m.targets, targetMetrics{
			ejected: proxywasm.DefineGaugeMetric(tp + "ejected"), ejections: proxywasm.DefineCounterMetric(tp + "ejections"),
			probes: proxywasm.DefineCounterMetric(tp + "probes"), probeFail: proxywasm.DefineCounterMetric(tp + "probe_failures"),
			requests: proxywasm.DefineCounterMetric(tp + "requests"), ramp: proxywasm.DefineGaugeMetric(tp + "ramp"),
		})
	}
	s.m.retries = proxywasm.DefineCounterMetric(prefix + "retry.attempts")
	s.m.retrySuccess = proxywasm.DefineCounterMetric(prefix + "retry.success")
	s.m.retryFailure = proxywasm.DefineCounterMetric(prefix + "retry.failure")
	s.m.budgetExhausted = proxywasm.DefineCounterMetric(prefix + "retry.budget_exhausted")
	s.m.bodyTooLarge = proxywasm.DefineCounterMetric(prefix + "retry.body_too_large")
	s.m.stripped = proxywasm.DefineCounterMetric(prefix + "router.stripped_headers")
	s.m.errors = proxywasm.DefineCounterMetric(prefix + "internal_errors")
	return s, nil
}

// matches reports whether a request authority addresses the service.
func (s *service) matches(authority string) bool {
	h := hostOnly(authority)
	if h == s.cfg.Service.Host {
		return true
	}
	for _, a := range s.cfg.Service.Authorities {
		if h == a {
			return true
		}
	}
	return false
}

// targetOf maps an Envoy cluster name (outbound|PORT|SUBSET|FQDN) or a
// target name to the target index.
func (s *service) targetOf(cluster string) (int, bool) {
	i, ok := s.byName[cluster]
	return i, ok
}

// genEveryCombined is genEvery in the combined root ID.
const genEveryCombined = 8

// refresh brings the cached health up to date: one shared-data read of
// the generation, all targets only when it moved since the last read.
// With genEvery > 1 (the combined root ID), while every target is calm
// (none out, failing, partly out or suspect: a healthy mesh), the
// generation is read on one call in genEvery: a change another worker
// made is seen by this VM's router within its next genEvery requests, at
// its next tick (≤ 1 s, which runs in the same root context) or, for an
// ejection or a streak, at the next response from the changed target
// (observe compares the record), whichever comes first; this VM's own changes (bumpGen) at once.
// Otherwise (an outage, a failback) it is read on every call, so a
// return is seen at once. Retries read it every time (refreshNow). The
// three root IDs cannot share the outlier part's tick or responses with
// the router's context and read it per request.
func (s *service) refresh() error {
	if s.genOK && s.genLeft > 0 {
		s.genLeft--
		return nil
	}
	return s.refreshNow()
}

// setGenLeft: how many calls may skip the read after this one.
func (s *service) setGenLeft() {
	s.genLeft = 0
	if s.genEvery > 1 && router.Calm(s.health) {
		s.genLeft = s.genEvery - 1
	}
}

// staleGen makes the next refresh read the generation.
func (s *service) staleGen() { s.genLeft = 0 }

// refreshNow is refresh without the bound: the generation is read.
func (s *service) refreshNow() error {
	b, _, err := getSharedData(s.skey)
	var sr outlier.ServiceRecord
	if err == nil {
		sr.Decode(b)
	}
	if s.genOK && sr.Gen == s.gen {
		s.setGenLeft()
		return nil
	}
	now := nowMs()
	for i, k := range s.tkeys {
		b, _, err := getSharedData(k)
		if err == nil {
			s.recs[i].Decode(b)
		} else {
			s.recs[i] = outlier.Record{}
		}
		r := &s.recs[i]
		s.health[i] = router.Health{Out: r.Ejected, RecoveredAt: r.RecoveredAt, Failing: r.Failing(), HoldDownMs: r.HoldDownMs, EjectedAt: r.EjectedAt}
		known, out, suspect := s.hostCounts(i, now)
		s.health[i].Hosts, s.health[i].HostsOut, s.health[i].Suspect = uint16(known), uint16(out), suspect
	}
	s.gen, s.genOK = sr.Gen, true
	s.setGenLeft()
	return nil
}

// observe counts one outcome for target i and ejects it when a detector
// fires and the max-ejection share allows. It reports whether the target
// started failing (for the state machine) or was ejected. The clock (two
// host calls) is read only when the record changes: a success on a clean
// record, the common case, neither writes nor reads the time.
func (s *service) observe(p *plugin, i int, o outlier.Outcome) error {
	if o == outlier.Ignored {
		return nil
	}
	var hit outlier.Detector
	var rec outlier.Record
	var now int64
	wasFailing := false
	err := update(s.tkeys[i], func(old []byte) []byte {
		rec.Decode(old)
		if h := &s.health[i]; rec.Ejected != h.Out || rec.Failing() != h.Failing {
			s.staleGen() // another worker changed it since the last read
		}
		if rec.Ejected {
			hit = outlier.None
			return nil
		}
		if o == outlier.Success && rec.Cons5xx == 0 && rec.ConsGateway == 0 && rec.ConsLocal == 0 && s.det.FailurePercentage == 0 && rec.WinFail == 0 {
			hit = outlier.None
			return nil // nothing to count: save the write
		}
		if now == 0 {
			now = nowMs()
		}
		wasFailing = rec.Failing()
		hit = s.det.Observe(&rec, o, now)
		return rec.Encode(s.buf[:])
	})
	if err != nil {
		return err
	}
	startedFailing := !wasFailing && rec.Failing()
	if hit == outlier.None && wasFailing != rec.Failing() {
		// Retries steer around failing targets (router.Next): every VM
		// must see a streak open and close.
		if err := s.bumpGen(); err != nil {
			return err
		}
	}
	if hit == outlier.None && !startedFailing {
		return nil
	}
	if now == 0 { // the record was counted: already read, kept for safety
		now = nowMs()
	}
	if hit != outlier.None {
		return s.eject(p, i, hit, now)
	}
	return s.evaluate(p, now, fmt.Sprintf("detector=%s target=%s count=%d", o, s.cfg.Targets[i].Cluster, rec.Count(detectorFor(o))))
}

func detectorFor(o outlier.Outcome) outlier.Detector {
	switch o {
	case outlier.LocalOrigin:
		return outlier.ConsecutiveLocalOrigin
	case outlier.Gateway:
		return outlier.ConsecutiveGateway
	}
	return outlier.Consecutive5xx
}

// hostFailure counts a failure against the upstream host the response
// came from, when Envoy knows one (not for connect failures).
func (s *service) hostFailure(i int) {
	b, err := getProperty("upstream", "address")
	if err != nil || len(b) == 0 {
		s.lastHost[i] = ""
		return
	}
	addr := string(b)
	s.lastHost[i] = addr
	key := s.cfg.Targets[i].Cluster + "|" + addr
	m, ok := s.hostFail[key]
	if !ok {
		if len(s.hostFail) >= 256 {
			return // bound the metrics a misbehaving upstream can create
		}
		m = proxywasm.DefineCounterMetric("detour." + s.cfg.Service.Host + ".target." + s.cfg.Targets[i].Cluster + ".host." + addr + ".failures")
		s.hostFail[key] = m
	}
	m.Increment(1)
}

// ejectedCount reads how many targets are ejected now.
func (s *service) ejectedCount() int {
	n := 0
	var r outlier.Record
	for _, k := range s.tkeys {
		if b, _, err := proxywasm.GetSharedData(k); err == nil {
			r.Decode(b)
			if r.Ejected {
				n++
			}
		}
	}
	return n
}

func (s *service) eject(p *plugin, i int, det outlier.Detector, now int64) error {
	if !s.det.AllowEject(s.ejectedCount(), len(s.tkeys)) {
		proxywasm.LogWarnf("detour: %s: %s would eject %s but the max ejection share (%d%%) is reached", s.cfg.Service.Host, det, s.cfg.Targets[i].Cluster, s.det.MaxEjectionPercent)
		return nil
	}
	var rec outlier.Record
	var count uint32
	done := false
	err := update(s.tkeys[i], func(old []byte) []byte {
		rec.Decode(old)
		if rec.Ejected {
			done = false
			return nil // another worker ejected it first
		}
		count = rec.Count(det)
		s.det.Eject(&rec, now)
		done = true
		return rec.Encode(s.buf[:])
	})
	if err != nil || !done {
		return err
	}
	s.m.targets[i].ejections.Increment(1)
	setGauge(s.m.targets[i].ejected, 1)
	if err := s.resetHosts(i); err != nil {
		return err
	}
	host := ""
	if s.lastHost[i] != "" {
		host = " last-host=" + s.lastHost[i]
	}
	proxywasm.LogWarnf("detour: %s: ejected %s for %dms (detector=%s count=%d times=%d%s)", s.cfg.Service.Host, s.cfg.Targets[i].Cluster, s.det.EjectionMs(&rec), det, count, rec.Times, host)
	if err := s.bumpGen(); err != nil {
		return err
	}
	return s.evaluate(p, now, fmt.Sprintf("detector=%s target=%s count=%d", det, s.cfg.Targets[i].Cluster, count))
}

// bumpGen tells every VM to re-read the targets.
func (s *service) bumpGen() error {
	s.staleGen() // this VM too
	var sr outlier.ServiceRecord
	return update(s.skey, func(old []byte) []byte {
		sr.Decode(old)
		sr.Gen++
		return sr.Encode(s.sbuf[:])
	})
}

// view reads every target and summarises it for the state machine.
func (s *service) view(now int64) outlier.View {
	var v outlier.View
	var r outlier.Record
	for i, k := range s.tkeys {
		r = outlier.Record{}
		if b, _, err := proxywasm.GetSharedData(k); err == nil {
			r.Decode(b)
		}
		h := router.Health{Out: r.Ejected, RecoveredAt: r.RecoveredAt, HoldDownMs: r.HoldDownMs}
		switch {
		case r.Ejected && s.rt.Preferred(i):
			v.PreferredOut = true
		case r.Ejected:
			v.AnyOut = true
		case s.rt.Ramping(h, now) && s.rt.Preferred(i):
			v.Ramping = true
		}
		if r.Failing() {
			v.AnyFailing = true
		}
	}
	return v
}

// evaluate moves the service's state machine to what the targets call
// for; the VM that wins the compare-and-swap logs the transition with its
// trigger and counts it.
func (s *service) evaluate(p *plugin, now int64, trigger string) error {
	next := outlier.Next(s.view(now))
	var sr outlier.ServiceRecord
	var from outlier.State
	changed := false
	err := update(s.skey, func(old []byte) []byte {
		sr.Decode(old)
		changed = sr.State != next
		if !changed {
			return nil
		}
		from = sr.State
		sr.State, sr.Since = next, now
		return sr.Encode(s.sbuf[:])
	})
	if err != nil || !changed {
		return err
	}
	setGauge(s.m.state, int64(next))
	s.m.transitions[next].Increment(1)
	proxywasm.LogWarnf("detour: %s: %s -> %s (%s)", s.cfg.Service.Host, from, next, trigger)
	return nil
}

// tick (outlier root only): decay backoffs, probe targets that are out or
// in hold-down once per probe period, advance the state machine (ramps end on time), export gauges.
func (s *service) tick(p *plugin, now int64) error {
	s.staleGen() // refresh's bound: a tick period at most
	for i := range s.m.targets {
		if m := &s.m.targets[i]; m.pending != 0 {
			m.requests.Increment(m.pending)
			m.pending = 0
		}
	}
	if err := s.tickHosts(now); err != nil {
		return err
	}
	for i := range s.tkeys {
		var rec outlier.Record
		probe := false
		timeout := int64(s.cfg.Retry.PerTryTimeoutMs)
		if timeout == 0 {
			timeout = 5000
		}
		err := update(s.tkeys[i], func(old []byte) []byte {
			rec.Decode(old)
			probe = false
			switch {
			case s.det.ProbeDue(&rec, now):
				rec.ClaimProbe(now + timeout + 1000)
				probe = true
			case s.det.Decay(&rec, now):
			default:
				return nil
			}
			return rec.Encode(s.buf[:])
		})
		if err != nil {
			return err
		}
		if rec.Ejected {
			setGauge(s.m.targets[i].ejected, 1)
		} else {
			setGauge(s.m.targets[i].ejected, 0)
		}
		setGauge(s.m.targets[i].ramp, int64(s.rt.RampShare(router.Health{Out: rec.Ejected, RecoveredAt: rec.RecoveredAt, HoldDownMs: rec.HoldDownMs}, now)))
		if probe {
			s.probe(p, i, uint32(timeout))
		}
	}
	return s.evaluate(p, now, "trigger=tick")
}

func (s *service) probe(p *plugin, i int, timeout uint32) {
	path := s.cfg.Detection.ProbePath
	if path == "" {
		path = "/"
	}
	hdrs := [][2]string{{":method", "GET"}, {":path", path}, {":authority", s.cfg.Service.Host}, {":scheme", "http"}, {"user-agent", "detour-probe"}}
	s.m.targets[i].probes.Increment(1)
	sent := nowMs() // a probe's answer time tells warm pods from cold ones (ProbeAnswered)
	_, err := proxywasm.DispatchHttpCall(s.probeTo[i], hdrs, nil, nil, timeout, func(numHeaders, _, _ int) {
		defer p.failOpen()
		status := 0
		if numHeaders > 0 {
			if hs, err := proxywasm.GetHttpCallResponseHeaders(); err == nil {
				for _, kv := range hs {
					if kv[0] == ":status" {
						status, _ = strconv.Atoi(kv[1])
					}
				}
				status = probeGrpcStatus(status, hs)
			}
		}
		now := nowMs()
		if s.probeTooSlow(i, sent, now) {
			status = 0
		}
		s.probeResult(p, i, status, now, now-sent)
	})
	if err != nil {
		proxywasm.LogWarnf("detour: %s: probe of %s not sent: %v", s.cfg.Service.Host, s.cfg.Targets[i].Cluster, err)
		s.probeResult(p, i, 0, nowMs(), -1)
	}
}

func (s *service) probeResult(p *plugin, i int, status int, now, took int64) {
	want := int(s.cfg.Detection.ProbeStatus)
	ok := status != 0 && (want == 0 && status < 500 || status == want)
	var rec outlier.Record
	changed, extended := false, false
	err := update(s.tkeys[i], func(old []byte) []byte {
		rec.Decode(old)
		hd := rec.HoldDownMs
		changed = rec.Ejected == ok // out and answered, or in hold-down and failed
		defer func() { extended = !changed && !rec.Ejected && rec.HoldDownMs != hd }()
		if !rec.Ejected && !s.det.InHoldDown(&rec, now) {
			changed = false
			return nil
		}
		if ok {
			s.det.ProbeAnswered(&rec, now, took)
		} else {
			s.det.ProbeFailed(&rec, now)
		}
		return rec.Encode(s.buf[:])
	})
	if err != nil {
		p.internalError(err)
		return
	}
	if !ok {
		s.m.targets[i].probeFail.Increment(1)
	}
	if extended { // a slow probe held a cold target down longer: every VM must see it
		proxywasm.LogWarnf("detour: %s: probe of %s took %dms in hold-down: held down %dms", s.cfg.Service.Host, s.cfg.Targets[i].Cluster, took, rec.HoldDownMs)
		if err := s.bumpGen(); err != nil {
			p.internalError(err)
		}
		return
	}
	if !changed {
		return
	}
	name := s.cfg.Targets[i].Cluster
	if err := s.resetHosts(i); err != nil {
		p.internalError(err)
	}
	if ok {
		setGauge(s.m.targets[i].ejected, 0)
		if rec.RecoveredAt == 0 {
			proxywasm.LogWarnf("detour: %s: probe of %s answered %d in %dms: back in service at once (first recovery)", s.cfg.Service.Host, name, status, took)
		} else {
			proxywasm.LogWarnf("detour: %s: probe of %s answered %d: back in service, hold-down %dms then ramp %v", s.cfg.Service.Host, name, status, rec.HoldDownMs, s.cfg.Failback.Ramp)
		}
	} else {
		s.m.targets[i].ejections.Increment(1)
		setGauge(s.m.targets[i].ejected, 1)
		proxywasm.LogWarnf("detour: %s: probe of %s answered %d in hold-down: ejected again (penalty=%d)", s.cfg.Service.Host, name, status, rec.Penalty)
	}
	if err := s.bumpGen(); err != nil {
		p.internalError(err)
		return
	}
	trigger := fmt.Sprintf("detector=probe target=%s status=%d", name, status)
	if err := s.evaluate(p, now, trigger); err != nil {
		p.internalError(err)
	}
}

// nodeLocality reads a field of the proxy's node locality: xds.node since
// Envoy 1.33 removed the top-level names, node before it.
func nodeLocality(field string) string {
	b, err := proxywasm.GetProperty([]string{"xds", "node", "locality", field})
	if err != nil {
		b, _ = proxywasm.GetProperty([]string{"node", "locality", field})
	}
	return string(b)
}
