// Package httpsim drives HTTP streams through an ordered chain of proxy-wasm
// filters, a router and a scripted upstream, the way Envoy's HTTP
// connection manager does: filters can pause and resume, answer locally,
// and steer routing by mutating request headers (the route is re-selected
// when a filter clears the route cache). Everything runs on the Process's
// virtual clock.
package httpsim

import (
	"math/rand/v2"
	"strconv"
	"time"

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

// Route is what the router selected for a request.
type Route struct {
	Name        string
	VirtualHost string
	// Cluster is the target cluster; ClusterHeader, if set, names a request
	// header holding it instead (Envoy's cluster_header).
	Cluster       string
	ClusterHeader string
	Metadata      pw.Metadata
	// Timeout is the route timeout (Envoy's default is 15s; 0 means none).
	Timeout time.Duration
	// Data is the Router's own route entry, handed back to an
	// AsyncUpstream in UpstreamRequest.Route.
	Data any
}

// Router selects a route from request headers; false means no route.
type Router func(h *pw.Headers) (Route, bool)

// UpstreamRequest is the request as the upstream receives it.
type UpstreamRequest struct {
	Cluster  string
	Headers  [][2]string
	Body     []byte
	Trailers [][2]string
	Worker   int
	// Route and Stream are set for an AsyncUpstream.
	Route  Route
	Stream *Stream
}

// UpstreamResponse is the upstream's answer after Delay, or a Fault
// (proxywasm.Fault*), which the router turns into Envoy's local replies.
type UpstreamResponse struct {
	Status   int
	Headers  [][2]string
	Body     []byte
	Trailers [][2]string
	Delay    time.Duration
	Fault    string
	// Address is the upstream host (upstream.address), e.g. 10.0.0.1:8080.
	Address      string
	HostMetadata pw.Metadata
	Locality     pw.Locality
}

// Upstream answers requests the router sends.
type Upstream func(req *UpstreamRequest) UpstreamResponse

// Gateway is a listener's HTTP filter chain plus router.
type Gateway struct {
	Process *pw.Process
	Filters []*pw.Plugin
	Router  Router
	// Clusters reports whether the cluster manager knows a cluster; nil
	// means every cluster exists.
	Clusters func(name string) bool
	Upstream Upstream
	// AsyncUpstream, if set, replaces Upstream: a router that answers
	// later (retries, timeouts) and may answer with a local reply.
	AsyncUpstream AsyncUpstream
	// OnComplete, if set, is called when a stream completes.
	OnComplete func(*Stream)

	nextConn uint64
	ids      *rand.Rand // request ids (envoyheaders.go)
}

// Request is a downstream request.
type Request struct {
	Headers [][2]string
	// Body chunks, delivered in order (the last with end_stream unless
	// trailers follow).
	Body     [][]byte
	Trailers [][2]string
	Worker   int
	// Upstream, if set, answers this request instead of the gateway's.
	Upstream Upstream
}

// Response is what the downstream client received.
type Response struct {
	Status   int         `json:"status"`
	Headers  [][2]string `json:"headers"`
	Body     string      `json:"body"`
	Trailers [][2]string `json:"trailers,omitempty"`
	// Details is Envoy's response code details (via_upstream, ...).
	Details string `json:"details"`
	// Flags are Envoy's response flags (UF, UH, ...).
	Flags []string `json:"flags,omitempty"`
	Reset bool     `json:"reset,omitempty"`
	At    string   `json:"at"`
}

// LocalReply is a filter's (or the router's) local reply.
type LocalReply struct {
	// Filter is the plugin name, or "router".
	Filter string `json:"filter"`
	pw.LocalReply
	At string `json:"at"`
}

// Sent is the request as the upstream received it.
type Sent struct {
	Cluster  string      `json:"cluster"`
	Route    string      `json:"route"`
	Headers  [][2]string `json:"headers"`
	Body     string      `json:"body,omitempty"`
	Trailers [][2]string `json:"trailers,omitempty"`
	At       string      `json:"at"`
}

// Stream is one request's progress; its fields are final once Complete.
type Stream struct {
	g        *Gateway
	upstream Upstream
	worker   int
	start    time.Time
	info     *pw.StreamInfo
	filters  []*filterState

	dec, enc *pipeline

	route        Route
	routeOK      bool
	routeDirty   bool
	RouteEvals   int
	upstreamSent bool
	upstreamAt   time.Time // when the router sent the request upstream

	pendingReply *LocalReply
	pendingReset string
	replySent    bool
	scheduled    bool
	grpc         bool // the downstream request is gRPC
	head         bool // the downstream request is a HEAD

	reqHeaders                *pw.Headers
	respHeaders, respTrailers *pw.Headers
	respBody                  []byte
	clientGotHeaders          bool

	// Results.
	Upstream     *Sent
	Response     *Response
	LocalReplies []LocalReply
	Complete     bool
	flags        uint64
}

type filterState struct {
	s   *Stream
	idx int
	pl  *pw.Plugin
	ctx *pw.HTTPContext
}

// Response flags (Envoy StreamInfo::CoreResponseFlag bits).
const (
	FlagUH  = 0x2
	FlagUT  = 0x4
	FlagUR  = 0x10
	FlagUF  = 0x20
	FlagUO  = 0x80
	FlagNR  = 0x100
	FlagURX = 0x8000
	FlagNC  = 0x1000000
)

var flagNames = []struct {
	bit  uint64
	name string
}{{FlagUH, "UH"}, {FlagUT, "UT"}, {FlagUR, "UR"}, {FlagUF, "UF"}, {FlagUO, "UO"}, {FlagNR, "NR"}, {FlagURX, "URX"}, {FlagNC, "NC"}}

func flagList(f uint64) []string {
	var out []string
	for _, n := range flagNames {
		if f&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// Info is the stream's attributes (what the filters' properties read).
func (s *Stream) Info() *pw.StreamInfo { return s.info }

func (s *Stream) since() string {
	return s.g.Process.Clock.Now().Sub(s.g.Process.Clock.Start()).String()
}

// Send starts a stream now; it progresses as the clock runs.
func (g *Gateway) Send(req Request) *Stream {
	clock := g.Process.Clock
	g.nextConn++
	s := &Stream{g: g, worker: req.Worker, start: clock.Now(), upstream: req.Upstream}
	if s.upstream == nil {
		s.upstream = g.Upstream
	}
	s.reqHeaders = pw.NewHeaders(req.Headers)
	g.addRequestHeaders(s.reqHeaders)
	s.grpc = isGrpcRequest(s.reqHeaders)
	s.head = first(s.reqHeaders, ":method") == "HEAD"
	s.info = &pw.StreamInfo{
		StartTime: s.start, Protocol: "HTTP/1.1", RequestHeaders: s.reqHeaders,
		ConnectionID: g.nextConn, SourceAddress: "10.0.0.100:40000", DestinationAddress: "10.0.0.1:8080",
	}
	// HCM selects the route before the filter chain runs.
	s.selectRoute()
	for i, pl := range g.Filters {
		fs := &filterState{s: s, idx: i, pl: pl}
		fs.ctx = pl.NewStream(req.Worker, fs, s.info)
		s.filters = append(s.filters, fs)
	}
	n := len(s.filters)
	s.dec = newPipeline(s, false, n)
	s.enc = newPipeline(s, true, n)
	eos := len(req.Body) == 0 && req.Trailers == nil
	s.dec.push(0, &frame{kind: frameHeaders, h: s.reqHeaders, eos: eos})
	for i, b := range req.Body {
		s.dec.push(0, &frame{kind: frameBody, body: append([]byte(nil), b...), eos: i == len(req.Body)-1 && req.Trailers == nil})
	}
	if req.Trailers != nil {
		s.dec.push(0, &frame{kind: frameTrailers, h: pw.NewHeaders(req.Trailers), eos: true})
	}
	s.schedule()
	return s
}

func (s *Stream) selectRoute() {
	s.RouteEvals++
	s.routeDirty = false
	if s.g.Router == nil {
		s.routeOK = false
		return
	}
	s.route, s.routeOK = s.g.Router(s.reqHeaders)
	s.info.HasRoute = s.routeOK
	s.info.RouteName = s.route.Name
	s.info.VirtualHostName = s.route.VirtualHost
	s.info.RouteMetadata = s.route.Metadata
}

// schedule posts one processing step at the current instant.
func (s *Stream) schedule() {
	if s.scheduled || s.Complete {
		return
	}
	s.scheduled = true
	s.g.Process.Clock.Post(func() {
		s.scheduled = false
		s.process()
	})
}

func (s *Stream) process() {
	for !s.Complete {
		if s.pendingReset != "" {
			s.reset(s.pendingReset)
			return
		}
		if s.pendingReply != nil {
			s.startLocalReply()
			continue
		}
		progressed := s.dec.pump() || s.enc.pump()
		if !progressed {
			return
		}
	}
}

// --- callbacks from the VMs (deferred actions) ------------------------------

func (f *filterState) ContinueStream(t pw.StreamType) {
	if t == pw.StreamRequest {
		f.s.dec.resume(f.s.dec.posOf(f.idx))
	} else {
		f.s.enc.resume(f.s.enc.posOf(f.idx))
	}
	f.s.schedule()
}

func (f *filterState) SendLocalReply(lr pw.LocalReply) {
	if f.s.pendingReply == nil && !f.s.Complete {
		f.s.pendingReply = &LocalReply{Filter: f.pl.Name(), LocalReply: lr, At: f.s.since()}
	}
	f.s.schedule()
}

func (f *filterState) ResetStream(details string) {
	f.s.pendingReset = details
	f.s.schedule()
}

func (f *filterState) ClearRouteCache() { f.s.routeDirty = true }

// --- the router ---------------------------------------------------------------

// routerReceive collects the request at the end of the decoder chain and
// sends it upstream at end of stream.
func (s *Stream) routerReceive(fr *frame) {
	switch fr.kind {
	case frameHeaders:
		s.reqHeaders = fr.h
	case frameBody:
		s.dec.sentBody = append(s.dec.sentBody, fr.body...)
	case frameTrailers:
		s.dec.sentTrailers = fr.h
	}
	if !fr.eos || s.upstreamSent {
		return
	}
	s.upstreamSent = true
	if s.routeDirty {
		s.selectRoute()
	}
	if !s.routeOK {
		s.routerReply(404, "route_not_found", FlagNR, "")
		return
	}
	cluster := s.route.Cluster
	if s.route.ClusterHeader != "" {
		cluster, _ = s.reqHeaders.Get(s.route.ClusterHeader)
	}
	if cluster == "" || (s.g.Clusters != nil && !s.g.Clusters(cluster)) {
		s.info.ClusterName = ""
		s.routerReply(503, "cluster_not_found", FlagNC, "")
		return
	}
	s.info.ClusterName = cluster
	req := &UpstreamRequest{Cluster: cluster, Headers: s.reqHeaders.Pairs(), Body: s.dec.sentBody, Worker: s.worker}
	if s.dec.sentTrailers != nil {
		req.Trailers = s.dec.sentTrailers.Pairs()
	}
	s.Upstream = &Sent{Cluster: cluster, Route: s.route.Name, Headers: req.Headers, Body: string(req.Body), Trailers: req.Trailers, At: s.since()}
	s.upstreamAt = s.g.Process.Clock.Now()
	if s.g.AsyncUpstream != nil {
		s.sendAsync(req)
		return
	}
	var resp UpstreamResponse
	if s.upstream != nil {
		resp = s.upstream(req)
	} else {
		resp = UpstreamResponse{Status: 200}
	}
	s.info.AttemptCount = 1
	delay := resp.Delay
	timeout := s.route.Timeout
	if timeout > 0 && (resp.Fault == pw.FaultTimeout || delay >= timeout) {
		resp.Fault = pw.FaultTimeout
		delay = timeout
	} else if resp.Fault == pw.FaultTimeout {
		return // no route timeout: the request hangs
	}
	sent := s.g.Process.Clock.Now()
	s.g.Process.Clock.After(delay, func() {
		if s.Complete || s.replySent {
			return
		}
		s.info.BackendLatency = s.g.Process.Clock.Now().Sub(sent)
		s.upstreamResponse(resp)
		s.schedule()
	})
}

func (s *Stream) upstreamResponse(resp UpstreamResponse) {
	if resp.Fault != pw.FaultConnectFailure && resp.Fault != pw.FaultNoHealthyUpstream && resp.Fault != pw.FaultOverflow {
		s.info.HasUpstream = true
		s.info.UpstreamAddress = resp.Address
		s.info.UpstreamHostMetadata = resp.HostMetadata
		s.info.UpstreamLocality = resp.Locality
	}
	switch resp.Fault {
	case pw.FaultConnectFailure:
		s.info.TransportFailureReason = "delayed connect error: 111"
		s.routerReply(503, "upstream_reset_before_response_started{connection_failure}", FlagUF, "upstream connect error or disconnect/reset before headers. reset reason: connection failure")
		return
	case pw.FaultNoHealthyUpstream:
		s.routerReply(503, "no_healthy_upstream", FlagUH, "no healthy upstream")
		return
	case pw.FaultOverflow:
		s.routerReply(503, "upstream_reset_before_response_started{overflow}", FlagUO, "upstream connect error or disconnect/reset before headers. reset reason: overflow")
		return
	case pw.FaultReset:
		s.routerReply(503, "upstream_reset_before_response_started{remote_reset}", FlagUR, "upstream connect error or disconnect/reset before headers. reset reason: remote reset")
		return
	case pw.FaultTimeout:
		s.routerReply(504, "upstream_response_timeout", FlagUT, "upstream request timeout")
		return
	}
	status := resp.Status
	if status == 0 {
		status = 200
	}
	h := pw.NewHeaders(resp.Headers)
	h.Set(":status", strconv.Itoa(status))
	if len(resp.Body) > 0 {
		if _, ok := h.Get("content-length"); !ok {
			h.Set("content-length", strconv.Itoa(len(resp.Body)))
		}
	}
	s.addUpstreamServiceTime(h)
	s.setResponseInfo(status, "via_upstream", 0, h)
	s.enc.push(0, &frame{kind: frameHeaders, h: h, eos: len(resp.Body) == 0 && resp.Trailers == nil})
	if len(resp.Body) > 0 {
		s.enc.push(0, &frame{kind: frameBody, body: append([]byte(nil), resp.Body...), eos: resp.Trailers == nil})
	}
	if resp.Trailers != nil {
		t := pw.NewHeaders(resp.Trailers)
		s.info.ResponseTrailers = t
		s.enc.push(0, &frame{kind: frameTrailers, h: t, eos: true})
	}
}

func (s *Stream) setResponseInfo(status int, details string, flags uint64, h *pw.Headers) {
	s.flags |= flags
	s.info.HasResponse = true
	s.info.ResponseCode = status
	s.info.ResponseCodeDetails = details
	s.info.ResponseFlags = s.flags
	s.info.ResponseHeaders = h
}

// routerReply is a local reply from the router: it runs through every
// encoder filter.
func (s *Stream) routerReply(status int, details string, flags uint64, body string) {
	s.flags |= flags
	s.pendingReply = &LocalReply{Filter: "router", LocalReply: pw.LocalReply{Status: status, Details: details, Body: body, GrpcStatus: -1}, At: s.since()}
	s.schedule()
}

// clientReceive collects the response at the end of the encoder chain.
func (s *Stream) clientReceive(fr *frame) {
	switch fr.kind {
	case frameHeaders:
		s.respHeaders = fr.h
		s.clientGotHeaders = true
	case frameBody:
		s.respBody = append(s.respBody, fr.body...)
	case frameTrailers:
		s.respTrailers = fr.h
	}
	if fr.eos {
		s.finish(false)
	}
}

func (s *Stream) reset(details string) {
	s.info.ResponseCodeDetails = details
	s.finish(true)
}

// finish records the response and tears the filters down: on_log for each
// filter, then on_done and on_delete (Envoy's order).
func (s *Stream) finish(reset bool) {
	if s.Complete {
		return
	}
	s.Complete = true
	s.dec.abort()
	s.enc.abort()
	now := s.g.Process.Clock.Now()
	s.info.Completed = true
	s.info.Duration = now.Sub(s.start)
	s.info.RequestSize = int64(len(s.dec.sentBody))
	s.info.ResponseSize = int64(len(s.respBody))
	r := &Response{Details: s.info.ResponseCodeDetails, Flags: flagList(s.flags), Reset: reset, At: s.since()}
	if !reset && s.respHeaders != nil {
		r.Status, _ = strconv.Atoi(first(s.respHeaders, ":status"))
		r.Headers = s.respHeaders.Pairs()
		r.Body = string(s.respBody)
		if s.respTrailers != nil {
			r.Trailers = s.respTrailers.Pairs()
		}
	}
	s.Response = r
	for _, f := range s.filters {
		if f.ctx != nil {
			f.ctx.OnLog(s.reqHeaders, s.respHeaders, s.respTrailers)
		}
	}
	for _, f := range s.filters {
		if f.ctx != nil {
			f.ctx.OnDestroy()
		}
	}
	if s.g.OnComplete != nil {
		s.g.OnComplete(s)
	}
}

func first(h *pw.Headers, k string) string {
	v, _ := h.Get(k)
	return v
}
