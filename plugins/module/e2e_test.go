package module_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
	"github.com/detour-mesh/detour/plugins/config"
	"github.com/detour-mesh/detour/plugins/module"
)

var (
	engine *pw.Engine
	mod    *pw.Module
	wasm   []byte
)

// TestMain builds and compiles the module once for the package: a cold
// wazero compile costs seconds.
func TestMain(m *testing.M) {
	ctx := context.Background()
	var err error
	wasm, err = module.Bytes()
	if err == nil {
		engine, err = pw.NewEngine(ctx, pw.EngineConfig{})
	}
	if err == nil {
		mod, err = engine.Compile(ctx, wasm)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// wasmPlugin is what a compiled WasmPlugin tells Istio.
type wasmPlugin struct {
	Name       string
	PluginName string
	Priority   int
	Config     []byte // pluginConfig as JSON, as Istio hands it to the filter
}

// compiledPlugins reads the WasmPlugins `detour compile` wrote into
// examples/<example>/out/.../<file> and orders them as Istio chains them
// (higher priority first).
func compiledPlugins(t testing.TB, rel string) []wasmPlugin {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", rel))
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []wasmPlugin
	for {
		var doc struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
			Spec struct {
				PluginName   string         `yaml:"pluginName"`
				Priority     int            `yaml:"priority"`
				PluginConfig map[string]any `yaml:"pluginConfig"`
			} `yaml:"spec"`
		}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if doc.Kind != "WasmPlugin" {
			continue
		}
		cfg, err := json.Marshal(doc.Spec.PluginConfig)
		require.NoError(t, err)
		out = append(out, wasmPlugin{Name: doc.Metadata.Name, PluginName: doc.Spec.PluginName, Priority: doc.Spec.Priority, Config: cfg})
	}
	require.Len(t, out, 1, "the compiler emits one WasmPlugin per proxy (the combined root ID)")
	require.Equal(t, config.PluginCombined, out[0].PluginName)
	sort.Slice(out, func(i, j int) bool { return out[i].Priority > out[j].Priority })
	return out
}

// world is a gateway running the compiled filters in front of scripted
// target clusters.
type world struct {
	t       testing.TB
	clock   *vclock.Clock
	proc    *pw.Process
	gw      *httpsim.Gateway
	cfg     config.Config
	plugins []*pw.Plugin
	// dead targets refuse connections; status overrides a target's status.
	dead    map[string]bool
	status  map[string]int
	served  map[string]int // requests each target answered (upstream and http_call)
	calls   []string       // http_call clusters, in order
	bodies  []string       // http_call request bodies, in order
	workers int

	// slow is added to a target's answers.
	slow map[string]time.Duration
}

type worldOpts struct {
	workers int
	compat  pw.Compat
	env     [][2]string
	// layout: "" (as compiled: one combined root ID doing all three),
	// "split" (three root IDs in one VM per worker, as `detour compile
	// --split-filters` emits them) or "modules" (a VM per filter, as three
	// modules would run).
	layout string
	// noRouteRefresh: the route is not re-selected at all (to prove the
	// test would notice a filter that does not steer).
	// node is where the proxy runs (xds.node); empty reports no locality.
	node pw.Node
	// configure, if set, edits every plugin's compiled configuration (as
	// JSON) before the plugins start.
	configure func(cfg map[string]any)
}

func newWorld(t testing.TB, example string, o worldOpts) *world {
	t.Helper()
	if o.workers == 0 {
		o.workers = 2
	}
	plugins := compiledPlugins(t, example)
	if o.configure != nil {
		for i := range plugins {
			var m map[string]any
			require.NoError(t, json.Unmarshal(plugins[i].Config, &m))
			o.configure(m)
			b, err := json.Marshal(m)
			require.NoError(t, err)
			plugins[i].Config = b
		}
	}
	cfg, err := config.Parse(plugins[0].Config)
	require.NoError(t, err)
	w := &world{
		t: t, clock: vclock.New(time.Unix(1_800_000_000, 0)), cfg: cfg, workers: o.workers,
		dead: map[string]bool{}, status: map[string]int{}, served: map[string]int{}, slow: map[string]time.Duration{},
	}
	w.proc = pw.NewProcess(w.clock)
	w.proc.Node = o.node
	w.proc.HTTPCalls = w
	var first *pw.Plugin
	if o.layout == "split" || o.layout == "modules" {
		// The three root IDs in chain order (router first on requests),
		// each with the one configuration, as --split-filters emits them.
		c := plugins[0].Config
		plugins = []wasmPlugin{
			{Name: "detour-router", PluginName: config.PluginRouter, Priority: 30, Config: c},
			{Name: "detour-retry", PluginName: config.PluginRetry, Priority: 20, Config: c},
			{Name: "detour-outlier", PluginName: config.PluginOutlier, Priority: 10, Config: c},
		}
	}
	for _, p := range plugins {
		spec := pw.PluginSpec{
			Engine: engine, Module: mod, Workers: o.workers, FailurePolicy: pw.FailOpen,
			VM:     pw.VMConfig{Compat: o.compat, Seed: 7, Env: o.env},
			Plugin: pw.PluginConfig{Name: p.Name, RootID: p.PluginName, Configuration: p.Config},
		}
		// Istio leaves vm_id empty: plugins with the same code share a VM
		// (and its shared data). Separate modules given one vm_id get their
		// own VMs but still share data.
		if first != nil && o.layout != "modules" {
			spec.ShareVMWith = first
		}
		pl, err := w.proc.StartPlugin(context.Background(), spec)
		require.NoError(t, err, "start %s", p.PluginName)
		if first == nil {
			first = pl
		}
		w.plugins = append(w.plugins, pl)
	}
	w.gw = &httpsim.Gateway{Process: w.proc, Filters: w.plugins, Router: w.route, Upstream: w.upstream, Clusters: w.HasCluster}
	return w
}

// route is the compiled VirtualService: x-detour-cluster selects the
// target's subset, anything else goes to the whole service.
func (w *world) route(h *pw.Headers) (httpsim.Route, bool) {
	if v, ok := h.Get(w.cfg.Headers.Cluster); ok {
		for _, t := range w.cfg.Targets {
			if t.Cluster == v {
				return httpsim.Route{Name: config.SubsetPrefix + v, Cluster: w.cfg.ClusterName(v), Timeout: 5 * time.Second}, true
			}
		}
	}
	return httpsim.Route{Name: "default", Cluster: fmt.Sprintf("outbound|%d||%s", w.cfg.Service.Port, w.cfg.Service.Host), Timeout: 5 * time.Second}, true
}

// target maps an Envoy cluster name back to the target ("" for the whole service).
func (w *world) target(cluster string) string {
	parts := strings.Split(cluster, "|")
	if len(parts) != 4 {
		return ""
	}
	return strings.TrimPrefix(strings.TrimPrefix(parts[2], config.ProbeSubsetPrefix), config.SubsetPrefix)
}

func (w *world) answer(cluster string) (status int, fault string, body string) {
	t := w.target(cluster)
	if t == "" {
		t = w.cfg.Targets[0].Cluster // the unsteered route: Istio's own pick
	}
	if w.dead[t] {
		return 0, pw.FaultConnectFailure, ""
	}
	w.served[t]++
	if s := w.status[t]; s != 0 {
		return s, "", "error from " + t
	}
	return 200, "", "hello from " + t
}

func (w *world) upstream(req *httpsim.UpstreamRequest) httpsim.UpstreamResponse {
	st, fault, body := w.answer(req.Cluster)
	return httpsim.UpstreamResponse{Status: st, Fault: fault, Body: []byte(body), Delay: 5*time.Millisecond + w.slow[w.target(req.Cluster)], Address: "10.0.0.2:15443"}
}

func (w *world) HasCluster(name string) bool { return strings.HasPrefix(name, "outbound|") }

func (w *world) HTTPCall(req *pw.HTTPCallRequest) pw.HTTPCallResult {
	w.calls = append(w.calls, req.Cluster)
	w.bodies = append(w.bodies, string(req.Body))
	st, fault, body := w.answer(req.Cluster)
	// A header of the upstream's own, which a retried response must keep.
	hs := [][2]string{{"x-served-by", w.target(req.Cluster)}}
	return pw.HTTPCallResult{Status: st, Headers: hs, Fault: fault, Body: []byte(body), Delay: 5*time.Millisecond + w.slow[w.target(req.Cluster)]}
}

func (w *world) request(worker int, method string, extra ...[2]string) *httpsim.Stream {
	h := [][2]string{{":method", method}, {":path", "/productpage"}, {":scheme", "http"}, {":authority", w.cfg.Service.Authorities[0]}}
	h = append(h, extra...)
	return w.gw.Send(httpsim.Request{Headers: h, Worker: worker})
}

// run sends n requests spread over the workers every gap and runs the
// clock until they completed; it returns the streams.
func (w *world) run(n int, gap time.Duration) []*httpsim.Stream {
	var out []*httpsim.Stream
	for i := range n {
		out = append(out, w.request(i%w.workers, "GET"))
		w.clock.Advance(gap)
	}
	w.clock.Advance(time.Second)
	for _, s := range out {
		require.True(w.t, s.Complete, "stream incomplete")
	}
	return out
}

func (w *world) metric(name string) int64 {
	m, ok := w.proc.Stats.Lookup(name)
	if !ok {
		return -1
	}
	return m.Value
}

func (w *world) logs(sub string) []string {
	var out []string
	for _, l := range w.proc.Logs() {
		if strings.Contains(l.Message, sub) {
			out = append(out, l.At+" "+l.Message)
		}
	}
	return out
}

func (w *world) noTraps() {
	w.t.Helper()
	require.Empty(w.t, w.proc.Traps())
}

func mustRead(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
