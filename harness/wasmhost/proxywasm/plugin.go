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
	// ShareVMWith runs this plugin as another root context in the VMs of
	// an already started plugin, as Envoy does for plugins with the same
	// vm_id and code. Module, VM and Workers must match it.
	ShareVMWith *Plugin
}

// Plugin is a started filter: a root context per worker VM, all VMs
// sharing the Process's shared data, queues and stats.
type Plugin struct {
	p     *Process
	spec  PluginSpec
	ctx   context.Context
	slots []*vmSlot
	roots []*Root
	// Reloads counts VMs recreated by FAIL_RELOAD.
	Reloads int
}

// vmSlot is one worker's VM and the plugins whose root contexts live in it.
type vmSlot struct {
	worker  int
	vm      *VM
	plugins []*Plugin
}

// StartPlugin creates the worker VMs (or joins ShareVMWith's) and starts
// the plugin on each, in worker order, as Envoy's workers do.
func (p *Process) StartPlugin(ctx context.Context, spec PluginSpec) (*Plugin, error) {
	if o := spec.ShareVMWith; o != nil {
		if o.spec.Module != spec.Module || o.spec.VM.VMID != spec.VM.VMID {
			return nil, fmt.Errorf("plugin %q: can share VMs only with a plugin of the same module and vm_id", spec.Plugin.Name)
		}
		spec.Engine, spec.VM, spec.Workers = o.spec.Engine, o.spec.VM, len(o.slots)
	}
	if spec.Workers <= 0 {
		spec.Workers = 1
	}
	if spec.ReloadBackoff == 0 {
		spec.ReloadBackoff = time.Second
	}
	pl := &Plugin{p: p, spec: spec, ctx: ctx}
	if spec.Canary {
		vm, err := pl.newVM(-1)
		if err == nil {
			_, err = vm.StartPlugin(spec.Plugin)
			vm.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("plugin %q canary: %w", spec.Plugin.Name, err)
		}
	}
	for i := 0; i < spec.Workers; i++ {
		var slot *vmSlot
		if o := spec.ShareVMWith; o != nil {
			slot = o.slots[i]
		} else {
			vm, err := pl.newVM(i)
			if err != nil {
				pl.Close()
				return nil, fmt.Errorf("plugin %q worker %d: %w", spec.Plugin.Name, i, err)
			}
			slot = &vmSlot{worker: i, vm: vm}
		}
		root, err := slot.vm.StartPlugin(spec.Plugin)
		if err != nil {
			if spec.ShareVMWith == nil {
				slot.vm.Close()
			}
			pl.Close()
			return nil, fmt.Errorf("plugin %q worker %d: %w", spec.Plugin.Name, i, err)
		}
		slot.plugins = append(slot.plugins, pl)
		pl.slots = append(pl.slots, slot)
		pl.roots = append(pl.roots, root)
	}
	return pl, nil
}

func (pl *Plugin) newVM(worker int) (*VM, error) {
	cfg := pl.spec.VM
	cfg.Worker = worker
	return pl.p.NewVM(pl.ctx, pl.spec.Engine, pl.spec.Module, cfg)
}

// reload replaces a failed slot's VM and restarts every plugin's root
// context in it.
func (pl *Plugin) reload(slot *vmSlot) error {
	vm, err := pl.newVM(slot.worker)
	if err != nil {
		return err
	}
	roots := make([]*Root, len(slot.plugins))
	for i, q := range slot.plugins {
		if roots[i], err = vm.StartPlugin(q.spec.Plugin); err != nil {
			vm.Close()
			return err
		}
	}
	slot.vm.Close()
	slot.vm = vm
	for i, q := range slot.plugins {
		q.roots[slot.worker] = roots[i]
	}
	pl.Reloads++
	return nil
}

// Spec returns the plugin's configuration.
func (pl *Plugin) Spec() PluginSpec { return pl.spec }

// Name is the plugin name.
func (pl *Plugin) Name() string { return pl.spec.Plugin.Name }

// Workers is the number of worker VMs.
func (pl *Plugin) Workers() int { return len(pl.slots) }

// VM returns worker i's current VM.
func (pl *Plugin) VM(i int) *VM { return pl.slots[i].vm }

// Root returns worker i's root context.
func (pl *Plugin) Root(i int) *Root { return pl.roots[i] }

// NewStream returns the stream context for a new stream on worker i, or nil
// when the filter is skipped (a failed VM under FAIL_OPEN). A failed VM
// under FAIL_RELOAD is recreated once the backoff has elapsed; until then,
// and under FAIL_CLOSED, the stream gets a context that answers 503.
func (pl *Plugin) NewStream(i int, cb StreamCallbacks, info *StreamInfo) *HTTPContext {
	slot := pl.slots[i]
	if vm := slot.vm; vm.failed {
		switch pl.spec.FailurePolicy {
		case FailOpen:
			return nil
		case FailReload:
			if !pl.p.Clock.Now().Before(vm.trap.Time.Add(pl.spec.ReloadBackoff)) {
				if err := pl.reload(slot); err != nil {
					pl.p.log(vm, nil, LogError, fmt.Sprintf("harness: reload of failed VM failed: %v", err))
					vm.trap.Time = pl.p.Clock.Now()
				}
			}
		}
	}
	policy := pl.spec.FailurePolicy
	if policy == FailReload {
		policy = FailClosed
	}
	s := pl.roots[i].NewHTTPContext(cb, info, policy)
	s.AllowOnHeadersStopIteration(pl.spec.AllowOnHeadersStopIteration)
	return s
}

// Shutdown runs on_done for every root context (draining the plugin).
func (pl *Plugin) Shutdown() {
	for _, r := range pl.roots {
		r.Shutdown()
	}
}

// Close releases the VMs this plugin created (shared VMs are released by
// their first plugin).
func (pl *Plugin) Close() {
	if pl.spec.ShareVMWith != nil {
		return
	}
	for _, s := range pl.slots {
		s.vm.Close()
	}
}
