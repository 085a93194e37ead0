// Command hog is the harness's hostile plugin: it exhausts a resource
// where its configuration says, so tests can prove the harness's limits.
// The plugin configuration is "WHAT:WHERE": WHAT is loop (never returns)
// or alloc (allocates and touches memory until it fails); WHERE is
// configure, tick (a 1 ms tick; the first tick hogs) or request_headers.
// "tick" alone only ticks every millisecond, forever. The environment variable HOG=loop or HOG=alloc hogs in
// _initialize instead.
package main

import (
	"os"
	"strings"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	hog(os.Getenv("HOG"))
	proxywasm.SetVMContext(&vm{})
}

// sink keeps allocations reachable so the collector cannot free them.
var sink [][]byte

// spin is global so the loop has an observable effect and is not removed.
var spin uint64

func hog(what string) {
	switch what {
	case "loop":
		for {
			spin++
		}
	case "alloc":
		for {
			b := make([]byte, 4<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			sink = append(sink, b)
		}
	}
}

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

type plugin struct {
	types.DefaultPluginContext
	what, where string
	ticks       int
}

func (p *plugin) OnPluginStart(int) types.OnPluginStartStatus {
	cfg, err := proxywasm.GetPluginConfiguration()
	if err != nil {
		return types.OnPluginStartStatusFailed
	}
	p.what, p.where, _ = strings.Cut(strings.TrimSpace(string(cfg)), ":")
	if p.what == "tick" || p.where == "tick" {
		if err := proxywasm.SetTickPeriodMilliSeconds(1); err != nil {
			return types.OnPluginStartStatusFailed
		}
	}
	if p.where == "configure" {
		hog(p.what)
	}
	return types.OnPluginStartStatusOK
}

func (p *plugin) OnTick() {
	p.ticks++
	if p.where == "tick" {
		hog(p.what)
	}
}

func (p *plugin) NewHttpContext(uint32) types.HttpContext { return &stream{p: p} }

type stream struct {
	types.DefaultHttpContext
	p *plugin
}

func (s *stream) OnHttpRequestHeaders(int, bool) types.Action {
	if s.p.where == "request_headers" {
		hog(s.p.what)
	}
	return types.ActionContinue
}
