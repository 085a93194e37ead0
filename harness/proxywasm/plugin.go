package proxywasm

import (
	"context"
	"fmt"
	"time"
)

// PluginSpec configures one filter instance across every simulated worker.
type PluginSpec struct {
	Engine *Engine
	Module *Module
	VM     VMConfig
	Plugin PluginConfig
	// Workers is the number of worker VMs (Envoy --concurrency); 1 if 0.
	Workers       int
	FailurePolicy FailurePolicy
	// ReloadBackoff is FAIL_RELOAD's wait before recreating a failed VM
	// (Envoy's reload_config.backoff base interval, 1s by default).
	ReloadBackoff time.Duration
	// AllowOnHeadersStopIteration is the filter option of that name.
	AllowOnHeadersStopIteration bool
	// Canary first starts the plugin on a throwaway VM, as Envoy's main
	// thread does to validate a configuration: _initialize, on_vm_start and
	// on_configure run once more, with their side effects (logs as worker
	// -1). A canary that rejects the configuration fails StartPlugin.
	Canary bool
}

// Plugin is a started filter: one VM and root context per worker, all
// sharing the Process's shared data, queues and stats.
type Plugin struct {
	p       *Process
	spec    PluginSpec
	ctx     context.Context
	workers []*worker
	// Reloads counts VMs recreated by FAIL_RELOAD.
	Reloads int
}

type worker struct {
	vm   *VM
	root *Root
}

// StartPlugin creates the worker VMs and starts the plugin on each, in
// worker order, as Envoy's workers do.
func (p *Process) StartPlugin(ctx context.Context, spec PluginSpec) (*Plugin, error) {
	if spec.Workers <= 0 {
		spec.Workers = 1
	}
	if spec.ReloadBackoff == 0 {
		spec.ReloadBackoff = time.Second
	}
	pl := &Plugin{p: p, spec: spec, ctx: ctx}
	if spec.Canary {
		w, err := pl.startWorker(-1)
		if err != nil {
			return nil, fmt.Errorf("plugin %q canary: %w", spec.Plugin.Name, err)
		}
		w.vm.Close()
	}
	for i := 0; i < spec.Workers; i++ {
		w, err := pl.startWorker(i)
		if err != nil {
			pl.Close()
			return nil, fmt.Errorf("plugin %q worker %d: %w", spec.Plugin.Name, i, err)
		}
		pl.workers = append(pl.workers, w)
	}
	return pl, nil
}

func (pl *Plugin) startWorker(i int) (*worker, error) {
	cfg := pl.spec.VM
	cfg.Worker = i
	vm, err := pl.p.NewVM(pl.ctx, pl.spec.Engine, pl.spec.Module, cfg)
	if err != nil {
		return nil, err
	}
	root, err := vm.StartPlugin(pl.spec.Plugin)
	if err != nil {
		vm.Close()
		return nil, err
	}
	return &worker{vm: vm, root: root}, nil
}

// Spec returns the plugin's configuration.
func (pl *Plugin) Spec() PluginSpec { return pl.spec }

// Name is the plugin name.
func (pl *Plugin) Name() string { return pl.spec.Plugin.Name }

// Workers is the number of worker VMs.
func (pl *Plugin) Workers() int { return len(pl.workers) }

// VM returns worker i's current VM.
func (pl *Plugin) VM(i int) *VM { return pl.workers[i].vm }

// Root returns worker i's root context.
func (pl *Plugin) Root(i int) *Root { return pl.workers[i].root }

// NewStream returns the stream context for a new stream on worker i, or nil
// when the filter is skipped (a failed VM under FAIL_OPEN). A failed VM
// under FAIL_RELOAD is recreated once the backoff has elapsed; until then,
// and under FAIL_CLOSED, the stream gets a context that answers 503.
func (pl *Plugin) NewStream(i int, cb StreamCallbacks, info *StreamInfo) *HTTPContext {
	w := pl.workers[i]
	if w.vm.failed {
		switch pl.spec.FailurePolicy {
		case FailOpen:
			return nil
		case FailReload:
			if !pl.p.Clock.Now().Before(w.vm.trap.Time.Add(pl.spec.ReloadBackoff)) {
				if nw, err := pl.startWorker(i); err == nil {
					w.vm.Close()
					pl.workers[i] = nw
					w = nw
					pl.Reloads++
				} else {
					pl.p.log(w.vm, nil, LogError, fmt.Sprintf("harness: reload of failed VM failed: %v", err))
					w.vm.trap.Time = pl.p.Clock.Now()
				}
			}
		}
	}
	policy := pl.spec.FailurePolicy
	if policy == FailReload {
		policy = FailClosed
	}
	s := w.root.NewHTTPContext(cb, info, policy)
	s.AllowOnHeadersStopIteration(pl.spec.AllowOnHeadersStopIteration)
	return s
}

// Shutdown runs on_done for every root context (draining the plugin).
func (pl *Plugin) Shutdown() {
	for _, w := range pl.workers {
		w.root.Shutdown()
	}
}

// Close releases the VMs.
func (pl *Plugin) Close() {
	for _, w := range pl.workers {
		w.vm.Close()
	}
}
