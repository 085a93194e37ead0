package httpsim_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
	"github.com/detour-mesh/detour/harness/wasmhost/plugintest"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

var (
	engine *pw.Engine
	module *pw.Module
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	var err error
	engine, err = pw.NewEngine(ctx, pw.EngineConfig{})
	if err == nil {
		module, err = engine.Compile(ctx, plugintest.MustRead("conformance"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

type filter struct {
	name, config string
	policy       pw.FailurePolicy
	compat       pw.Compat
	vmConfig     string
	vmID         string // the filter name if empty
	noRootID     bool   // root id empty instead of the filter name
	env          [][2]string
}

type env struct {
	t       testing.TB
	p       *pw.Process
	g       *httpsim.Gateway
	plugins []*pw.Plugin
	trace   []string
	calls   map[string]pw.HTTPCallResult
}

func (e *env) HasCluster(name string) bool { _, ok := e.calls[name]; return ok }
func (e *env) HTTPCall(req *pw.HTTPCallRequest) pw.HTTPCallResult {
	return e.calls[req.Cluster]
}

// newEnv starts the filters on workers VMs each, routes on x-target
// (default cluster "primary") and answers 200 "ok" from the upstream.
func newEnv(t testing.TB, workers int, filters ...filter) *env {
	t.Helper()
	e := &env{t: t, p: pw.NewProcess(nil), calls: map[string]pw.HTTPCallResult{}}
	e.p.LogLevel = pw.LogDebug
	e.p.HTTPCalls = e
	e.p.Node = pw.Node{ID: "gw-1", Cluster: "ingress", Region: "eu-west-1"}
	e.p.Trace = func(vmID string, w int, cb string, id uint32) {
		e.trace = append(e.trace, fmt.Sprintf("%s:%d:%s:%d", vmID, w, cb, id))
	}
	for _, f := range filters {
		if f.vmID == "" {
			f.vmID = f.name
		}
		pl, err := e.p.StartPlugin(context.Background(), pw.PluginSpec{
			Engine: engine, Module: module, Workers: workers, FailurePolicy: f.policy,
			VM:     pw.VMConfig{VMID: f.vmID, Configuration: []byte(f.vmConfig), Env: f.env, Compat: f.compat, Seed: 1},
			Plugin: pw.PluginConfig{Name: f.name, RootID: f.rootID(), Configuration: []byte(f.config)},
		})
		require.NoError(t, err)
		e.plugins = append(e.plugins, pl)
		t.Cleanup(pl.Close)
	}
	e.g = &httpsim.Gateway{
		Process: e.p, Filters: e.plugins,
		Router: func(h *pw.Headers) (httpsim.Route, bool) {
			c, ok := h.Get("x-target")
			if !ok {
				c = "primary"
			}
			return httpsim.Route{Name: "route-" + c, Cluster: c, Timeout: 15 * time.Second}, true
		},
		Clusters: func(n string) bool { return n == "primary" || n == "backup" },
		Upstream: func(r *httpsim.UpstreamRequest) httpsim.UpstreamResponse {
			return httpsim.UpstreamResponse{Status: 200, Body: []byte("ok from " + r.Cluster), Address: "10.1.0.1:8080",
				Headers:      [][2]string{{"x-upstream", r.Cluster}},
				HostMetadata: pw.Metadata{"istio": {"workload": "reviews-v1"}}, Locality: pw.Locality{Region: "eu-west-1"}}
		},
	}
	e.trace = nil
	return e
}

func get(t testing.TB, req ...[2]string) httpsim.Request {
	h := [][2]string{{":method", "GET"}, {":path", "/p"}, {":authority", "svc"}, {":scheme", "http"}}
	return httpsim.Request{Headers: append(h, req...)}
}

// run sends req and runs the clock until the stream completes (at most 1m).
func (e *env) run(req httpsim.Request) *httpsim.Stream {
	s := e.g.Send(req)
	e.p.Clock.RunWhile(e.p.Clock.Now().Add(time.Minute), func() bool { return !s.Complete })
	return s
}

// logs returns the messages logged so far containing substr.
func (e *env) logs(substr string) []string {
	var out []string
	for _, l := range e.p.Logs() {
		if strings.Contains(l.Message, substr) {
			out = append(out, l.Message)
		}
	}
	return out
}

// log returns the one message containing substr.
func (e *env) log(substr string) string {
	e.t.Helper()
	l := e.logs(substr)
	require.Len(e.t, l, 1, "log lines containing %q: %v", substr, l)
	return l[0]
}

func (f filter) rootID() string {
	if f.noRootID {
		return ""
	}
	return f.name
}

func header(pairs [][2]string, k string) []string {
	var out []string
	for _, p := range pairs {
		if p[0] == k {
			out = append(out, p[1])
		}
	}
	return out
}
