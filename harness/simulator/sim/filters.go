package sim

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/detour-mesh/detour/harness/simulator/envoy"
	"github.com/detour-mesh/detour/harness/simulator/report"
	"github.com/detour-mesh/detour/harness/simulator/xds"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// Filters is the Detour filter module, compiled once for any number of
// runs (a wazero compile costs seconds; a test binary shares one).
type Filters struct {
	// Source says where the module came from (a file, the build).
	Source string
	engine *pw.Engine
	module *pw.Module
}

// LoadFilters compiles the filter module's bytes.
func LoadFilters(ctx context.Context, wasm []byte, source string) (*Filters, error) {
	return loadFilters(ctx, wasm, source, pw.EngineConfig{})
}

// loadFilters is LoadFilters on an engine configured by cfg (the tests'
// compilation cache).
func loadFilters(ctx context.Context, wasm []byte, source string, cfg pw.EngineConfig) (*Filters, error) {
	eng, err := pw.NewEngine(ctx, cfg)
	if err != nil {
		return nil, err
	}
	mod, err := eng.Compile(ctx, wasm)
	if err != nil {
		_ = eng.Close(ctx)
		return nil, fmt.Errorf("filter module %s: %w", source, err)
	}
	return &Filters{Source: source, engine: eng, module: mod}, nil
}

// startFilters starts, in a new Process on clock, every Wasm filter of the
// listener's HTTP filter chain as Envoy would: the configuration (root id,
// plugin configuration, failure policy, vm_id) is what Istio's generator
// put in the ECDS resources for the compiled WasmPlugins, in the chain's
// order (Istio orders them by phase and priority); the code is the loaded
// module (what the istio-agent would fetch from the WasmPlugin's url).
// Filters with the same vm_id share their VMs, as Envoy does for the same
// vm_id and code (source/extensions/common/wasm/wasm.cc, createWasm).
func (f *Filters) startFilters(ctx context.Context, snap *xds.Snapshot, port uint32, clock *vclock.Clock, workers int, seed uint64, node pw.Node) (*pw.Process, []*pw.Plugin, error) {
	// A proxy on a scratch clock only to read the listener's chain.
	scratch, err := envoy.New(envoy.Config{Name: entryName, Snapshot: snap, Clock: vclock.New(time.Time{}), Network: nopNetwork{}})
	if err != nil {
		return nil, nil, err
	}
	chain, err := scratch.HTTPFilters(port)
	scratch.Stop()
	if err != nil {
		return nil, nil, err
	}
	proc := pw.NewProcess(clock)
	proc.Node = node
	var plugins []*pw.Plugin
	byVM := map[string]*pw.Plugin{}
	for _, hf := range chain {
		if hf.Wasm == nil || hf.Disabled {
			continue
		}
		if hf.Missing {
			return nil, nil, fmt.Errorf("http filter %q: no ECDS resource in the xDS Istio generated", hf.Name)
		}
		w := hf.Wasm
		policy, ok := pw.ParseFailurePolicy(w.FailurePolicy)
		if !ok {
			return nil, nil, fmt.Errorf("http filter %q: failure policy %q", hf.Name, w.FailurePolicy)
		}
		var env [][2]string // in name order, as every run gives the same
		for _, k := range slices.Sorted(maps.Keys(w.Env)) {
			env = append(env, [2]string{k, w.Env[k]})
		}
		spec := pw.PluginSpec{Engine: f.engine, Module: f.module, Workers: workers, FailurePolicy: policy,
			VM:     pw.VMConfig{VMID: w.VMID, Configuration: w.VMConfiguration, Env: env, Seed: seed},
			Plugin: pw.PluginConfig{Name: w.PluginName, RootID: w.RootID, Configuration: w.Configuration}}
		if first := byVM[w.VMID]; first != nil {
			spec.ShareVMWith = first
		}
		pl, err := proc.StartPlugin(ctx, spec)
		if err != nil {
			return nil, nil, fmt.Errorf("http filter %q (root id %q): %w", hf.Name, w.RootID, err)
		}
		if byVM[w.VMID] == nil {
			byVM[w.VMID] = pl
		}
		plugins = append(plugins, pl)
	}
	if len(plugins) == 0 {
		return nil, nil, fmt.Errorf("the listener on port %d has no Wasm filter: the configuration has no WasmPlugin for this proxy", port)
	}
	return proc, plugins, nil
}

// nopNetwork answers nothing: the scratch proxy never sends.
type nopNetwork struct{}

func (nopNetwork) Send(time.Time, *envoy.Attempt) envoy.Result { return envoy.Result{} }

// logLines are the filters' log lines as the report reads them.
func logLines(logs []pw.LogEntry) []report.LogLine {
	out := make([]report.LogLine, len(logs))
	for i, l := range logs {
		out[i] = report.LogLine{Time: l.Time, Message: l.Message}
	}
	return out
}
