package proxywasm

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/plugintest"
)

type discard struct{}

func (discard) ContinueStream(StreamType) {}
func (discard) SendLocalReply(LocalReply) {}
func (discard) ResetStream(string)        {}
func (discard) ClearRouteCache()          {}

func startNoop(tb testing.TB, interpreter bool) (*Root, *Process) {
	return startNoopWith(tb, EngineConfig{Interpreter: interpreter})
}

func startNoopWith(tb testing.TB, cfg EngineConfig) (*Root, *Process) {
	tb.Helper()
	ctx := context.Background()
	e, err := NewEngine(ctx, cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() { e.Close(ctx) })
	m, err := e.Compile(ctx, plugintest.MustRead("conformance"))
	require.NoError(tb, err)
	p := NewProcess(nil)
	vm, err := p.NewVM(ctx, e, m, VMConfig{VMID: "bench"})
	require.NoError(tb, err)
	r, err := vm.StartPlugin(PluginConfig{Name: "noop", RootID: "noop", Configuration: []byte("noop")})
	require.NoError(tb, err)
	return r, p
}

// TestNoopStreamLifecycle checks what the benchmark measures: one stream
// through create, request headers, response headers and teardown.
func TestNoopStreamLifecycle(t *testing.T) {
	r, p := startNoop(t, false)
	var calls []string
	p.Trace = func(_ string, _ int, cb string, _ uint32) { calls = append(calls, cb) }
	s := r.NewHTTPContext(discard{}, nil, FailClosed)
	require.Equal(t, Continue, s.OnRequestHeaders(NewHeaders([][2]string{{":path", "/"}}), true))
	require.Equal(t, Continue, s.OnResponseHeaders(NewHeaders([][2]string{{":status", "200"}}), true))
	s.OnLog(nil, nil, nil)
	s.OnDestroy()
	require.Equal(t, []string{"proxy_on_context_create", "proxy_on_request_headers", "proxy_on_response_headers",
		"proxy_on_log", "proxy_on_done", "proxy_on_delete"}, calls)
	require.Empty(t, p.Traps())
}

// BenchmarkNoopRequest is the per-request cost of a filter that does
// nothing: context create → request headers → response headers → log,
// done, delete.
func BenchmarkNoopRequest(b *testing.B) {
	for _, engine := range []struct {
		name string
		cfg  EngineConfig
	}{
		{"compiler", EngineConfig{}},
		// With a callback budget (wazero's close-on-context-done), as
		// `detour wasm run` runs: its cost shows against "compiler".
		{"compiler-budget", EngineConfig{CallBudget: DefaultCallBudget}},
		{"interpreter", EngineConfig{Interpreter: true}},
	} {
		b.Run(engine.name, func(b *testing.B) {
			r, _ := startNoopWith(b, engine.cfg)
			req := NewHeaders([][2]string{{":method", "GET"}, {":path", "/"}, {":authority", "svc"}})
			resp := NewHeaders([][2]string{{":status", "200"}})
			info := &StreamInfo{}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s := r.NewHTTPContext(discard{}, info, FailClosed)
				s.OnRequestHeaders(req, true)
				s.OnResponseHeaders(resp, true)
				s.OnLog(req, resp, nil)
				s.OnDestroy()
			}
			b.ReportMetric(float64(r.VM().MemoryBytes()), "vm-mem-bytes")
		})
	}
}

// BenchmarkCompile is module compile time (compiler engine) with a cold
// compilation cache, with the process-wide in-memory cache warm, and with
// a warm on-disk cache in a fresh process-like engine.
func BenchmarkCompile(b *testing.B) {
	ctx := context.Background()
	wasm := plugintest.MustRead("conformance")
	b.Run("cold", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			e, err := NewEngine(ctx, EngineConfig{NoSharedCache: true})
			require.NoError(b, err)
			_, err = e.Compile(ctx, wasm)
			require.NoError(b, err)
			e.Close(ctx)
		}
	})
	b.Run("memory-cache", func(b *testing.B) {
		warm, err := NewEngine(ctx, EngineConfig{})
		require.NoError(b, err)
		_, err = warm.Compile(ctx, wasm)
		require.NoError(b, err)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			e, err := NewEngine(ctx, EngineConfig{})
			require.NoError(b, err)
			_, err = e.Compile(ctx, wasm)
			require.NoError(b, err)
			e.Close(ctx)
		}
	})
	b.Run("disk-cache", func(b *testing.B) {
		dir := b.TempDir()
		warm, err := NewEngine(ctx, EngineConfig{NoSharedCache: true, CacheDir: dir})
		require.NoError(b, err)
		_, err = warm.Compile(ctx, wasm)
		require.NoError(b, err)
		warm.Close(ctx)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			e, err := NewEngine(ctx, EngineConfig{NoSharedCache: true, CacheDir: dir})
			require.NoError(b, err)
			_, err = e.Compile(ctx, wasm)
			require.NoError(b, err)
			e.Close(ctx)
		}
	})
	b.Run("interpreter", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			e, err := NewEngine(ctx, EngineConfig{Interpreter: true, NoSharedCache: true})
			require.NoError(b, err)
			_, err = e.Compile(ctx, wasm)
			require.NoError(b, err)
			e.Close(ctx)
		}
	})
}

// BenchmarkNewVM is the cost of one worker VM: instantiate, _initialize,
// on_vm_start and on_configure (compiled module cached).
func BenchmarkNewVM(b *testing.B) {
	ctx := context.Background()
	e, err := NewEngine(ctx, EngineConfig{})
	require.NoError(b, err)
	defer e.Close(ctx)
	m, err := e.Compile(ctx, plugintest.MustRead("conformance"))
	require.NoError(b, err)
	p := NewProcess(nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		vm, err := p.NewVM(ctx, e, m, VMConfig{VMID: "bench"})
		require.NoError(b, err)
		_, err = vm.StartPlugin(PluginConfig{Name: "noop", RootID: "noop", Configuration: []byte("noop")})
		require.NoError(b, err)
		if i == 0 {
			b.ReportMetric(float64(vm.MemoryBytes()), "vm-mem-bytes")
		}
		vm.Close()
	}
}

type recorder struct {
	discard
	replies []LocalReply
}

func (r *recorder) SendLocalReply(l LocalReply) { r.replies = append(r.replies, l) }

func TestHeaderReturnMapping(t *testing.T) {
	ctx := context.Background()
	e, err := NewEngine(ctx, EngineConfig{})
	require.NoError(t, err)
	defer e.Close(ctx)
	m, err := e.Compile(ctx, plugintest.MustRead("conformance"))
	require.NoError(t, err)
	start := func(config string) *Root {
		vm, err := NewProcess(nil).NewVM(ctx, e, m, VMConfig{})
		require.NoError(t, err)
		r, err := vm.StartPlugin(PluginConfig{Name: config, Configuration: []byte(config)})
		require.NoError(t, err)
		return r
	}
	h := func() *Headers { return NewHeaders([][2]string{{":path", "/"}}) }

	r := start("pause")
	assert.Equal(t, StopAllIterationAndWatermark, r.NewHTTPContext(discard{}, nil, FailClosed).OnRequestHeaders(h(), true),
		"Pause from a headers callback stops all iteration")
	s := r.NewHTTPContext(discard{}, nil, FailClosed)
	s.AllowOnHeadersStopIteration(true)
	assert.Equal(t, StopIteration, s.OnRequestHeaders(h(), true))

	rec := &recorder{}
	r = start("local-reply")
	assert.Equal(t, StopAllIterationAndWatermark, r.NewHTTPContext(rec, nil, FailClosed).OnRequestHeaders(h(), false),
		"the plugin returned Continue, but a local reply forces stop")
	require.Len(t, rec.replies, 1, "delivered after the callback returned")
	assert.Equal(t, 403, rec.replies[0].Status)
}
