// Command plugin is a small third-party-style proxy-wasm filter used by the
// worked example in harness/wasmhost/example: it asks an auth cluster about every
// request (http_call), tags allowed requests, upper-cases the response
// body, and counts ticks. Build: GOOS=wasip1 GOARCH=wasm go build
// -buildmode=c-shared -o plugin.wasm ./harness/wasmhost/example/plugin
package main

import (
	"bytes"
	"encoding/json"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type config struct {
	AuthCluster string `json:"authCluster"`
	TickMillis  uint32 `json:"tickMillis"`
}

type pluginContext struct {
	types.DefaultPluginContext
	cfg   config
	ticks proxywasm.MetricCounter
}

func (p *pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	b, err := proxywasm.GetPluginConfiguration()
	if err == nil {
		err = json.Unmarshal(b, &p.cfg)
	}
	if err != nil || p.cfg.AuthCluster == "" {
		proxywasm.LogErrorf("bad configuration %q: %v (want {\"authCluster\": ...})", b, err)
		return types.OnPluginStartStatusFailed
	}
	p.ticks = proxywasm.DefineCounterMetric("example_ticks_total")
	if p.cfg.TickMillis > 0 {
		proxywasm.SetTickPeriodMilliSeconds(p.cfg.TickMillis)
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) OnTick() {
	p.ticks.Increment(1)
	proxywasm.LogDebug("tick")
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext { return &httpContext{p: p} }

type httpContext struct {
	types.DefaultHttpContext
	p *pluginContext
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	user, _ := proxywasm.GetHttpRequestHeader("x-user")
	_, err := proxywasm.DispatchHttpCall(h.p.cfg.AuthCluster, [][2]string{
		{":method", "GET"}, {":path", "/authz"}, {":authority", h.p.cfg.AuthCluster}, {"x-user", user},
	}, nil, nil, 500, h.onAuth)
	if err != nil {
		proxywasm.LogErrorf("auth call: %v", err)
		return types.ActionContinue
	}
	return types.ActionPause
}

func (h *httpContext) onAuth(_, _, _ int) {
	hs, _ := proxywasm.GetHttpCallResponseHeaders()
	status := ""
	for _, kv := range hs {
		if kv[0] == ":status" {
			status = kv[1]
		}
	}
	if status != "200" {
		proxywasm.LogInfof("denied: auth answered %s", status)
		proxywasm.SendHttpResponse(403, [][2]string{{"x-denied-by", "example"}}, []byte("denied\n"), -1)
		return
	}
	proxywasm.AddHttpRequestHeader("x-authorized", "yes")
	proxywasm.ResumeHttpRequest()
}

func (h *httpContext) OnHttpResponseHeaders(int, bool) types.Action {
	// The body is rewritten, so its length changes.
	proxywasm.RemoveHttpResponseHeader("content-length")
	proxywasm.AddHttpResponseHeader("x-example", "rewritten")
	return types.ActionContinue
}

func (h *httpContext) OnHttpResponseBody(size int, eos bool) types.Action {
	if !eos {
		return types.ActionPause // buffer until the whole body is there
	}
	b, err := proxywasm.GetHttpResponseBody(0, size)
	if err != nil {
		return types.ActionContinue
	}
	proxywasm.ReplaceHttpResponseBody(bytes.ToUpper(b))
	return types.ActionContinue
}
