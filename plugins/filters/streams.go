package main

import (
	"errors"
	"strconv"
	"unsafe"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/detour-mesh/detour/plugins/config"
	"github.com/detour-mesh/detour/plugins/outlier"
	"github.com/detour-mesh/detour/plugins/retry"
	"github.com/detour-mesh/detour/plugins/router"
)

// --- router -------------------------------------------------------------------

type routerStream struct {
	types.DefaultHttpContext
	p *plugin
	// authKnown: the router read :authority, and authMatch is whether it
	// addresses the service (the combined stream hands both to its retry
	// part, saving that host call).
	authKnown, authMatch bool
	hs                   headerPairs // the combined stream's read, if any
	// picked: the target whose cluster the routing header names (valid
	// when pickedOK), for the combined stream's outlier part.
	picked   int
	pickedOK bool
}

func (r *routerStream) OnHttpRequestHeaders(int, bool) types.Action {
	enter()
	defer r.p.exit()
	r.onRequestHeaders()
	return types.ActionContinue
}

// onRequestHeaders is the router's work on the request headers, under
// the caller's exit.
func (r *routerStream) onRequestHeaders() {
	s := r.p.svc
	h := &s.cfg.Headers
	// A client never steers routing: the cluster header is dropped
	// whatever the destination, and so is the cell header at the edge. In
	// the mesh (local set) the router of the service a request addresses
	// honours a cell header a Detour hop signed for this request (cell.go)
	// and drops any other; a request to another destination keeps it for
	// that destination's router (one check per request, not one per Detour
	// service on the proxy), and every Detour hop checks before honouring.
	cell := ""
	// One host call for every header the stream needs.
	hs := r.hs
	if hs == nil {
		hs = requestHeaders()
	}
	if _, err := hs.get(h.Cluster); err == nil {
		s.m.stripped.Increment(1)
		if err := proxywasm.RemoveHttpRequestHeader(h.Cluster); err != nil {
			r.p.internalError(err)
			return
		}
	}
	signed, hasCell := "", false
	if v, err := hs.get(h.Cell); err == nil {
		if s.cfg.Local != "" {
			signed, hasCell = v, true
		} else if !r.stripCell() {
			return
		}
	}
	auth, err := hs.get(":authority")
	r.authKnown, r.authMatch = true, err == nil && s.matches(auth)
	if !r.authMatch {
		return
	}
	if hasCell {
		region, ok := s.verifyCell(signed)
		if ok {
			cell = region
		} else if !r.stripCell() {
			return
		}
	}
	if err := s.refresh(); err != nil {
		r.p.internalError(err)
		return
	}
	// The clock is two host calls; the pick reads it only for a ramp.
	var now int64
	if s.rt.UsesClock(s.health) {
		now = nowMs()
	}
	var exclude uint64
	if cell != "" {
		exclude = s.outsideRegion(cell)
	}
	// A request Envoy will not retry avoids a target whose host fails
	// before Envoy ejects it (router.Suspects).
	var avoid uint64
	if sus := router.Suspects(s.health); sus != 0 {
		if m, err := hs.get(":method"); err == nil && !s.pol.MethodAllowed(m) {
			avoid = sus
		}
	}
	i := s.rt.PickAvoiding(s.health, now, r.p.random(partRouter), exclude, avoid)
	if i < 0 && exclude != 0 {
		i = s.rt.Pick(s.health, now, r.p.random(partRouter), 0)
	}
	if i < 0 {
		return
	}
	t := &s.cfg.Targets[i]
	// The header change alone makes Envoy re-select the route: for a
	// module of ABI 0.2.0 or 0.2.1 (the SDK's is 0.2.0), Envoy since 1.17 clears
	// the route cache on a request header change (envoy PR #14318; 1.33
	// stopped it only above 0.2.1, PR #36671). No clear_route_cache call:
	// it was one host call per request for nothing (TestModuleABI).
	if err := proxywasm.ReplaceHttpRequestHeader(h.Cluster, t.Cluster); err != nil {
		r.p.internalError(err)
		return
	}
	if cell == "" && !s.rt.Preferred(i) || s.health[i].Out {
		// Failed over: later hops stay in the region this request went to.
		if err := s.setCell(h.Cell, t.Region, now); err != nil {
			r.p.internalError(err)
			return
		}
	}
	if r.p.kind == kindCombined {
		s.m.targets[i].pending++ // the tick adds it (targetMetrics.pending)
	} else {
		s.m.targets[i].requests.Increment(1)
	}
	r.picked, r.pickedOK = i, true
}

// stripCell removes the cell header and counts it; false on a host error
// (logged), after which the request passes untouched.
func (r *routerStream) stripCell() bool {
	s := r.p.svc
	s.m.stripped.Increment(1)
	if err := proxywasm.RemoveHttpRequestHeader(s.cfg.Headers.Cell); err != nil {
		r.p.internalError(err)
		return false
	}
	return true
}

// outsideRegion is the mask of targets not in region (the cell a request
// was failed over to), or 0 when no healthy target is in it.
func (s *service) outsideRegion(region string) uint64 {
	var m uint64
	in := false
	for i, t := range s.cfg.Targets {
		if t.Region != region {
			m |= 1 << uint(i)
		} else if !s.health[i].Out {
			in = true
		}
	}
	if !in {
		return 0
	}
	return m
}

// --- outlier ------------------------------------------------------------------

type outlierStream struct {
	types.DefaultHttpContext
	p          *plugin
	observed   bool
	sawHeaders bool
	// grpcPending: a gRPC response whose status comes in the trailers, for
	// target (grpc.go).
	grpcPending bool
	target      int
	// routed: the target the combined stream's router part named in the
	// routing header (valid when routedOK).
	routed   int
	routedOK bool
}

// upstreamTarget is the target the router sent the request to, from
// xds.cluster_name; false when it is not one of the service's targets.
func (s *service) upstreamTarget() (int, bool) {
	b, err := getProperty("xds", "cluster_name")
	if err != nil || len(b) == 0 {
		return 0, false
	}
	return s.targetOf(unsafe.String(&b[0], len(b))) // a lookup: not kept
}

// lastResponse hands the response facts the outlier filter read to the
// retry filter of the same stream: Envoy runs a stream's encoder filters
// one after the other on one worker thread, and the compiled priorities put
// the outlier filter right before the retry filter, so the retry filter
// reads them instead of asking the host again. It clears them on use and
// asks the host when they are not there.
var lastResponse struct {
	valid       bool
	host        string
	code, flags int64
	target      int
	targetOK    bool
}

func (o *outlierStream) observe(reset, eos bool) {
	if o.observed {
		return
	}
	s := o.p.svc
	// With the response headers (not for a reset), one read gives the
	// status (response.code is :status, set from it by Envoy's router
	// and by local replies) and the gRPC headers.
	var hs headerPairs
	var code int64
	if !reset {
		hs = responseHeaders()
		code = statusOf(hs)
	}
	if code == 0 {
		code, _ = propertyInt("response", "code")
	}
	var i int
	var ok bool
	if o.routedOK && !s.cfg.Composed && code > 0 && code < 500 && fromUpstream(hs) {
		// An upstream's answer to a request the router part routed: it
		// came from the cluster the routing header names (the compiled
		// route matches on it). Failures, local replies and requests the
		// router left alone read xds.cluster_name, one host call less on
		// the healthy path.
		i, ok = o.routed, true
	} else {
		i, ok = s.upstreamTarget()
	}
	var flags int64
	if code == 0 || code >= 500 {
		// Only failures need the flags (local-origin, overflow).
		flags, _ = propertyInt("response", "flags")
	}
	grpc := -1
	if code == 200 && !reset && ok {
		grpc = o.grpcOf(hs, eos)
	}
	if !reset {
		lastResponse.valid, lastResponse.host, lastResponse.code, lastResponse.flags = true, s.cfg.Service.Host, code, flags
		lastResponse.target, lastResponse.targetOK = i, ok
	}
	if !ok {
		return
	}
	o.observed = true
	if !reset {
		s.observeLatency(o.p, i)
	}
	if o.grpcPending {
		o.target = i // counted when the trailers come (grpc.go)
		return
	}
	hf := outlier.HostFlags(uint64(flags), !reset && code >= 500 && fromUpstream(hs))
	oc := outlier.Classify(int(code), hf, reset)
	if grpc >= 0 {
		oc = outlier.ClassifyGrpc(int(code), hf, reset, grpc)
	}
	o.count(i, oc)
}

// fromUpstream: the response headers are an upstream's, which Envoy's
// router marks with x-envoy-upstream-service-time (Filter::onUpstreamHeaders
// in source/common/router/router.cc; its local replies do not carry it).
func fromUpstream(hs headerPairs) bool {
	_, err := hs.get("x-envoy-upstream-service-time")
	return err == nil
}

// statusOf is the :status of response headers, 0 when absent or not a
// number.
func statusOf(hs headerPairs) int64 {
	v, err := hs.get(":status")
	if err != nil || len(v) == 0 || len(v) > 3 {
		return 0
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0
		}
		n = n*10 + int64(v[i]-'0')
	}
	return n
}

func (o *outlierStream) OnHttpResponseHeaders(_ int, eos bool) types.Action {
	enter()
	defer o.p.exit()
	o.onResponseHeaders(eos)
	return types.ActionContinue
}

func (o *outlierStream) onResponseHeaders(eos bool) {
	o.sawHeaders = true
	o.observe(false, eos)
}

func (o *outlierStream) OnHttpStreamDone() {
	enter()
	defer o.p.exit()
	o.onStreamDone()
}

func (o *outlierStream) onStreamDone() {
	// A stream reset before response headers: the upstream never answered.
	if !o.sawHeaders {
		_, hasCode := propertyInt("response", "code")
		o.observe(!hasCode, true)
	}
	o.grpcDone()
}

// --- retry --------------------------------------------------------------------

type retryStream struct {
	types.DefaultHttpContext
	p       *plugin
	id      uint32
	watched bool // counted in the budget's active requests
	headers [][2]string
	body    []byte
	tooBig  bool
	tried   uint64
	tries   uint32
	cur     int // target of the attempt in flight
	slot    bool
	shed    bool // the budget refused a retry: answer with shedReply
	// authKnown, authMatch: the router part of a combined stream already
	// checked :authority.
	authKnown, authMatch bool
	hs                   headerPairs // the combined stream's read, if any
	// unsentOnly: the method is not in the route's retry methods, so only
	// an attempt that never reached a server (retry.Unsent) is retried, as
	// Envoy's connect-failure retries any method.
	unsentOnly bool
}

func (r *retryStream) OnHttpRequestHeaders(int, bool) types.Action {
	enter()
	defer r.p.exit()
	r.onRequestHeaders()
	return types.ActionContinue
}

func (r *retryStream) onRequestHeaders() {
	s := r.p.svc
	if s.pol.Attempts == 0 {
		return
	}
	hs := r.hs
	if hs == nil {
		hs = requestHeaders()
	}
	if !r.authKnown {
		auth, err := hs.get(":authority")
		r.authMatch = err == nil && s.matches(auth)
	}
	if !r.authMatch {
		return
	}
	m, err := hs.get(":method")
	if err != nil {
		return
	}
	r.unsentOnly = !s.pol.MethodAllowed(m)
	// The headers themselves are read only for a retry, from the
	// request.headers attribute, which outlives the request phase.
	r.cur = -1
	if err := s.countActive(1); err != nil {
		r.p.internalError(err)
		return
	}
	r.watched = true
}

func (r *retryStream) OnHttpRequestBody(size int, eos bool) types.Action {
	defer r.p.failOpen()
	if !r.watched || r.tooBig || size == 0 {
		return types.ActionContinue
	}
	if uint64(len(r.body))+uint64(size) > uint64(r.p.svc.pol.MaxBody) {
		r.tooBig, r.body = true, nil
		r.p.svc.m.bodyTooLarge.Increment(1)
		return types.ActionContinue
	}
	b, err := proxywasm.GetHttpRequestBody(0, size)
	if err != nil {
		r.p.internalError(err)
		r.tooBig = true
		return types.ActionContinue
	}
	r.body = append(r.body, b...)
	return types.ActionContinue
}

func (r *retryStream) OnHttpResponseHeaders(int, bool) (a types.Action) {
	a = types.ActionContinue // on a panic too
	enter()
	defer r.p.exit()
	return r.onResponseHeaders()
}

func (r *retryStream) onResponseHeaders() (a types.Action) {
	a = types.ActionContinue
	last := lastResponse
	lastResponse.valid = false
	if !r.watched || r.tooBig {
		return
	}
	s := r.p.svc
	if !last.valid || last.host != s.cfg.Service.Host {
		last.code, _ = propertyInt("response", "code")
		last.flags = 0
		if last.code == 0 || last.code >= 500 {
			last.flags, _ = propertyInt("response", "flags")
		}
		last.target, last.targetOK = s.upstreamTarget()
	}
	if !s.pol.Retriable(int(last.code), uint64(last.flags), false) {
		return
	}
	if r.unsentOnly && !retry.Unsent(uint64(last.flags)) {
		return
	}
	if last.targetOK {
		r.cur = last.target
	}
	if r.retry(retry.Unsent(uint64(last.flags))) {
		return types.ActionPause
	}
	if r.shed && r.shedReply(int(last.code)) {
		return types.ActionPause
	}
	return
}

// shedReply answers a request whose retry the budget refused with a local
// reply that says so (the failure's own 5xx status, else 503), so the
// client and the access log tell a shed request from a failed one; false
// when the reply could not be sent (the failure then passes).
func (r *retryStream) shedReply(code int) bool {
	if code < 500 || code > 599 {
		code = 503
	}
	s := r.p.svc
	target := "?"
	if r.cur >= 0 {
		target = s.cfg.Targets[r.cur].Cluster
	}
	body := "detour: the request failed on " + target + " and the retry budget is exhausted; not retried\n"
	hs := [][2]string{{config.HeaderShed, "retry-budget"}, {"content-type", "text/plain"}}
	if err := proxywasm.SendHttpResponse(uint32(code), hs, []byte(body), -1); err != nil {
		r.p.internalError(err)
		return false
	}
	return true
}

// retry sends the next attempt; false when none is sent (no target left,
// attempts or budget spent), in which case the current response passes.
// An unsent failure (retry.Unsent) is retried outside the budget.
func (r *retryStream) retry(unsent bool) bool {
	s := r.p.svc
	if r.cur >= 0 {
		r.tried |= 1 << uint(r.cur)
	}
	if r.tries >= s.pol.Attempts {
		return false
	}
	if err := s.refreshNow(); err != nil {
		r.p.internalError(err)
		return false
	}
	next := s.rt.Next(s.health, nowMs(), r.p.random(partRetry), r.tried)
	if next < 0 {
		return false
	}
	if r.headers == nil {
		hs, err := proxywasm.GetPropertyMap([]string{"request", "headers"})
		if err != nil || len(hs) == 0 {
			if err == nil {
				err = errors.New("request.headers is empty")
			}
			r.p.internalError(err)
			return false
		}
		r.headers = hs
	}
	// Before the budget: a gRPC request is never retried (grpc.go: a local
	// reply cannot carry a gRPC answer), so never shed either.
	if isGrpcRequest(r.headers) {
		return false
	}
	if !unsent {
		got := false
		active, err := s.totalActive()
		if err != nil {
			r.p.internalError(err)
			return false
		}
		if err := s.budget(func(b *budgetOp) {
			// Retries are upstream requests too (Envoy counts them active).
			b.Active = active + b.Retries
			got = s.pol.TryAcquire(&b.Budget)
		}); err != nil {
			r.p.internalError(err)
			return false
		}
		if !got {
			s.m.budgetExhausted.Increment(1)
			r.shed = true
			return false
		}
		r.slot = true
	}
	r.tries++
	r.cur = next
	hs := make([][2]string, 0, len(r.headers))
	for _, kv := range r.headers {
		if kv[0] == s.cfg.Headers.Cluster || kv[0] == "content-length" && len(r.body) == 0 {
			continue
		}
		hs = append(hs, kv)
	}
	hs = append(hs, [2]string{s.cfg.Headers.Cluster, s.cfg.Targets[next].Cluster})
	s.m.retries.Increment(1)
	_, err := proxywasm.DispatchHttpCall(s.cluster[next], hs, r.body, nil, s.pol.PerTryTimeout, r.answered)
	if err != nil {
		r.release()
		r.p.internalError(err)
		return false
	}
	return true
}

func (r *retryStream) release() {
	if !r.slot {
		return
	}
	r.slot = false
	if err := r.p.svc.budget(func(b *budgetOp) { b.Release() }); err != nil {
		r.p.internalError(err)
	}
}

// answered is the http_call callback: the attempt's outcome feeds the
// outlier detector, then either replaces the failed response, tries the
// next target, or lets the original failure pass.
func (r *retryStream) answered(numHeaders, bodySize, _ int) {
	defer r.p.failOpen()
	s := r.p.svc
	r.release()
	if err := proxywasm.SetEffectiveContext(r.id); err != nil {
		return // the stream is gone (client left); nothing to answer
	}
	status := 0
	var hs [][2]string
	if numHeaders > 0 {
		var err error
		hs, err = proxywasm.GetHttpCallResponseHeaders()
		if err != nil {
			r.p.internalError(err)
		}
		for _, kv := range hs {
			if kv[0] == ":status" {
				status, _ = strconv.Atoi(kv[1])
			}
		}
	}
	// The callout's own failures arrive as Envoy's local replies (503 for a
	// connect failure, 504 for the timeout); without response flags they
	// count as the status says, a reset as local-origin.
	oc := outlier.Classify(status, 0, status == 0)
	if err := s.observe(r.p, r.cur, oc); err != nil {
		r.p.internalError(err)
	}
	if s.pol.Retriable(status, 0, status == 0) && !r.unsentOnly {
		// An http_call's failure has no response flags: always budgeted,
		// and never known to be unsent.
		if r.retry(false) {
			return
		}
		s.m.retryFailure.Increment(1)
		if r.shed && r.shedReply(status) {
			return
		}
		r.resume()
		return
	}
	var body []byte
	if bodySize > 0 {
		b, err := proxywasm.GetHttpCallResponseBody(0, bodySize)
		if err != nil {
			r.p.internalError(err)
			r.resume()
			return
		}
		body = b
	}
	out := make([][2]string, 0, len(hs))
	for _, kv := range hs {
		if len(kv[0]) > 0 && kv[0][0] == ':' || kv[0] == "content-length" || kv[0] == "transfer-encoding" {
			continue
		}
		out = append(out, kv)
	}
	s.m.retrySuccess.Increment(1)
	if err := proxywasm.SendHttpResponse(uint32(status), out, body, -1); err != nil {
		r.p.internalError(err)
		r.resume()
	}
}

func (r *retryStream) resume() {
	if err := proxywasm.ResumeHttpResponse(); err != nil {
		r.p.internalError(err)
	}
}

func (r *retryStream) OnHttpStreamDone() {
	enter()
	defer r.p.exit()
	r.onStreamDone()
}

func (r *retryStream) onStreamDone() {
	r.release()
	if r.watched {
		r.watched = false
		if err := r.p.svc.countActive(-1); err != nil {
			r.p.internalError(err)
		}
	}
}
