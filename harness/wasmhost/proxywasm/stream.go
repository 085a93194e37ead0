package proxywasm

import "github.com/tetratelabs/wazero/api"

// FilterStatus is the Envoy filter status a callback's return maps to
// (cpp-host convertVmCallResultTo*).
type FilterStatus int

const (
	Continue FilterStatus = iota
	StopIteration
	ContinueAndEndStream
	StopAllIterationAndBuffer
	StopAllIterationAndWatermark
	StopIterationAndBuffer
	StopIterationAndWatermark
	StopIterationNoBuffer
)

var filterStatusNames = [...]string{"Continue", "StopIteration", "ContinueAndEndStream", "StopAllIterationAndBuffer",
	"StopAllIterationAndWatermark", "StopIterationAndBuffer", "StopIterationAndWatermark", "StopIterationNoBuffer"}

func (s FilterStatus) String() string { return filterStatusNames[s] }

// Stops reports whether iteration stops at this filter.
func (s FilterStatus) Stops() bool { return s != Continue && s != ContinueAndEndStream }

func headersStatus(v uint64, allowStopIteration bool) FilterStatus {
	switch v {
	case 0:
		return Continue
	case 1:
		if allowStopIteration {
			return StopIteration
		}
		return StopAllIterationAndWatermark
	case 2:
		return ContinueAndEndStream
	case 3:
		return StopAllIterationAndBuffer
	}
	return StopAllIterationAndWatermark
}

func bodyStatus(v uint64) FilterStatus {
	switch v {
	case 0:
		return Continue
	case 1:
		return StopIterationAndBuffer
	case 2:
		return StopIterationAndWatermark
	}
	return StopIterationNoBuffer
}

func trailersStatus(v uint64) FilterStatus {
	if v == 0 {
		return Continue
	}
	return StopIteration
}

// Buffer is a body buffer the driver owns and a callback may rewrite.
type Buffer struct{ Data []byte }

// LocalReply is what send_local_response (or a failed VM) asks the stream
// to answer with.
type LocalReply struct {
	Status  int         `json:"status"`
	Details string      `json:"details"`
	Body    string      `json:"body,omitempty"`
	Headers [][2]string `json:"headers,omitempty"`
	// GrpcStatus is -1 when absent.
	GrpcStatus int `json:"grpcStatus"`
}

// StreamCallbacks is how the host hands deferred stream actions to the
// driver. They are called after the VM call that requested them returns,
// never during it.
type StreamCallbacks interface {
	ContinueStream(StreamType)
	SendLocalReply(LocalReply)
	ResetStream(details string)
	// ClearRouteCache makes the router re-select the route.
	ClearRouteCache()
}

// HTTPContext is one HTTP stream's context in one VM. Its maps and buffers
// follow Envoy's availability rules: request headers are readable during
// on_request_headers and while the request is paused, and gone once the
// filter continues.
type HTTPContext struct {
	vm               *VM
	root             *Root
	id               uint32
	cb               StreamCallbacks
	info             *StreamInfo
	policy           FailurePolicy
	allowHeadersStop bool

	created, destroyed bool
	deleted            bool

	reqHeaders, reqTrailers, respHeaders, respTrailers *Headers
	reqBody, respBody                                  *Buffer
	reqEOS, respEOS                                    bool
	addedTrailers                                      [2]*Headers
	logPhase                                           bool

	encoding       bool
	stopNext       bool
	localReplySent bool
	streamFailed   bool
}

// NewHTTPContext allocates a stream context id, as Envoy does when the
// filter is created for a stream; the guest sees it only on first use.
func (r *Root) NewHTTPContext(cb StreamCallbacks, info *StreamInfo, policy FailurePolicy) *HTTPContext {
	if info == nil {
		info = &StreamInfo{}
	}
	s := &HTTPContext{vm: r.vm, root: r, id: r.vm.newContextID(), cb: cb, info: info, policy: policy}
	return s
}

// ID is the stream context id.
func (s *HTTPContext) ID() uint32 { return s.id }

// Info is the stream's attributes.
func (s *HTTPContext) Info() *StreamInfo { return s.info }

// AllowOnHeadersStopIteration mirrors the filter's
// allow_on_headers_stop_iteration: Pause from a headers callback becomes
// StopIteration instead of StopAllIterationAndWatermark.
func (s *HTTPContext) AllowOnHeadersStopIteration(b bool) { s.allowHeadersStop = b }

// ensureCreated runs proxy_on_context_create lazily.
func (s *HTTPContext) ensureCreated() bool {
	if s.created {
		return true
	}
	if s.vm.failed {
		return false
	}
	s.created = true
	s.vm.contexts[s.id] = &contextState{id: s.id, root: s.root, stream: s}
	_, err := s.vm.call("proxy_on_context_create", s.vm.fn.onContextCreate, s.id, uint64(s.id), uint64(s.root.id))
	return err == nil
}

// checkFail is cpp-host's CHECK_FAIL: a failed VM is never called again;
// fail-open continues, otherwise the stream gets one 503 local reply.
func (s *HTTPContext) checkFail(stop FilterStatus) (FilterStatus, bool) {
	if !s.vm.failed {
		return 0, false
	}
	if s.policy == FailOpen {
		return Continue, true
	}
	if s.streamFailed && s.encoding {
		// Encoder callbacks are skipped once the failure reply was sent.
		return Continue, true
	}
	if !s.streamFailed && !s.localReplySent {
		s.streamFailed = true
		s.localReplySent = true
		s.cb.SendLocalReply(LocalReply{Status: 503, Details: "wasm_fail_stream", GrpcStatus: 14})
	}
	return stop, true
}

func (s *HTTPContext) invoke(name string, fn api.Function, conv func(uint64) FilterStatus, stop FilterStatus, args ...uint64) FilterStatus {
	if st, failed := s.checkFail(stop); failed {
		return st
	}
	if !s.ensureCreated() {
		st, _ := s.checkFail(stop)
		return st
	}
	s.stopNext = false
	res, err := s.vm.call(name, fn, s.id, args...)
	if err != nil {
		st, _ := s.checkFail(stop)
		return st
	}
	if s.stopNext {
		s.stopNext = false
		return stop
	}
	return conv(res)
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// OnRequestHeaders delivers decodeHeaders.
func (s *HTTPContext) OnRequestHeaders(h *Headers, eos bool) FilterStatus {
	s.reqHeaders, s.reqEOS = h, eos
	st := s.invoke("proxy_on_request_headers", s.vm.fn.onRequestHeaders, func(v uint64) FilterStatus { return headersStatus(v, s.allowHeadersStop) },
		StopAllIterationAndWatermark, uint64(s.id), uint64(h.Len()), b2u(eos))
	if st == Continue || st == ContinueAndEndStream {
		s.reqHeaders = nil
	}
	return st
}

// OnRequestBody delivers decodeData; body is the buffered body if the
// filter buffered earlier chunks.
func (s *HTTPContext) OnRequestBody(body *Buffer, eos bool) FilterStatus {
	if !s.created && !s.vm.failed {
		return Continue // only decodeHeaders creates the context
	}
	s.reqBody, s.reqEOS = body, eos
	s.addedTrailers[0] = nil
	st := s.invoke("proxy_on_request_body", s.vm.fn.onRequestBody, bodyStatus, StopIterationNoBuffer, uint64(s.id), uint64(len(body.Data)), b2u(eos))
	if st == Continue {
		s.reqBody = nil
	}
	return st
}

// OnRequestTrailers delivers decodeTrailers.
func (s *HTTPContext) OnRequestTrailers(t *Headers) FilterStatus {
	if !s.created && !s.vm.failed {
		return Continue // only decodeHeaders creates the context
	}
	s.reqTrailers = t
	st := s.invoke("proxy_on_request_trailers", s.vm.fn.onRequestTrailers, trailersStatus, StopIteration, uint64(s.id), uint64(t.Len()))
	if st == Continue {
		s.reqTrailers = nil
	}
	return st
}

// OnResponseHeaders delivers encodeHeaders. A context the request never
// reached is not created for the response (Envoy skips it).
func (s *HTTPContext) OnResponseHeaders(h *Headers, eos bool) FilterStatus {
	s.encoding = true
	if !s.created && !s.vm.failed {
		return Continue
	}
	s.respHeaders, s.respEOS = h, eos
	st := s.invoke("proxy_on_response_headers", s.vm.fn.onResponseHeaders, func(v uint64) FilterStatus { return headersStatus(v, s.allowHeadersStop) },
		StopAllIterationAndWatermark, uint64(s.id), uint64(h.Len()), b2u(eos))
	if st == Continue || st == ContinueAndEndStream {
		s.respHeaders = nil
	}
	return st
}

// OnResponseBody delivers encodeData.
func (s *HTTPContext) OnResponseBody(body *Buffer, eos bool) FilterStatus {
	s.encoding = true
	if !s.created && !s.vm.failed {
		return Continue
	}
	s.respBody, s.respEOS = body, eos
	s.addedTrailers[1] = nil
	st := s.invoke("proxy_on_response_body", s.vm.fn.onResponseBody, bodyStatus, StopIterationNoBuffer, uint64(s.id), uint64(len(body.Data)), b2u(eos))
	if st == Continue {
		s.respBody = nil
	}
	return st
}

// OnResponseTrailers delivers encodeTrailers.
func (s *HTTPContext) OnResponseTrailers(t *Headers) FilterStatus {
	s.encoding = true
	if !s.created && !s.vm.failed {
		return Continue
	}
	s.respTrailers = t
	st := s.invoke("proxy_on_response_trailers", s.vm.fn.onResponseTrailers, trailersStatus, StopIteration, uint64(s.id), uint64(t.Len()))
	if st == Continue {
		s.respTrailers = nil
	}
	return st
}

// AddedTrailers returns trailers a body callback added at end of stream
// (Envoy addDecodedTrailers/addEncodedTrailers), or nil.
func (s *HTTPContext) AddedTrailers(t StreamType) *Headers {
	if t == StreamRequest {
		return s.addedTrailers[0]
	}
	return s.addedTrailers[1]
}

// OnLog runs the access-log callback with read-only copies of the final
// maps. A stream that never reached the filter is created here first, as
// Envoy does for local-reply-only streams.
func (s *HTTPContext) OnLog(reqHeaders, respHeaders, respTrailers *Headers) {
	if s.vm.failed || s.destroyed {
		return
	}
	if !s.ensureCreated() {
		return
	}
	s.logPhase = true
	s.reqHeaders, s.respHeaders, s.respTrailers = reqHeaders, respHeaders, respTrailers
	s.reqBody, s.respBody, s.reqTrailers = nil, nil, nil
	s.vm.call("proxy_on_log", s.vm.fn.onLog, s.id, uint64(s.id))
	s.logPhase = false
	s.reqHeaders, s.respHeaders, s.respTrailers = nil, nil, nil
}

// OnDestroy runs on_done then on_delete (after on_log, Envoy's order).
func (s *HTTPContext) OnDestroy() {
	if s.destroyed || !s.created || s.vm.failed {
		s.destroyed = true
		return
	}
	s.destroyed = true
	s.vm.call("proxy_on_done", s.vm.fn.onDone, s.id, uint64(s.id))
	s.vm.call("proxy_on_delete", s.vm.fn.onDelete, s.id, uint64(s.id))
	delete(s.vm.contexts, s.id)
	s.deleted = true
}
