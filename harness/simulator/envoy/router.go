package envoy

import (
	"fmt"
	"strings"

	"github.com/detour-mesh/detour/harness/simulator/envoy/internal/outlier"
	"github.com/detour-mesh/detour/harness/simulator/envoy/internal/priority"
	"github.com/detour-mesh/detour/harness/simulator/envoy/internal/retry"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// The router follows source/common/router/router.cc (Filter: route and
// cluster lookup, global and per-try timeouts, onUpstreamHeaders,
// onUpstreamReset, updateOutlierDetection, local replies and response
// flags), source/common/router/upstream_request.cc (per-try timeout armed
// once the pool is ready) and source/common/router/retry_state_impl.cc
// (shouldRetry, the retry slot, back-off, host predicate and retry
// priority), with source/extensions/retry/priority/previous_priorities.

// Response flag bits (StreamInfo::CoreResponseFlag; the values httpsim
// uses where it has them).
const (
	flagUH  uint64 = 0x2
	flagUT  uint64 = 0x4
	flagLR  uint64 = 0x8
	flagUR  uint64 = 0x10
	flagUF  uint64 = 0x20
	flagUC  uint64 = 0x40
	flagUO  uint64 = 0x80
	flagNR  uint64 = 0x100
	flagURX uint64 = 0x8000
	flagNC  uint64 = 0x1000000
)

var flagOrder = []struct {
	bit  uint64
	name string
}{{flagUH, "UH"}, {flagUT, "UT"}, {flagLR, "LR"}, {flagUR, "UR"}, {flagUF, "UF"}, {flagUC, "UC"}, {flagUO, "UO"}, {flagNR, "NR"}, {flagURX, "URX"}, {flagNC, "NC"}}

// flagName is the access-log short name of one flag bit.
func flagName(bit uint64) string {
	for _, n := range flagOrder {
		if n.bit == bit {
			return n.name
		}
	}
	return ""
}

func flagNames(f uint64) []string {
	var out []string
	for _, n := range flagOrder {
		if f&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// Reset reasons a Network may give (Result.Reset) for OutcomeReset.
const (
	ResetRemote                = "remote_reset"
	ResetConnectionTermination = "connection_termination"
	ResetRefusedStream         = "remote_refused_stream_reset"
)

// final is the router's answer to the downstream.
type final struct {
	status  int
	details string
	flags   uint64
	// seq lists the flags in the order they were set, as Envoy's access
	// log prints them (URX from the retry decision before the UF of the
	// final reset).
	seq         []string
	body        string
	headers     [][2]string
	viaUpstream bool
}

// call is one request through the router.
type call struct {
	p       *Proxy
	rec     *Record
	route   *route
	cl      *cluster
	headers [][2]string
	body    []byte
	done    func(final)

	policy    *retryPolicy
	grpc      bool // a gRPC request: grpc-status feeds outlier detection
	remaining uint32
	backoff   *retry.Backoff
	attempted []*host
	// prioPlugin is the route's retry priority, one per request.
	prioPlugin *priority.PreviousPriorities
	slot       bool // holds a retries() slot of the cluster
	flags      uint64
	seq        []string

	global, backoffTimer *vclock.Timer
	cur                  *attempt
	finished             bool
}

type attempt struct {
	h       *host
	idx     int // index in rec.Attempts
	timer   *vclock.Timer
	perTry  *vclock.Timer
	pending bool
	active  bool
	ended   bool
}

// startNative runs a request through route matching and the router
// without an HTTP filter chain.
func (p *Proxy) startNative(req Request, x *Exchange) {
	rec := &Record{Tag: req.Tag, Start: p.clock.Now()}
	finish := func(f final) {
		rec.Status, rec.Details, rec.Body = f.status, f.details, f.body
		rec.Status = userStatus(rec.Status, f.headers)
		rec.Flags = f.names()
		p.finish(x, rec)
	}
	lr := p.routes.find(req.Port)
	r := lr.match(req.Headers)
	if r == nil {
		finish(final{status: 404, details: "route_not_found", flags: flagNR})
		return
	}
	cluster := r.pickCluster(req.Headers, p.rng.Uint64())
	p.route(rec, r, cluster, req.Headers, req.Body, finish)
}

// route runs the router for a matched route and chosen cluster.
func (p *Proxy) route(rec *Record, r *route, clusterName string, headers [][2]string, body []byte, done func(final)) {
	rec.Route, rec.VirtualHost = r.name, r.vh.name
	if r.direct != nil {
		done(final{status: r.direct.status, details: "direct_response", body: r.direct.body})
		return
	}
	if r.unmodelled != "" {
		done(final{status: 503, details: "route_not_modelled", body: r.unmodelled})
		return
	}
	cl := p.clusters[clusterName]
	if cl == nil {
		done(final{status: 503, details: "cluster_not_found", flags: flagNC})
		return
	}
	rec.Cluster = clusterName
	c := &call{p: p, rec: rec, route: r, cl: cl, headers: headers, body: body, done: done, policy: r.retry,
		grpc: isGrpcRequest(headers)}
	if c.policy != nil && !c.policy.appliesTo(headers) {
		c.policy = nil
	}
	if c.policy != nil {
		if c.policy.prioFreq > 0 {
			c.prioPlugin = &priority.PreviousPriorities{UpdateFrequency: c.policy.prioFreq}
		}
		c.remaining = c.policy.numRetries
		c.backoff = retry.NewBackoff(c.policy.base, c.policy.max)
	}
	if r.timeout > 0 {
		c.global = p.clock.After(r.timeout, c.onGlobalTimeout)
	}
	c.sendAttempt()
}

// selection builds the retry load balancer context.
func (c *call) selection() *selection {
	if c.policy == nil {
		return nil
	}
	s := &selection{}
	if c.policy.previousHosts {
		s.reject = func(h *host) bool {
			for _, a := range c.attempted {
				if a == h {
					return true
				}
			}
			return false
		}
		// host_selection_retry_max_attempts defaults to 1
		// (source/common/router/config_impl.h, RetryPolicyImpl).
		s.maxAttempts = int(max(1, c.policy.hostSelectionMax))
	}
	if c.prioPlugin != nil {
		if h, d, ok := c.prioPlugin.Load(c.cl.levels(), c.cl.opf); ok {
			s.healthy, s.degraded = h, d
		}
	}
	return s
}

func (c *call) sendAttempt() {
	if c.finished {
		return
	}
	c.backoffTimer = nil
	p, cl := c.p, c.cl
	h := cl.chooseHost(c.selection())
	if h == nil {
		p.counters.NoHealthyUpstream++
		c.finish(final{status: 503, details: "no_healthy_upstream", flags: flagUH, body: "no healthy upstream"})
		return
	}
	c.attempted = append(c.attempted, h)
	if c.prioPlugin != nil {
		c.prioPlugin.OnHostAttempted(h.priority)
	}
	a := &attempt{h: h, idx: len(c.rec.Attempts)}
	c.cur = a
	c.rec.Attempts = append(c.rec.Attempts, AttemptRecord{Cluster: cl.name, Address: h.addr, Priority: h.priority,
		Locality: h.locality, Start: p.clock.Now()})
	// Circuit breakers (conn pool newStream): max_requests, then the
	// connection limit with its pending queue.
	if uint64(cl.active) >= cl.maxRequests {
		c.overflow(a)
		return
	}
	if uint64(cl.active) >= cl.maxConnections {
		if uint64(cl.pending) >= cl.maxPending {
			c.overflow(a)
			return
		}
		a.pending = true
		cl.pending++
		cl.queue = append(cl.queue, func() {
			a.pending = false
			if !a.ended {
				c.dispatch(a)
			}
		})
		return
	}
	c.dispatch(a)
}

// overflow: the pool refused the stream (reset reason Overflow): never
// retried, not reported to outlier detection.
func (c *call) overflow(a *attempt) {
	c.p.counters.Overflow++
	c.endAttempt(a, "overflow", 0, "circuit breaker")
	c.finish(final{status: 503, details: "upstream_reset_before_response_started{overflow}", flags: flagUO,
		body: "upstream connect error or disconnect/reset before headers. reset reason: overflow"})
}

func (c *call) dispatch(a *attempt) {
	p, cl, h := c.p, c.cl, a.h
	cl.active++
	h.active++
	a.active = true
	p.counters.Attempts++
	res := p.cfg.Network.Send(p.clock.Now(), &Attempt{Proxy: p.cfg.Name, Cluster: cl.name, Address: h.addr,
		Metadata: h.meta, Headers: c.headers, Body: c.body, Number: len(c.rec.Attempts)})
	connected := true
	switch res.Outcome {
	case OutcomeResponse, "":
		a.timer = p.clock.After(res.Latency, func() { c.onResponse(a, res) })
	case OutcomeConnectFailure:
		connected = false
		a.timer = p.clock.After(res.Latency, func() { c.onReset(a, retry.ConnectionFailure, res) })
	case OutcomeHandshakeFailure:
		connected = false
		a.timer = p.clock.After(res.Latency, func() { c.onReset(a, retry.ConnectionFailure, res) })
	case OutcomeConnectTimeout:
		connected = false
		a.timer = p.clock.After(cl.connectTimeout, func() { c.onReset(a, retry.ConnectionTimeout, res) })
	case OutcomeReset:
		reason := retry.RemoteReset
		switch res.Reset {
		case ResetConnectionTermination:
			reason = retry.ConnectionTermination
		case ResetRefusedStream:
			reason = retry.RemoteRefusedStreamReset
		}
		a.timer = p.clock.After(res.Latency, func() { c.onReset(a, reason, res) })
	case OutcomeHang:
	default:
		// A Network bug must show in the report, not pass as a hang.
		connected = false
		res.Cause = fmt.Sprintf("envoy: unknown Network outcome %q (%s)", res.Outcome, res.Cause)
		a.timer = p.clock.After(res.Latency, func() { c.onReset(a, retry.ConnectionFailure, res) })
	}
	if connected {
		// Pool ready: split mode counts the connect success; the per-try
		// timeout starts now.
		if cl.od != nil {
			cl.od.PutResult(h.od, outlier.LocalOriginConnectSuccess, 0)
		}
		if c.policy != nil && c.policy.perTry > 0 {
			a.perTry = p.clock.After(c.policy.perTry, func() { c.onPerTryTimeout(a) })
		}
	}
	if res.Cause != "" {
		c.rec.Attempts[a.idx].Cause = res.Cause
	}
}

func (c *call) endAttempt(a *attempt, outcome string, status int, cause string) {
	if a.ended {
		return
	}
	a.ended = true
	a.timer.Stop()
	a.perTry.Stop()
	if a.active {
		a.active = false
		c.cl.release(a.h)
	}
	if a.pending {
		a.pending = false
		c.cl.pending--
	}
	ar := &c.rec.Attempts[a.idx]
	ar.End = c.p.clock.Now()
	ar.Outcome = outcome
	ar.Status = status
	if cause != "" {
		ar.Cause = cause
	}
	if c.cur == a {
		c.cur = nil
	}
}

func (c *call) onResponse(a *attempt, res Result) {
	status := res.Status
	if status == 0 {
		status = 200
	}
	if c.cl.od != nil {
		code := status
		if gs, ok := grpcStatus(res.Headers); ok && c.grpc {
			code = grpcToHTTP(gs)
		}
		c.cl.od.PutHTTPResponseCode(a.h.od, code)
	}
	// The retry decision is taken while the upstream request still holds
	// its slot (it is reset after shouldRetryHeaders says yes), so the
	// retry budget counts it as active.
	retried := false
	if c.policy != nil {
		r := retry.Response{Status: status, GrpcStatus: -1}
		for _, kv := range res.Headers {
			switch strings.ToLower(kv[0]) {
			case "x-envoy-ratelimited":
				r.EnvoyRateLimited = true
			case "x-envoy-overloaded":
				r.Overloaded = true
			case "grpc-status":
				r.GrpcStatus = atoiOr(kv[1], -1)
			}
		}
		r.HeadersMatch = c.policy.retriableHeaders(status, res.Headers)
		retried = c.maybeRetry(retry.FromHeaders(c.policy.on, c.policy.codes, r))
	}
	c.endAttempt(a, OutcomeResponse, status, res.Cause)
	if !retried {
		c.finish(final{status: status, details: "via_upstream", headers: res.Headers, body: string(res.Body), viaUpstream: true})
	}
}

var resetText = map[retry.ResetReason][3]string{
	// reason text, details token, transport failure
	retry.ConnectionFailure:        {"remote connection failure", "remote_connection_failure", "delayed connect error: Connection refused"},
	retry.ConnectionTimeout:        {"connection timeout", "connection_timeout", ""},
	retry.ConnectionTermination:    {"connection termination", "connection_termination", ""},
	retry.RemoteReset:              {"remote reset", "remote_reset", ""},
	retry.RemoteRefusedStreamReset: {"remote refused stream reset", "remote_refused_stream_reset", ""},
}

func resetFlag(r retry.ResetReason) uint64 {
	switch r {
	case retry.ConnectionFailure, retry.ConnectionTimeout:
		return flagUF
	case retry.ConnectionTermination:
		return flagUC
	case retry.LocalReset:
		return flagLR
	}
	return flagUR
}

func (c *call) onReset(a *attempt, reason retry.ResetReason, res Result) {
	outcome := res.Outcome
	c.endAttempt(a, outcome, 0, res.Cause)
	// router.cc onUpstreamReset: every reset but Overflow is a local-origin
	// connect failure for outlier detection.
	if c.cl.od != nil {
		c.cl.od.PutResult(a.h.od, outlier.LocalOriginConnectFailed, 0)
	}
	if c.policy != nil {
		started := reason != retry.ConnectionFailure && reason != retry.ConnectionTimeout
		if c.maybeRetry(retry.FromReset(c.policy.on, reason, started)) {
			return
		}
	}
	t := resetText[reason]
	if res.Outcome == OutcomeHandshakeFailure {
		// No refused connect: the TLS failure text is not modelled.
		t[2] = ""
	}
	details := "upstream_reset_before_response_started{" + t[1]
	body := "upstream connect error or disconnect/reset before headers. "
	if len(c.rec.Attempts) > 1 {
		body += "retried and the latest "
	}
	body += "reset reason: " + t[0]
	if t[2] != "" {
		details += "|" + strings.ReplaceAll(t[2], " ", "_")
		body += ", transport failure reason: " + t[2]
	}
	details += "}"
	c.finish(final{status: 503, details: details, flags: resetFlag(reason), body: body})
}

func (c *call) onPerTryTimeout(a *attempt) {
	c.p.counters.PerTryTimeouts++
	c.endAttempt(a, "per_try_timeout", 0, "")
	if c.cl.od != nil {
		c.cl.od.PutResult(a.h.od, outlier.LocalOriginTimeout, 504)
	}
	// A per-try timeout resets the stream locally (LocalReset).
	if c.maybeRetry(retry.FromReset(c.policy.on, retry.LocalReset, true)) {
		return
	}
	c.finish(final{status: 504, details: "upstream_per_try_timeout", flags: flagUT, body: "upstream request timeout"})
}

func (c *call) onGlobalTimeout() {
	if c.finished {
		return
	}
	c.p.counters.RouteTimeouts++
	if a := c.cur; a != nil && !a.ended {
		wasActive := a.active
		c.endAttempt(a, "route_timeout", 0, "")
		if wasActive && c.cl.od != nil {
			c.cl.od.PutResult(a.h.od, outlier.LocalOriginTimeout, 504)
		}
	}
	c.finish(final{status: 504, details: "upstream_response_timeout", flags: flagUT, body: "upstream request timeout"})
}

// maybeRetry is RetryStateImpl::shouldRetry followed by the back-off timer.
func (c *call) maybeRetry(would bool) bool {
	c.releaseSlot()
	if !would {
		return false
	}
	p, cl := c.p, c.cl
	if c.remaining == 0 {
		p.counters.RetryLimitExceeded++
		c.addFlag(flagURX)
		return false
	}
	c.remaining--
	if !cl.canRetry() {
		p.counters.RetryOverflow++
		c.addFlag(flagUO)
		return false
	}
	cl.activeRetries++
	c.slot = true
	p.counters.Retries++
	d := c.backoff.Next(p.rng.Uint64())
	c.backoffTimer = p.clock.After(d, c.sendAttempt)
	return true
}

func (c *call) releaseSlot() {
	if c.slot {
		c.slot = false
		c.cl.activeRetries--
	}
}

func (c *call) finish(f final) {
	if c.finished {
		return
	}
	c.finished = true
	c.global.Stop()
	c.backoffTimer.Stop()
	if a := c.cur; a != nil {
		c.endAttempt(a, "cancelled", 0, "")
	}
	c.releaseSlot()
	own := f.flags
	f.flags |= c.flags
	f.seq = append(append([]string(nil), c.seq...), flagNames(own&^c.flags)...)
	c.done(f)
}

func (c *call) addFlag(bit uint64) {
	if c.flags&bit == 0 {
		c.flags |= bit
		c.seq = append(c.seq, flagName(bit))
	}
}

// names returns the flags in the order they were set.
func (f final) names() []string {
	if f.seq != nil {
		return f.seq
	}
	return flagNames(f.flags)
}

func atoiOr(s string, def int) int {
	n := 0
	if s == "" {
		return def
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return def
		}
		n = n*10 + int(r-'0')
	}
	return n
}
