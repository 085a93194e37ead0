package proxywasm

import (
	"strconv"
	"time"
)

// HTTPCallHandler is the cluster manager proxy_http_call talks to.
type HTTPCallHandler interface {
	// HasCluster reports whether the cluster manager knows the cluster.
	HasCluster(name string) bool
	// HTTPCall decides the outcome of an accepted call.
	HTTPCall(req *HTTPCallRequest) HTTPCallResult
}

// HTTPCallRequest is a dispatched call as the cluster would receive it.
type HTTPCallRequest struct {
	Cluster  string
	Headers  [][2]string
	Body     []byte
	Trailers [][2]string
	// Timeout 0 means none.
	Timeout time.Duration
	Token   uint32
	Worker  int
	Plugin  string
}

// Faults an http_call (or an upstream) can suffer.
const (
	FaultConnectFailure    = "connect_failure"
	FaultTimeout           = "timeout"
	FaultReset             = "reset"
	FaultNoHealthyUpstream = "no_healthy_upstream"
	FaultOverflow          = "overflow"
)

// HTTPCallResult is the response (after Delay), or a Fault.
type HTTPCallResult struct {
	Status   int
	Headers  [][2]string
	Body     []byte
	Trailers [][2]string
	Delay    time.Duration
	Fault    string
}

// HTTPCallRecord is an accepted call and what came back, for reports.
type HTTPCallRecord struct {
	At     string `json:"at"`
	Worker int    `json:"worker"`
	// Plugin is the calling plugin's name, or its root id when it has no
	// name (as Envoy's log prefix names whichever is set); RootID its root id.
	Plugin    string      `json:"plugin"`
	RootID    string      `json:"rootId"`
	Token     uint32      `json:"token"`
	Cluster   string      `json:"cluster"`
	Headers   [][2]string `json:"headers"`
	Body      string      `json:"body,omitempty"`
	TimeoutMs int64       `json:"timeoutMs"`
	// Outcome is the status delivered ("200", "504") or "reset".
	Outcome string `json:"outcome"`
}

type callResponse struct {
	headers, trailers *Headers
	body              []byte
}

// LocalReplyBody is the body Envoy's router or async client answers with
// for a fault, and the status code.
func FaultResponse(fault string) (int, string, bool) {
	switch fault {
	case FaultConnectFailure:
		return 503, "upstream connect error or disconnect/reset before headers. reset reason: connection failure", true
	case FaultNoHealthyUpstream:
		return 503, "no healthy upstream", true
	case FaultOverflow:
		return 503, "upstream connect error or disconnect/reset before headers. reset reason: overflow", true
	case FaultTimeout:
		return 504, "upstream request timeout", true
	}
	return 0, "", false
}

func localResponse(status int, body string) HTTPCallResult {
	return HTTPCallResult{Status: status, Body: []byte(body), Headers: [][2]string{
		{":status", strconv.Itoa(status)}, {"content-length", strconv.Itoa(len(body))}, {"content-type", "text/plain"},
	}}
}

func (vm *VM) httpCall(c *contextState, cluster string, hdrs [][2]string, body []byte, trailers [][2]string, timeoutMs uint32) (uint32, Status) {
	h := NewHeaders(hdrs)
	_, okPath := h.Get(":path")
	_, okMethod := h.Get(":method")
	_, okHost := h.Get(":authority")
	if !okPath || !okMethod || !okHost {
		return 0, StatusBadArgument
	}
	if vm.p.HTTPCalls == nil || !vm.p.HTTPCalls.HasCluster(cluster) {
		return 0, StatusBadArgument
	}
	if len(body) > 0 {
		h.Set("content-length", strconv.Itoa(len(body)))
	}
	root := c.root
	vm.nextCallout += 4
	token := vm.nextCallout
	req := &HTTPCallRequest{
		Cluster: cluster, Headers: h.Pairs(), Body: body, Trailers: trailers,
		Timeout: time.Duration(timeoutMs) * time.Millisecond, Token: token, Worker: vm.cfg.Worker, Plugin: root.cfg.label(),
	}
	res := vm.p.HTTPCalls.HTTPCall(req)
	delay := res.Delay
	switch {
	case res.Fault == FaultReset:
	case res.Fault == FaultTimeout || (req.Timeout > 0 && delay >= req.Timeout):
		if req.Timeout == 0 {
			res = HTTPCallResult{Fault: "hang"}
		} else {
			st, b, _ := FaultResponse(FaultTimeout)
			res = localResponse(st, b)
			delay = req.Timeout
		}
	case res.Fault != "":
		if st, b, ok := FaultResponse(res.Fault); ok {
			res = localResponse(st, b)
		}
	default:
		if res.Status == 0 {
			res.Status = 200
		}
		rh := NewHeaders(res.Headers)
		rh.Set(":status", strconv.Itoa(res.Status))
		// The cluster's response reaches the async client
		// (source/common/http/async_client_impl.cc) as the codec decoded
		// it: with content-length when the body length is known, as
		// httpsim's upstream responses carry it.
		if _, ok := rh.Get("content-length"); !ok && len(res.Body) > 0 {
			rh.Set("content-length", strconv.Itoa(len(res.Body)))
		}
		res.Headers = rh.Pairs()
	}
	outcome := res.Fault
	if outcome == "" {
		outcome = strconv.Itoa(res.Status)
	}
	vm.p.mu.Lock()
	vm.p.calls = append(vm.p.calls, HTTPCallRecord{
		At: vm.p.since(vm.p.Clock.Now()), Worker: vm.cfg.Worker, Plugin: root.cfg.label(), RootID: root.cfg.RootID, Token: token, Cluster: cluster,
		Headers: req.Headers, Body: string(body), TimeoutMs: int64(timeoutMs), Outcome: outcome,
	})
	vm.p.mu.Unlock()
	if res.Fault == "hang" {
		return token, StatusOK
	}
	vm.p.Clock.After(delay, func() { vm.deliverHTTPCall(root, token, res) })
	return token, StatusOK
}

// deliverHTTPCall calls on_http_call_response on the owning root context,
// whether or not the stream that dispatched it still exists.
func (vm *VM) deliverHTTPCall(root *Root, token uint32, res HTTPCallResult) {
	if vm.failed || root.done {
		return
	}
	var cr *callResponse
	if res.Fault == FaultReset {
		cr = &callResponse{}
		vm.status.code, vm.status.msg = uint32(StatusBrokenConnection), "reset"
	} else {
		cr = &callResponse{headers: NewHeaders(res.Headers), trailers: NewHeaders(res.Trailers), body: res.Body}
		vm.status.code, vm.status.msg = uint32(StatusOK), ""
	}
	vm.callResponse = cr
	vm.call("proxy_on_http_call_response", vm.fn.onHTTPCallResponse, root.id,
		uint64(root.id), uint64(token), uint64(cr.headers.Len()), uint64(len(cr.body)), uint64(cr.trailers.Len()))
	vm.callResponse = nil
}
