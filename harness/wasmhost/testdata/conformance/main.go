// Command conformance is the harness's conformance plugin: one module whose
// plugin configuration (first word) selects a behaviour, so one build and
// one VM per worker cover every host function the suite checks. Findings
// are logged as "key=value" lines the tests assert on.
package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// Raw imports for edge cases the SDK would turn into panics.
//
//go:wasmimport env proxy_increment_metric
func rawIncrementMetric(id uint32, delta int64) uint32

//go:wasmimport env proxy_get_metric
func rawGetMetric(id uint32, ret *uint64) uint32

//go:wasmimport env proxy_define_metric
func rawDefineMetric(typ uint32, name *byte, size int32, ret *uint32) uint32

//go:wasmimport env proxy_set_buffer_bytes
func rawSetBufferBytes(typ uint32, start, length int32, data *byte, size int32) uint32

//go:wasmimport env proxy_log
func rawLog(level uint32, msg *byte, size int32) uint32

//go:wasmimport env proxy_set_effective_context
func rawSetEffectiveContext(id uint32) uint32

//go:wasmimport env proxy_get_status
func rawGetStatus(code *uint32, msg unsafe.Pointer, size *int32) uint32

func main() {}

func init() { proxywasm.SetVMContext(&vm{}) }

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(id uint32) types.PluginContext { return &plugin{id: id} }

type plugin struct {
	types.DefaultPluginContext
	id      uint32
	mode    string
	args    []string
	queue   uint32
	streams []uint32
	counter proxywasm.MetricCounter
}

func logf(format string, a ...any) { proxywasm.LogInfof(format, a...) }

func errName(err error) string {
	if err == nil {
		return "ok"
	}
	return strings.TrimPrefix(err.Error(), "error status returned by host: ")
}

func (p *plugin) OnPluginStart(int) types.OnPluginStartStatus {
	cfg, err := proxywasm.GetPluginConfiguration()
	if err != nil {
		proxywasm.LogErrorf("no configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	f := strings.Fields(string(cfg))
	if len(f) == 0 {
		return types.OnPluginStartStatusFailed
	}
	p.mode, p.args = f[0], f[1:]
	vmc, err := proxywasm.GetVMConfiguration()
	logf("start mode=%s root_ctx=%d vm_config=%q vm_config_err=%s", p.mode, p.id, vmc, errName(err))
	switch p.mode {
	case "reject":
		return types.OnPluginStartStatusFailed
	case "tick":
		proxywasm.SetTickPeriodMilliSeconds(1000)
	case "queue":
		id, err := proxywasm.RegisterSharedQueue("events")
		again, _ := proxywasm.RegisterSharedQueue("events")
		_, errUnknown := proxywasm.ResolveSharedQueue("", "nope")
		resolved, errRes := proxywasm.ResolveSharedQueue("", "events")
		logf("queue id=%d err=%s again=%d resolve_unknown=%s resolved=%d/%s", id, errName(err), again, errName(errUnknown), resolved, errName(errRes))
		p.queue = id
	case "metrics":
		c := proxywasm.DefineCounterMetric("requests_total")
		g := proxywasm.DefineGaugeMetric("active")
		h := proxywasm.DefineHistogramMetric("latency_ms")
		c2 := proxywasm.DefineCounterMetric("requests_total")
		logf("metric ids counter=%d gauge=%d histogram=%d counter_again=%d", c, g, h, c2)
		p.counter = c
		var bad uint32
		name := "x"
		st := rawDefineMetric(3, &[]byte(name)[0], 1, &bad)
		logf("define type 3 status=%d", st)
		logf("increment counter by 0 status=%d by -1 status=%d", rawIncrementMetric(uint32(c), 0), rawIncrementMetric(uint32(c), -1))
		logf("increment histogram status=%d", rawIncrementMetric(uint32(h), 1))
		var v uint64
		logf("get histogram status=%d get unknown status=%d", rawGetMetric(uint32(h), &v), rawGetMetric(400, &v))
		c.Increment(2)
		g.Add(5)
		g.Add(-2)
		h.Record(7)
		h.Record(120)
		logf("counter=%d gauge=%d", c.Value(), g.Value())
	case "restricted-log":
		// A proxy_log with a level above critical is rejected.
		msg := "x"
		logf("log level 9 status=%d", rawLog(9, &[]byte(msg)[0], 1))
		logf("set effective context 999 status=%d", rawSetEffectiveContext(999))
	case "env":
		logf("env REGION=%q HOME=%q", os.Getenv("REGION"), os.Getenv("HOME"))
		logf("now=%s", time.Now().UTC().Format(time.RFC3339Nano))
	case "stdout":
		fmt.Println("hello from stdout")
		fmt.Fprintln(os.Stderr, "hello from stderr")
	case "done-later":
		proxywasm.SetTickPeriodMilliSeconds(1000)
	case "plugin-props":
		for _, path := range [][]string{{"plugin_name"}, {"plugin_root_id"}, {"plugin_vm_id"}, {"xds", "node", "id"}, {"request", "path"}} {
			v, err := proxywasm.GetProperty(path)
			logf("root property %s=%q err=%s", strings.Join(path, "."), v, errName(err))
		}
		logf("root set_property err=%s", errName(proxywasm.SetProperty([]string{"x"}, []byte("y"))))
	}
	return types.OnPluginStartStatusOK
}

func (p *plugin) OnPluginDone() bool {
	logf("plugin done mode=%s", p.mode)
	if p.mode == "done-later" {
		return false
	}
	return true
}

func (p *plugin) OnTick() {
	logf("tick now=%s streams=%d", time.Now().UTC().Format(time.RFC3339), len(p.streams))
	switch p.mode {
	case "tick":
		for _, id := range p.streams {
			if err := proxywasm.SetEffectiveContext(id); err != nil {
				logf("set effective %d err=%s", id, errName(err))
				continue
			}
			err := proxywasm.AddHttpRequestHeader("x-resumed-by", "tick")
			logf("tick add header err=%s", errName(err))
			proxywasm.ResumeHttpRequest()
		}
		p.streams = nil
	case "done-later":
		proxywasm.PluginDone()
	}
}

func (p *plugin) OnQueueReady(id uint32) {
	for {
		v, err := proxywasm.DequeueSharedQueue(id)
		if err != nil {
			logf("queue ready id=%d drained err=%s", id, errName(err))
			return
		}
		logf("queue ready id=%d item=%s", id, v)
	}
}

func (p *plugin) NewHttpContext(id uint32) types.HttpContext {
	if p.mode == "noop" {
		return &types.DefaultHttpContext{}
	}
	return &stream{id: id, p: p}
}

type stream struct {
	types.DefaultHttpContext
	id      uint32
	p       *plugin
	reqHdrs [][2]string
}

func (s *stream) arg(i int, def string) string {
	if i < len(s.p.args) {
		return s.p.args[i]
	}
	return def
}

func (s *stream) OnHttpRequestHeaders(n int, eos bool) types.Action {
	p := s.p
	logf("request headers ctx=%d n=%d eos=%t", s.id, n, eos)
	if v, _ := proxywasm.GetHttpRequestHeader("x-trap"); v != "" {
		panic("trap requested: " + v)
	}
	switch p.mode {
	case "hello":
		proxywasm.AddHttpRequestHeader("x-hello", "world")
		proxywasm.LogDebugf("hello debug ctx=%d", s.id)
	case "headers":
		dup, err := proxywasm.GetHttpRequestHeader("x-dup")
		logf("get x-dup=%q err=%s", dup, errName(err))
		_, err = proxywasm.GetHttpRequestHeader("x-missing")
		logf("get missing err=%s", errName(err))
		proxywasm.AddHttpRequestHeader("X-Added", "A")
		proxywasm.AddHttpRequestHeader("x-added", "B")
		proxywasm.ReplaceHttpRequestHeader("X-Replaced", "r")
		proxywasm.RemoveHttpRequestHeader("x-remove-me")
		hs, _ := proxywasm.GetHttpRequestHeaders()
		logf("pairs=%v", hs)
		_, err = proxywasm.GetHttpResponseHeader(":status")
		logf("response header during request err=%s", errName(err))
	case "set-pairs":
		proxywasm.ReplaceHttpRequestHeaders([][2]string{{":method", "GET"}, {":path", "/rewritten"}, {":authority", "svc"}, {"X-New", "1"}})
	case "route":
		proxywasm.ReplaceHttpRequestHeader("x-target", s.arg(0, "backup"))
		cn, err := proxywasm.GetProperty([]string{"xds", "cluster_name"})
		logf("request cluster_name=%q err=%s", cn, errName(err))
	case "pause", "tick":
		p.streams = append(p.streams, s.id)
		return types.ActionPause
	case "continue-in-call":
		// continue_stream inside the same callback that returns Pause is
		// deferred and runs right after the return.
		proxywasm.ResumeHttpRequest()
		return types.ActionPause
	case "local-reply":
		// An optional argument is the gRPC status the reply carries.
		grpcStatus := int32(-1)
		if v, err := strconv.Atoi(s.arg(0, "")); err == nil {
			grpcStatus = int32(v)
		}
		err := proxywasm.SendHttpResponse(403, [][2]string{{"X-Reason", "denied"}}, []byte("forbidden by plugin"), grpcStatus)
		logf("send local reply err=%s", errName(err))
		// Continue is overridden: a local reply forces stop.
		return types.ActionContinue
	case "httpcall":
		return s.dispatch()
	case "httpcall-bad":
		_, err := proxywasm.DispatchHttpCall("no-such-cluster", [][2]string{{":method", "GET"}, {":path", "/"}, {":authority", "x"}}, nil, nil, 100, func(int, int, int) {})
		logf("unknown cluster err=%s", errName(err))
		_, err = proxywasm.DispatchHttpCall(s.arg(0, "auth"), [][2]string{{":method", "GET"}, {":authority", "x"}}, nil, nil, 100, func(int, int, int) {})
		logf("missing path err=%s", errName(err))
	case "httpcall-detached":
		// The stream continues at once; the response arrives after the
		// stream is gone and must still reach the root context.
		id, err := proxywasm.DispatchHttpCall(s.arg(0, "auth"), [][2]string{{":method", "GET"}, {":path", "/slow"}, {":authority", "auth"}}, nil, nil, 0,
			func(int, int, int) { logf("detached callback ran for ctx=%d", s.id) })
		logf("dispatched token=%d err=%s", id, errName(err))
	case "shared":
		return s.shared()
	case "queue":
		err := proxywasm.EnqueueSharedQueue(p.queue, []byte(fmt.Sprintf("from-%d", s.id)))
		logf("enqueued err=%s", errName(err))
		_, err = proxywasm.DequeueSharedQueue(9999)
		logf("dequeue unknown err=%s", errName(err))
	case "metrics":
		p.counter.Increment(1)
	case "produce":
		// Enqueue onto another VM's queue: produce VM_ID QUEUE.
		id, err := proxywasm.ResolveSharedQueue(s.arg(0, "consumer"), s.arg(1, "events"))
		if err == nil {
			path, _ := proxywasm.GetHttpRequestHeader(":path")
			err = proxywasm.EnqueueSharedQueue(id, []byte(path))
		}
		logf("produced to %s/%s err=%s", s.arg(0, "consumer"), s.arg(1, "events"), errName(err))
	case "route-metadata":
		v, err := proxywasm.GetProperty([]string{"xds", "route_metadata", "filter_metadata", s.arg(0, "detour"), s.arg(1, "tier")})
		logf("route metadata %s.%s=%q err=%s", s.arg(0, "detour"), s.arg(1, "tier"), v, errName(err))
		n, err := proxywasm.GetProperty([]string{"xds", "route_name"})
		logf("route name=%q err=%s", n, errName(err))
	case "tagged-metrics":
		// The SDK's metrics example: tags encoded in the name, for the
		// proxy's stats_tags to extract.
		v, _ := proxywasm.GetHttpRequestHeader("my-custom-header")
		proxywasm.DefineCounterMetric("custom_header_value_counts_value=" + v + "_reporter=wasmgosdk").Increment(1)
		proxywasm.DefineCounterMetric("backend_rq_503").Increment(1)
	case "properties":
		s.properties("request")
		err := proxywasm.SetProperty([]string{"my_key"}, []byte("my_value"))
		v, err2 := proxywasm.GetProperty([]string{"my_key"})
		logf("set_property err=%s get back=%q err=%s", errName(err), v, errName(err2))
		err = proxywasm.SetProperty([]string{"cluster_name"}, []byte("evil"))
		v, err2 = proxywasm.GetProperty([]string{"cluster_name"})
		logf("set cluster_name err=%s top-level cluster_name=%q err=%s", errName(err), v, errName(err2))
	case "foreign":
		c, err := proxywasm.CallForeignFunction("compress", []byte("hello hello hello hello"))
		u, err2 := proxywasm.CallForeignFunction("uncompress", c)
		logf("compress err=%s uncompress=%q err=%s", errName(err), u, errName(err2))
		logf("compressed=%x", c)
		_, err = proxywasm.CallForeignFunction("no_such_function", nil)
		logf("unknown foreign err=%s", errName(err))
		proxywasm.ReplaceHttpRequestHeader("x-target", "backup")
		_, err = proxywasm.CallForeignFunction("clear_route_cache", nil)
		logf("clear_route_cache err=%s", errName(err))
	case "retry-on-5xx":
		// Request headers are gone after Continue: keep a copy for a retry.
		s.reqHdrs, _ = proxywasm.GetHttpRequestHeaders()
	case "random":
		b := make([]byte, 8)
		proxywasm.LogInfof("random ok")
		_ = b
	}
	return types.ActionContinue
}

func (s *stream) dispatch() types.Action {
	cluster := s.arg(0, "auth")
	timeout, _ := strconv.Atoi(s.arg(1, "1000"))
	hs, _ := proxywasm.GetHttpRequestHeaders()
	s.reqHdrs = hs
	token, err := proxywasm.DispatchHttpCall(cluster, [][2]string{{":method", "POST"}, {":path", "/check"}, {":authority", cluster}, {"x-from", strconv.Itoa(int(s.id))}},
		[]byte("check-body"), nil, uint32(timeout), s.onCall)
	logf("dispatched token=%d err=%s", token, errName(err))
	if err != nil {
		return types.ActionContinue
	}
	return types.ActionPause
}

func (s *stream) onCall(nh, bodySize, nt int) {
	hs, err := proxywasm.GetHttpCallResponseHeaders()
	body, _ := proxywasm.GetHttpCallResponseBody(0, bodySize)
	status, clen := "", "<none>"
	for _, h := range hs {
		switch h[0] {
		case ":status":
			status = h[1]
		case "content-length":
			clen = h[1]
		}
	}
	logf("call content-length=%s", clen)
	logf("call response ctx=%d headers=%d status=%q body=%q trailers=%d err=%s", s.id, nh, status, body, nt, errName(err))
	// Request headers are still readable: the request is paused.
	_, err = proxywasm.GetHttpRequestHeader(":path")
	logf("request header while paused err=%s", errName(err))
	switch {
	case nh == 0:
		var code uint32
		var msg *byte
		var size int32
		st := rawGetStatus(&code, unsafe.Pointer(&msg), &size)
		text := ""
		if msg != nil {
			text = string(unsafe.Slice(msg, size))
		}
		logf("get_status=%d code=%d message=%q", st, code, text)
		proxywasm.SendHttpResponse(502, nil, []byte("auth reset"), -1)
	case status == "200":
		proxywasm.AddHttpRequestHeader("x-auth", "ok")
		proxywasm.ResumeHttpRequest()
	default:
		proxywasm.SendHttpResponse(403, [][2]string{{"x-auth-status", status}}, []byte("denied"), -1)
	}
}

func (s *stream) shared() types.Action {
	const key = "hits"
	for i := 0; i < 10; i++ {
		v, cas, err := proxywasm.GetSharedData(key)
		n := uint64(0)
		if err == nil && len(v) == 8 {
			n = binary.LittleEndian.Uint64(v)
		}
		buf := binary.LittleEndian.AppendUint64(nil, n+1)
		if err := proxywasm.SetSharedData(key, buf, cas); err == nil {
			logf("shared hits=%d cas_was=%d", n+1, cas)
			break
		} else {
			logf("shared cas retry err=%s", errName(err))
		}
	}
	if s.arg(0, "") == "cas-rules" {
		_, _, err := proxywasm.GetSharedData("absent")
		logf("get absent err=%s", errName(err))
		logf("set new with cas 42 err=%s", errName(proxywasm.SetSharedData("fresh", []byte("a"), 42)))
		_, cas, _ := proxywasm.GetSharedData("fresh")
		logf("stale cas err=%s", errName(proxywasm.SetSharedData("fresh", []byte("b"), cas+1000)))
		logf("cas 0 overwrite err=%s", errName(proxywasm.SetSharedData("fresh", []byte("c"), 0)))
		v, cas2, _ := proxywasm.GetSharedData("fresh")
		logf("fresh=%s cas_changed=%t", v, cas2 != cas)
	}
	return types.ActionContinue
}

func (s *stream) properties(phase string) {
	paths := [][]string{
		{"plugin_name"}, {"plugin_root_id"}, {"plugin_vm_id"},
		{"request", "path"}, {"request", "method"}, {"request", "host"}, {"request", "headers", "x-dup"}, {"request", "id"},
		{"response", "code"}, {"response", "code_details"}, {"response", "flags"},
		{"upstream", "address"}, {"upstream", "request_attempt_count"},
		{"xds", "cluster_name"}, {"xds", "route_name"}, {"xds", "upstream_host_metadata", "filter_metadata", "istio", "workload"},
		{"xds", "node", "id"}, {"upstream", "locality", "region"},
		{"cluster_name"}, {"route_name"}, {"node"},
	}
	for _, path := range paths {
		v, err := proxywasm.GetProperty(path)
		logf("%s property %s=%s err=%s", phase, strings.Join(path, "."), render(path, v), errName(err))
	}
}

func render(path []string, v []byte) string {
	last := path[len(path)-1]
	switch last {
	case "code", "flags", "request_attempt_count":
		if len(v) == 8 {
			return strconv.FormatUint(binary.LittleEndian.Uint64(v), 10)
		}
	}
	return strconv.Quote(string(v))
}

func (s *stream) OnHttpRequestBody(size int, eos bool) types.Action {
	switch s.p.mode {
	case "body":
		logf("request body size=%d eos=%t", size, eos)
		if !eos {
			// Trailers can be added from the last body callback only.
			logf("early trailer err=%s", errName(proxywasm.AddHttpRequestTrailer("x-early", "1")))
			return types.ActionPause // buffer until the whole body is here
		}
		b, err := proxywasm.GetHttpRequestBody(0, size)
		logf("whole body=%q err=%s", b, errName(err))
		_, err = proxywasm.GetHttpRequestBody(size+10, 5)
		logf("read past end err=%s", errName(err))
		err = proxywasm.ReplaceHttpRequestBody([]byte("REPLACED:" + string(b)))
		logf("replace err=%s", errName(err))
		err = proxywasm.PrependHttpRequestBody([]byte("<"))
		logf("prepend err=%s", errName(err))
		err = proxywasm.AppendHttpRequestBody([]byte(">"))
		logf("append err=%s", errName(err))
		d := []byte("xy")
		logf("partial replace status=%d", rawSetBufferBytes(0, 0, 3, &d[0], 2))
		logf("middle write status=%d", rawSetBufferBytes(0, 1, 1, &d[0], 2))
		_, err = proxywasm.GetHttpResponseBody(0, 1)
		logf("response body during request err=%s", errName(err))
		if err := proxywasm.AddHttpRequestTrailer("x-trailer", "added"); err != nil {
			logf("add trailer err=%s", errName(err))
		}
	}
	return types.ActionContinue
}

func (s *stream) OnHttpResponseHeaders(n int, eos bool) types.Action {
	logf("response headers ctx=%d n=%d", s.id, n)
	st, _ := proxywasm.GetHttpResponseHeader(":status")
	logf("response status=%s", st)
	_, err := proxywasm.GetHttpRequestHeader(":path")
	logf("request header after continue err=%s", errName(err))
	switch s.p.mode {
	case "hello":
		proxywasm.AddHttpResponseHeader("x-hello-response", "world")
	case "properties":
		s.properties("response")
	case "trap-response":
		panic("trap in response")
	case "retry-on-5xx":
		if code, _ := strconv.Atoi(st); code >= 500 {
			backup := s.arg(0, "backup")
			_, err := proxywasm.DispatchHttpCall(backup, s.reqHdrs, nil, nil, 1000, func(_, bodySize, _ int) {
				hs, _ := proxywasm.GetHttpCallResponseHeaders()
				body, _ := proxywasm.GetHttpCallResponseBody(0, bodySize)
				status := 502
				for _, h := range hs {
					if h[0] == ":status" {
						status, _ = strconv.Atoi(h[1])
					}
				}
				logf("retried on %s: status=%d", backup, status)
				proxywasm.SendHttpResponse(uint32(status), [][2]string{{"x-failover", backup}}, body, -1)
			})
			logf("retry dispatch err=%s", errName(err))
			if err == nil {
				return types.ActionPause
			}
		}
	case "response-local-reply":
		if st != "200" {
			proxywasm.SendHttpResponse(200, [][2]string{{"x-replaced", "1"}}, []byte("replacement"), -1)
			return types.ActionContinue
		}
	}
	return types.ActionContinue
}

func (s *stream) OnHttpResponseBody(size int, eos bool) types.Action {
	if s.p.mode == "late-local-reply" {
		// Hold the body on an HTTP call; its answer comes after the
		// response headers reached the client, and replies locally.
		cluster := s.arg(0, "auth")
		_, err := proxywasm.DispatchHttpCall(cluster, [][2]string{{":method", "GET"}, {":path", "/late"}, {":authority", cluster}}, nil, nil, 1000,
			func(int, int, int) {
				logf("late local reply err=%s", errName(proxywasm.SendHttpResponse(500, nil, []byte("too late"), -1)))
			})
		if err == nil {
			return types.ActionPause
		}
	}
	if s.p.mode == "body" {
		b, _ := proxywasm.GetHttpResponseBody(0, size)
		logf("response body=%q eos=%t", b, eos)
		proxywasm.AppendHttpResponseBody([]byte(" [filtered]"))
	}
	return types.ActionContinue
}

func (s *stream) OnHttpStreamDone() {
	_, err := proxywasm.GetHttpRequestHeader(":path")
	v, _ := proxywasm.GetHttpResponseHeader(":status")
	logf("stream done ctx=%d request header in log err=%s status=%s", s.id, errName(err), v)
	_, err = proxywasm.GetHttpRequestHeader("x-not-there")
	logf("missing header in log err=%s", errName(err))
	err = proxywasm.AddHttpResponseHeader("x-late", "1")
	logf("write in log err=%s", errName(err))
}

var _ = math.MaxInt32
