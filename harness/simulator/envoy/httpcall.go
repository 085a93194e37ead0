package envoy

import (
	"github.com/detour-mesh/detour/harness/simulator/envoy/internal/outlier"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

// HTTPCall implements proxywasm.HTTPCallHandler: a Wasm filter's
// dispatch_http_call goes through the cluster's load balancer, circuit
// breakers and outlier detection, without router retries (Envoy's
// source/extensions/common/wasm/context.cc Context::httpCall sends through
// the cluster's AsyncClient with no retry policy).
func (p *Proxy) HTTPCall(req *pw.HTTPCallRequest) pw.HTTPCallResult {
	cl := p.clusters[req.Cluster]
	if cl == nil {
		return pw.HTTPCallResult{Fault: pw.FaultNoHealthyUpstream}
	}
	h := cl.chooseHost(nil)
	if h == nil {
		p.counters.NoHealthyUpstream++
		return pw.HTTPCallResult{Fault: pw.FaultNoHealthyUpstream}
	}
	if uint64(cl.active) >= cl.maxRequests {
		p.counters.Overflow++
		return pw.HTTPCallResult{Fault: pw.FaultOverflow}
	}
	cl.active++
	h.active++
	res := p.cfg.Network.Send(p.clock.Now(), &Attempt{Proxy: p.cfg.Name, Cluster: cl.name, Address: h.addr,
		Metadata: h.meta, Headers: req.Headers, Body: req.Body, Number: 1})
	var out pw.HTTPCallResult
	var delay = res.Latency
	var od func()
	switch res.Outcome {
	case OutcomeResponse, "":
		st := res.Status
		if st == 0 {
			st = 200
		}
		out = pw.HTTPCallResult{Status: st, Headers: res.Headers, Body: res.Body, Delay: delay}
		od = func() { cl.putCode(h, st) }
	case OutcomeConnectFailure, OutcomeHandshakeFailure:
		// A close during the TLS handshake is a pool failure like a
		// refused connect (see OutcomeHandshakeFailure): the call's router,
		// with no retry policy, answers its 503 at once, not at the
		// call's timeout (source/common/http/async_client_impl.cc runs the
		// router filter; router.cc onUpstreamReset sends the local reply).
		out = pw.HTTPCallResult{Fault: pw.FaultConnectFailure, Delay: delay}
		od = func() { cl.putResult(h, outlier.LocalOriginConnectFailed, 0) }
	case OutcomeConnectTimeout:
		delay = cl.connectTimeout
		out = pw.HTTPCallResult{Fault: pw.FaultConnectFailure, Delay: delay}
		od = func() { cl.putResult(h, outlier.LocalOriginConnectFailed, 0) }
	case OutcomeReset:
		out = pw.HTTPCallResult{Fault: pw.FaultReset, Delay: delay}
		od = func() { cl.putResult(h, outlier.LocalOriginConnectFailed, 0) }
	case OutcomeHang: // only the call's own timeout ends it
		out = pw.HTTPCallResult{Fault: pw.FaultTimeout}
		if req.Timeout == 0 {
			return out // the request slot stays taken, as a hung stream's would
		}
		delay = req.Timeout
		od = func() { cl.putResult(h, outlier.LocalOriginTimeout, 504) }
	default:
		// A Network bug (an outcome this switch does not know) must show
		// as a failure, not pass as a hang, as in the router's dispatch.
		out = pw.HTTPCallResult{Fault: pw.FaultConnectFailure, Delay: delay}
		od = func() { cl.putResult(h, outlier.LocalOriginConnectFailed, 0) }
	}
	// At delay == timeout the host (proxywasm's httpcall.go) already
	// reports a timeout: outlier detection must see the same.
	if req.Timeout > 0 && delay >= req.Timeout && res.Outcome != OutcomeHang {
		delay = req.Timeout
		od = func() { cl.putResult(h, outlier.LocalOriginTimeout, 504) }
	}
	p.clock.After(delay, func() {
		cl.release(h)
		od()
	})
	return out
}

func (cl *cluster) putCode(h *host, code int) {
	if cl.od != nil {
		cl.od.PutHTTPResponseCode(h.od, code)
	}
}

func (cl *cluster) putResult(h *host, r outlier.Result, code int) {
	if cl.od != nil {
		cl.od.PutResult(h.od, r, code)
	}
}

var _ pw.HTTPCallHandler = (*Proxy)(nil)
