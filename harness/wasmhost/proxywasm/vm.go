package proxywasm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Compat selects behaviour that differs between Envoy versions.
type Compat struct {
	// WASI533 provides the wider WASI set of cpp-host #533 (Envoy main from
	// mid-2026): poll_oneoff reports 0 events instead of ENOSYS, and more
	// functions link. The default is Envoy 1.33–1.37 (#427).
	WASI533 bool
	// LegacyCopyFrom selects older Envoy's set_buffer_bytes: start 0 with a
	// length below the buffer size is BAD_ARGUMENT instead of drain+prepend.
	LegacyCopyFrom bool
	// LegacyAttributes serves the pre-1.33 top-level names (cluster_name,
	// route_name, node, ...) that 1.33 removed.
	LegacyAttributes bool
	// ExplicitRouteRefresh is Envoy 1.33+ for a module whose ABI is above
	// 0.2.1 (envoy PR #36671): a request header change no longer clears the
	// route cache; only the clear_route_cache foreign function does. The
	// default is the automatic refresh (every Envoy for ABI <= 0.2.1).
	ExplicitRouteRefresh bool
	// NoClearRouteCache is Envoy before 1.33, which registers no
	// clear_route_cache foreign function: calling it gives NOT_FOUND
	// (Envoy's 1.33 release notes added it; see proxywasm-host.md).
	NoClearRouteCache bool
}

// VMConfig describes one VM (one per simulated worker).
type VMConfig struct {
	VMID string
	// Configuration is vm_config.configuration (the VM_CONFIGURATION buffer).
	Configuration []byte
	// Env is vm_config.environment_variables, the only WASI environment.
	Env [][2]string
	// Worker numbers the simulated worker thread, for logs.
	Worker int
	Compat Compat
	// Seed makes random_get deterministic.
	Seed uint64
}

// VM is one instance of a module with its contexts. It is not safe for
// concurrent use; all VMs of a Process run on the Process's event loop.
type VM struct {
	p      *Process
	module *Module
	cfg    VMConfig
	mod    api.Module
	ctx    *budgetCtx
	malloc api.Function
	fn     exports
	// stacks are the parameter/result stacks of guest calls by nesting
	// depth (a host call inside a callback calls the guest's malloc),
	// reused so calling into the guest allocates nothing on the host
	// (api.Function.Call allocates a slice per call, which Envoy's
	// runtime does not).
	stacks [][]uint64

	contexts      map[uint32]*contextState
	nextContextID uint32
	roots         map[rootKey]*Root

	failed bool
	trap   *Trap

	initializing bool
	depth        int
	current      uint32
	effective    uint32
	after        []func()
	callback     string

	nextCallout uint32
	nextMetric  [3]uint32
	metrics     map[uint32]*metric

	rng *rand.Rand

	// Buffers and maps that exist only during one callback.
	pluginConfig []byte
	inConfigure  bool
	callResponse *callResponse
	foreignArgs  []byte
	status       struct {
		code uint32
		msg  string
	}
}

type exports struct {
	onContextCreate, onVMStart, onConfigure, onTick, onQueueReady,
	onRequestHeaders, onRequestBody, onRequestTrailers,
	onResponseHeaders, onResponseBody, onResponseTrailers,
	onHTTPCallResponse, onLog, onDone, onDelete, onForeignFunction api.Function
}

type contextState struct {
	id     uint32
	root   *Root
	stream *HTTPContext
}

// ErrVMFailed is returned for calls into a VM that has trapped.
var ErrVMFailed = errors.New("wasm VM failed")

// NewVM instantiates m. _initialize (and main/__main_void if exported, or
// _start otherwise) runs under Envoy's restricted host-call allowlist.
func (p *Process) NewVM(ctx context.Context, e *Engine, m *Module, cfg VMConfig) (*VM, error) {
	if err := m.checkImports(cfg.Compat); err != nil {
		return nil, err
	}
	vm := &VM{
		p: p, module: m, cfg: cfg,
		contexts:      map[uint32]*contextState{},
		nextContextID: 1,
		roots:         map[rootKey]*Root{},
		nextMetric:    [3]uint32{uint32(MetricCounter), uint32(MetricGauge), uint32(MetricHistogram)},
		metrics:       map[uint32]*metric{},
		rng:           rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.Worker)+1)),
	}
	vm.ctx = newBudgetCtx(context.WithValue(withLinearMemory(ctx), vmKey{}, vm), e.cfg.CallBudget)
	vm.initializing = true
	vm.depth = 1
	vm.callback = "_initialize"
	mc := wazero.NewModuleConfig().WithName("").WithStartFunctions()
	mod, err := e.rt.InstantiateModule(vm.ctx, m.compiled, mc)
	if err != nil {
		vm.depth = 0
		vm.ctx.release()
		return nil, fmt.Errorf("instantiate module: %w", err)
	}
	vm.mod = mod
	var starts []string
	if mod.ExportedFunction("_initialize") != nil {
		starts = append(starts, "_initialize")
		for _, n := range []string{"main", "__main_void"} {
			if mod.ExportedFunction(n) != nil {
				starts = append(starts, n)
				break
			}
		}
	} else if mod.ExportedFunction("_start") != nil {
		starts = append(starts, "_start")
	}
	for _, name := range starts {
		vm.callback = name
		f := mod.ExportedFunction(name)
		var args []uint64
		if name == "main" && len(f.Definition().ParamTypes()) == 2 {
			args = []uint64{0, 0}
		}
		vm.ctx.arm()
		_, err := f.Call(vm.ctx, args...)
		vm.ctx.disarm()
		if err != nil {
			vm.depth = 0
			mod.Close(ctx)
			vm.ctx.release()
			return nil, fmt.Errorf("module start %s failed: %w", name, vm.budgetErr(err))
		}
	}
	vm.initializing = false
	vm.depth = 0
	vm.malloc = mod.ExportedFunction(m.Malloc)
	get := mod.ExportedFunction
	vm.fn = exports{
		onContextCreate: get("proxy_on_context_create"), onVMStart: get("proxy_on_vm_start"),
		onConfigure: get("proxy_on_configure"), onTick: get("proxy_on_tick"), onQueueReady: get("proxy_on_queue_ready"),
		onRequestHeaders: get("proxy_on_request_headers"), onRequestBody: get("proxy_on_request_body"),
		onRequestTrailers: get("proxy_on_request_trailers"), onResponseHeaders: get("proxy_on_response_headers"),
		onResponseBody: get("proxy_on_response_body"), onResponseTrailers: get("proxy_on_response_trailers"),
		onHTTPCallResponse: get("proxy_on_http_call_response"), onLog: get("proxy_on_log"),
		onDone: get("proxy_on_done"), onDelete: get("proxy_on_delete"), onForeignFunction: get("proxy_on_foreign_function"),
	}
	return vm, nil
}

// Failed reports whether the VM trapped; a failed VM is never called again.
func (vm *VM) Failed() bool { return vm.failed }

// Worker is the worker number the VM was created for.
func (vm *VM) Worker() int { return vm.cfg.Worker }

// Close releases the instance.
func (vm *VM) Close() error {
	if vm.mod == nil {
		return nil
	}
	vm.ctx.release()
	return vm.mod.Close(context.Background())
}

// MemoryBytes is the size of the VM's linear memory.
func (vm *VM) MemoryBytes() uint32 { return vm.mod.Memory().Size() }

// call runs one guest callback as ctxID. Host calls made during it act on
// the effective context; deferred actions run when the outermost call
// returns. A trap marks the VM failed.
func (vm *VM) call(name string, f api.Function, ctxID uint32, args ...uint64) (uint64, error) {
	if vm.failed {
		return 0, ErrVMFailed
	}
	if f == nil {
		return 0, nil
	}
	outer := vm.depth == 0
	if vm.p.Trace != nil {
		vm.p.Trace(vm.cfg.VMID, vm.cfg.Worker, name, ctxID)
	}
	prevCur, prevEff, prevCb := vm.current, vm.effective, vm.callback
	vm.current, vm.effective, vm.callback = ctxID, ctxID, name
	stack := vm.stack(vm.depth, max(len(args), 1))
	copy(stack, args)
	vm.depth++
	if outer {
		vm.ctx.arm()
	}
	err := f.CallWithStack(vm.ctx, stack)
	if outer {
		vm.ctx.disarm()
	}
	vm.depth--
	vm.current, vm.effective, vm.callback = prevCur, prevEff, prevCb
	if err != nil {
		vm.fail(name, err)
		return 0, ErrVMFailed
	}
	var res uint64
	if len(f.Definition().ResultTypes()) > 0 {
		res = stack[0] // before the deferred actions reuse the stack
	}
	if outer {
		for len(vm.after) > 0 && !vm.failed {
			a := vm.after[0]
			vm.after = vm.after[1:]
			a()
		}
		vm.after = vm.after[:0]
	}
	return res, nil
}

// stack is the reusable call stack for depth, at least n long.
func (vm *VM) stack(depth, n int) []uint64 {
	for len(vm.stacks) <= depth {
		vm.stacks = append(vm.stacks, make([]uint64, 8))
	}
	if len(vm.stacks[depth]) < n {
		vm.stacks[depth] = make([]uint64, n)
	}
	return vm.stacks[depth]
}

func (vm *VM) fail(callback string, err error) {
	vm.failed = true
	vm.after = nil
	t := Trap{
		Time:     vm.p.Clock.Now(),
		Worker:   vm.cfg.Worker,
		VMID:     vm.cfg.VMID,
		Callback: callback,
		Message:  vm.budgetErr(err).Error(),
	}
	if c := vm.contexts[vm.current]; c != nil && c.root != nil {
		t.Plugin = c.root.cfg.Name
	}
	vm.trap = &t
	vm.p.recordTrap(t)
	for _, r := range vm.roots {
		r.stopTick()
	}
}

// budgetErr names the limit that closed the module, when one did: wazero
// reports only "module closed with context deadline exceeded".
func (vm *VM) budgetErr(err error) error {
	if why := vm.ctx.Err(); why != nil {
		return fmt.Errorf("%v (%w)", why, err)
	}
	return err
}

// Trap is a runtime failure of a VM.
type Trap struct {
	Time     time.Time `json:"-"`
	At       string    `json:"at"`
	Worker   int       `json:"worker"`
	VMID     string    `json:"vmId"`
	Plugin   string    `json:"plugin,omitempty"`
	Callback string    `json:"callback"`
	Message  string    `json:"message"`
}

func (vm *VM) newContextID() uint32 {
	id := vm.nextContextID
	vm.nextContextID++
	return id
}

// effectiveContext resolves the context host calls act on: the one set by
// proxy_set_effective_context if it still exists, else the current one.
func (vm *VM) effectiveContext() *contextState {
	if c, ok := vm.contexts[vm.effective]; ok {
		return c
	}
	return vm.contexts[vm.current]
}

// --- guest memory helpers -------------------------------------------------

func (vm *VM) mem() api.Memory { return vm.mod.Memory() }

func (vm *VM) read(ptr, size uint32) ([]byte, bool) {
	if size == 0 {
		return nil, true
	}
	b, ok := vm.mem().Read(ptr, size)
	if !ok {
		return nil, false
	}
	out := make([]byte, size)
	copy(out, b)
	return out, true
}

// readString copies once, straight from the guest's memory into the
// string (read would copy into a slice first).
func (vm *VM) readString(ptr, size uint32) (string, bool) {
	if size == 0 {
		return "", true
	}
	b, ok := vm.mem().Read(ptr, size)
	if !ok {
		return "", false
	}
	return string(b), true
}

// copyOut allocates len(data) bytes in the guest and writes the pointer and
// size to the return slots; empty data is returned as 0/0 without
// allocating, as cpp-host does.
func (vm *VM) copyOut(data []byte, retPtr, retSize uint32) Status {
	var ptr uint32
	if len(data) > 0 {
		stack := vm.stack(vm.depth, 1)
		stack[0] = uint64(len(data))
		if err := vm.malloc.CallWithStack(vm.ctx, stack); err != nil {
			panic(fmt.Errorf("%s: %w", vm.module.Malloc, err))
		}
		ptr = uint32(stack[0])
		if ptr == 0 || !vm.mem().Write(ptr, data) {
			return StatusInvalidMemoryAccess
		}
	}
	if !vm.mem().WriteUint32Le(retPtr, ptr) || !vm.mem().WriteUint32Le(retSize, uint32(len(data))) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}

func (vm *VM) writeU32(ptr, v uint32) Status {
	if !vm.mem().WriteUint32Le(ptr, v) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}

// --- root contexts ----------------------------------------------------------

// PluginConfig is one configured plugin (root context) in a VM.
type PluginConfig struct {
	// Name is plugin_name (Istio WasmPlugin name), RootID is root_id
	// (Istio pluginName).
	Name   string
	RootID string
	// Configuration is the PLUGIN_CONFIGURATION buffer (JSON for Istio).
	Configuration []byte
}

// label names the plugin in reports: its name, else its root id.
func (c PluginConfig) label() string {
	if c.Name != "" {
		return c.Name
	}
	return c.RootID
}

// rootKey is what tells a VM's root contexts apart, as in Envoy.
type rootKey struct{ rootID, configuration, name string }

// Root is a root (plugin) context.
type Root struct {
	vm          *VM
	id          uint32
	cfg         PluginConfig
	tickPeriod  time.Duration
	tickTimer   interface{ Stop() bool }
	pendingDone bool
	done        bool
}

// ID is the root context id.
func (r *Root) ID() uint32 { return r.id }

// VM is the VM the root context lives in.
func (r *Root) VM() *VM { return r.vm }

// Config is the plugin configuration.
func (r *Root) Config() PluginConfig { return r.cfg }

// StartPlugin creates a root context and runs on_vm_start and on_configure,
// as Envoy does when a plugin starts on a worker.
func (vm *VM) StartPlugin(cfg PluginConfig) (*Root, error) {
	if vm.failed {
		return nil, ErrVMFailed
	}
	// Envoy keys a VM's root contexts by root id, configuration and plugin
	// name (proxy-wasm-cpp-host PluginBase::key_; Envoy's Plugin adds the
	// name, through createPluginKey in source/extensions/common/wasm/plugin.h),
	// and WasmBase::start hands an existing key its root context again. So
	// plugins sharing a root id (an empty one, often) each get their own.
	key := rootKey{rootID: cfg.RootID, configuration: string(cfg.Configuration), name: cfg.Name}
	if r, ok := vm.roots[key]; ok {
		return r, nil
	}
	r := &Root{vm: vm, id: vm.newContextID(), cfg: cfg}
	vm.roots[key] = r
	vm.contexts[r.id] = &contextState{id: r.id, root: r}
	if _, err := vm.call("proxy_on_context_create", vm.fn.onContextCreate, r.id, uint64(r.id), 0); err != nil {
		return nil, vm.failErr()
	}
	ok, err := vm.call("proxy_on_vm_start", vm.fn.onVMStart, r.id, uint64(r.id), uint64(len(vm.cfg.Configuration)))
	if err != nil {
		return nil, vm.failErr()
	}
	if vm.fn.onVMStart != nil && uint32(ok) == 0 {
		return nil, fmt.Errorf("plugin %q: proxy_on_vm_start returned false", cfg.Name)
	}
	vm.pluginConfig, vm.inConfigure = cfg.Configuration, true
	ok, err = vm.call("proxy_on_configure", vm.fn.onConfigure, r.id, uint64(r.id), uint64(len(cfg.Configuration)))
	vm.pluginConfig, vm.inConfigure = nil, false
	if err != nil {
		return nil, vm.failErr()
	}
	if vm.fn.onConfigure != nil && uint32(ok) == 0 {
		return nil, fmt.Errorf("plugin %q: proxy_on_configure returned false (configuration rejected)", cfg.Name)
	}
	return r, nil
}

func (vm *VM) failErr() error {
	if vm.trap != nil {
		return fmt.Errorf("%w: trap in %s: %s", ErrVMFailed, vm.trap.Callback, vm.trap.Message)
	}
	return ErrVMFailed
}

func (r *Root) stopTick() {
	if r.tickTimer != nil {
		r.tickTimer.Stop()
		r.tickTimer = nil
	}
}

func (r *Root) setTick(period time.Duration) {
	r.stopTick()
	r.tickPeriod = period
	if period <= 0 {
		return
	}
	var fire func()
	fire = func() {
		if r.vm.failed || r.done || r.tickPeriod != period {
			return
		}
		r.tickTimer = r.vm.p.Clock.After(period, fire)
		r.vm.call("proxy_on_tick", r.vm.fn.onTick, r.id, uint64(r.id))
	}
	r.tickTimer = r.vm.p.Clock.After(period, fire)
}

// Shutdown runs on_done for the root; on_delete follows at once unless
// on_done returned false, in which case it waits for proxy_done.
func (r *Root) Shutdown() {
	vm := r.vm
	if r.done || vm.failed {
		return
	}
	res, err := vm.call("proxy_on_done", vm.fn.onDone, r.id, uint64(r.id))
	if err != nil {
		return
	}
	if vm.fn.onDone != nil && uint32(res) == 0 {
		r.pendingDone = true
		return
	}
	r.delete()
}

func (r *Root) delete() {
	r.stopTick()
	r.done = true
	r.pendingDone = false
	r.vm.call("proxy_on_delete", r.vm.fn.onDelete, r.id, uint64(r.id))
	delete(r.vm.contexts, r.id)
}

// Done reports whether the root context has been deleted.
func (r *Root) Done() bool { return r.done }
