package proxywasm

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// EngineConfig selects the wazero engine and where compiled code is cached.
type EngineConfig struct {
	// Interpreter selects wazero's interpreter instead of the optimising
	// compiler (faster to compile, much slower to run).
	Interpreter bool
	// CacheDir, if set, also keeps compiled code on disk across processes.
	CacheDir string
	// NoSharedCache gives the engine its own empty compilation cache (for
	// measuring cold compiles); by default engines share one per process.
	NoSharedCache bool
	// MemoryLimitPages caps every VM's linear memory, in 64 KiB pages
	// (DefaultMemoryLimitPages if 0).
	MemoryLimitPages uint32
	// CallBudget, if positive, bounds each outermost guest call in wall
	// time (DefaultCallBudget is what `detour wasm run` uses): a callback
	// past it traps, and the plugin's failure policy applies, as does the
	// end of the context VMs are created with. It needs wazero's
	// close-on-context-done, a goroutine per guest call (BENCHMARKS.md), so
	// it is off by default: trusted plugins on a hot path pay nothing.
	CallBudget time.Duration
}

// Engine is a wazero runtime with the host modules registered. Modules are
// compiled once per engine, and compiled code is shared process-wide through
// a wazero compilation cache, so a module is compiled once per process.
type Engine struct {
	rt      wazero.Runtime
	cfg     EngineConfig
	mu      sync.Mutex
	modules map[[32]byte]*Module
}

var (
	sharedCachesMu sync.Mutex
	sharedCaches   = map[string]wazero.CompilationCache{}
)

func compilationCache(cfg EngineConfig) (wazero.CompilationCache, error) {
	if cfg.NoSharedCache {
		if cfg.CacheDir != "" {
			return wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		}
		return wazero.NewCompilationCache(), nil
	}
	sharedCachesMu.Lock()
	defer sharedCachesMu.Unlock()
	if c, ok := sharedCaches[cfg.CacheDir]; ok {
		return c, nil
	}
	var c wazero.CompilationCache
	var err error
	if cfg.CacheDir != "" {
		c, err = wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache %s: %w", cfg.CacheDir, err)
		}
	} else {
		c = wazero.NewCompilationCache()
	}
	sharedCaches[cfg.CacheDir] = c
	return c, nil
}

// NewEngine creates a runtime and registers the env and WASI host modules.
func NewEngine(ctx context.Context, cfg EngineConfig) (*Engine, error) {
	cache, err := compilationCache(cfg)
	if err != nil {
		return nil, err
	}
	var rc wazero.RuntimeConfig
	if cfg.Interpreter {
		rc = wazero.NewRuntimeConfigInterpreter()
	} else {
		rc = wazero.NewRuntimeConfigCompiler()
	}
	if cfg.MemoryLimitPages == 0 {
		cfg.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if cfg.MemoryLimitPages > 1<<16 {
		return nil, fmt.Errorf("memory limit of %d pages: expected at most 65536 (4 GiB, the wasm32 maximum)", cfg.MemoryLimitPages)
	}
	// Close on context done: the compiled code then checks for a closed
	// module in loops and calls, which is what lets a callback's budget
	// stop a guest that never returns.
	rc = rc.WithCompilationCache(cache).WithCloseOnContextDone(cfg.CallBudget > 0).WithMemoryLimitPages(cfg.MemoryLimitPages)
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	e := &Engine{rt: rt, cfg: cfg, modules: map[[32]byte]*Module{}}
	if err := registerEnv(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, err
	}
	for _, name := range []string{"wasi_snapshot_preview1", "wasi_unstable"} {
		if err := registerWASI(ctx, rt, name); err != nil {
			rt.Close(ctx)
			return nil, err
		}
	}
	return e, nil
}

// Close releases the runtime and every VM created from it.
func (e *Engine) Close(ctx context.Context) error { return e.rt.Close(ctx) }

// Module is a compiled, accepted proxy-wasm module.
type Module struct {
	compiled wazero.CompiledModule
	// ABI is the marker export found (e.g. proxy_abi_version_0_2_0).
	ABI string
	// Malloc is the allocation export the host uses.
	Malloc  string
	SHA256  [32]byte
	imports []importRef
	exports map[string]bool
}

type importRef struct{ module, name string }

// Compile compiles wasm (or returns the engine's earlier compilation of the
// same bytes) and applies cpp-host's acceptance checks that do not depend
// on the target Envoy: an ABI marker and an allocation function.
func (e *Engine) Compile(ctx context.Context, wasm []byte) (*Module, error) {
	sum := sha256.Sum256(wasm)
	e.mu.Lock()
	defer e.mu.Unlock()
	if m, ok := e.modules[sum]; ok {
		return m, nil
	}
	cm, err := e.rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("compile module: %w", err)
	}
	m := &Module{compiled: cm, SHA256: sum, exports: map[string]bool{}}
	for name := range cm.ExportedFunctions() {
		m.exports[name] = true
	}
	for _, abi := range []string{ABI021, ABI020, ABI010} {
		if m.exports[abi] {
			m.ABI = abi
			break
		}
	}
	switch m.ABI {
	case "":
		return nil, fmt.Errorf("module rejected: missing or unknown Proxy-Wasm ABI version (exports no proxy_abi_version_0_2_0 or proxy_abi_version_0_2_1)")
	case ABI010:
		return nil, fmt.Errorf("module rejected: ABI %s is not supported by this host (0.2.0 and 0.2.1 are)", ABI010)
	}
	// cpp-host prefers malloc when both exist.
	switch {
	case m.exports["malloc"]:
		m.Malloc = "malloc"
	case m.exports["proxy_on_memory_allocate"]:
		m.Malloc = "proxy_on_memory_allocate"
	default:
		return nil, fmt.Errorf("module rejected: exports neither proxy_on_memory_allocate nor malloc")
	}
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		m.imports = append(m.imports, importRef{mod, name})
	}
	e.modules[sum] = m
	return m, nil
}

// checkImports rejects imports the target Envoy would not link.
func (m *Module) checkImports(c Compat) error {
	var bad []string
	for _, imp := range m.imports {
		switch imp.module {
		case "env":
			if !envAllowed(imp.name, m.ABI) {
				bad = append(bad, imp.module+"."+imp.name)
			}
		case "wasi_snapshot_preview1", "wasi_unstable":
			if !wasi427[imp.name] && !(c.WASI533 && wasi533[imp.name]) {
				bad = append(bad, imp.module+"."+imp.name)
			}
		default:
			bad = append(bad, imp.module+"."+imp.name)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		profile := "Envoy 1.33 WASI set (cpp-host #427)"
		if c.WASI533 {
			profile = "WASI set of cpp-host #533"
		}
		return fmt.Errorf("module rejected: imports the host does not provide for %s and %s: %s", m.ABI, profile, strings.Join(bad, ", "))
	}
	return nil
}

func envAllowed(name, abi string) bool {
	if name == "proxy_get_log_level" {
		return abi == ABI021
	}
	return envFunctions[name]
}

// vmKey carries the calling VM in the context passed to guest calls, so the
// shared host functions know whose state to use.
type vmKey struct{}

func vmFrom(ctx context.Context) *VM { return ctx.Value(vmKey{}).(*VM) }

type hostFn struct {
	name    string
	params  []api.ValueType
	results []api.ValueType
	fn      api.GoModuleFunc
}

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

func types(n int) []api.ValueType {
	t := make([]api.ValueType, n)
	for i := range t {
		t[i] = i32
	}
	return t
}

func register(ctx context.Context, rt wazero.Runtime, module string, fns []hostFn) error {
	b := rt.NewHostModuleBuilder(module)
	for _, f := range fns {
		b.NewFunctionBuilder().WithGoModuleFunction(f.fn, f.params, f.results).Export(f.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("register host module %s: %w", module, err)
	}
	return nil
}
