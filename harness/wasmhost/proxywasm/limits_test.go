package proxywasm

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/plugintest"
)

// hogEngine is an engine with a short callback budget and a small memory
// cap, and the hog plugin compiled in it.
// hogVM starts one VM of the hog module in a fresh process, closed when
// the test ends.
func hogVM(t *testing.T, e *Engine, m *Module) (*Process, *VM) {
	t.Helper()
	p := NewProcess(nil)
	vm, err := p.NewVM(context.Background(), e, m, VMConfig{VMID: "hog"})
	require.NoError(t, err)
	t.Cleanup(func() { vm.Close() })
	return p, vm
}

func hogEngine(t *testing.T, budget time.Duration, pages uint32) (*Engine, *Module) {
	t.Helper()
	ctx := context.Background()
	e, err := NewEngine(ctx, EngineConfig{CallBudget: budget, MemoryLimitPages: pages})
	require.NoError(t, err)
	t.Cleanup(func() { e.Close(ctx) })
	m, err := e.Compile(ctx, plugintest.MustRead("hog"))
	require.NoError(t, err)
	return e, m
}

// The budget is far above what a returning callback needs and far below
// the test timeout: only a callback that never returns can reach it.
const testBudget = 500 * time.Millisecond

// TestCallBudget: a guest that never returns traps once its callback's
// budget is spent, wherever it loops; the trap names the budget, and a
// stream on the failed VM gets the failure policy's answer.
func TestCallBudget(t *testing.T) {
	e, m := hogEngine(t, testBudget, 0)
	ctx := context.Background()

	t.Run("request_headers", func(t *testing.T) {
		p, vm := hogVM(t, e, m)
		r, err := vm.StartPlugin(PluginConfig{Name: "hog", Configuration: []byte("loop:request_headers")})
		require.NoError(t, err)
		var cb recorder
		s := r.NewHTTPContext(&cb, nil, FailClosed)
		s.OnRequestHeaders(NewHeaders([][2]string{{":path", "/"}}), true)
		require.True(t, vm.Failed())
		traps := p.Traps()
		require.Len(t, traps, 1)
		assert.Equal(t, "proxy_on_request_headers", traps[0].Callback)
		assert.Contains(t, traps[0].Message, "execution budget of 500ms")
		require.Len(t, cb.replies, 1, "FAIL_CLOSED answers the stream")
		assert.Equal(t, 503, int(cb.replies[0].Status))
	})
	t.Run("configure", func(t *testing.T) {
		_, vm := hogVM(t, e, m)
		_, err := vm.StartPlugin(PluginConfig{Name: "hog", Configuration: []byte("loop:configure")})
		require.ErrorIs(t, err, ErrVMFailed)
		assert.Contains(t, err.Error(), "proxy_on_configure")
		assert.Contains(t, err.Error(), "execution budget")
	})
	t.Run("_initialize", func(t *testing.T) {
		p := NewProcess(nil)
		_, err := p.NewVM(ctx, e, m, VMConfig{VMID: "hog", Env: [][2]string{{"HOG", "loop"}}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "module start _initialize failed")
		assert.Contains(t, err.Error(), "execution budget")
	})
	t.Run("run cancelled", func(t *testing.T) {
		// The run's context ends a callback even within its budget.
		e, m := hogEngine(t, time.Hour, 0)
		p := NewProcess(nil)
		rctx, cancel := context.WithCancel(ctx)
		vm, err := p.NewVM(rctx, e, m, VMConfig{VMID: "hog"})
		require.NoError(t, err)
		defer vm.Close()
		r, err := vm.StartPlugin(PluginConfig{Name: "hog", Configuration: []byte("loop:request_headers")})
		require.NoError(t, err)
		p.Trace = func(_ string, _ int, cb string, _ uint32) {
			if cb == "proxy_on_request_headers" {
				cancel()
			}
		}
		r.NewHTTPContext(discard{}, nil, FailClosed).OnRequestHeaders(NewHeaders(nil), true)
		require.True(t, vm.Failed())
		assert.Contains(t, p.Traps()[0].Message, "context canceled")
	})
}

// TestMemoryLimit: a guest allocating without end stops at the VM's page
// cap and traps; its memory never exceeds the cap.
func TestMemoryLimit(t *testing.T) {
	const pages = 1024 // 64 MiB
	// A budget far above the run's needs: the cap must stop the guest.
	e, m := hogEngine(t, time.Minute, pages)
	ctx := context.Background()

	t.Run("request_headers", func(t *testing.T) {
		p, vm := hogVM(t, e, m)
		r, err := vm.StartPlugin(PluginConfig{Name: "hog", Configuration: []byte("alloc:request_headers")})
		require.NoError(t, err)
		r.NewHTTPContext(discard{}, nil, FailClosed).OnRequestHeaders(NewHeaders(nil), true)
		require.True(t, vm.Failed())
		require.Len(t, p.Traps(), 1)
		assert.Equal(t, "proxy_on_request_headers", p.Traps()[0].Callback)
		assert.NotContains(t, p.Traps()[0].Message, "budget", "the cap, not the budget, stopped it")
		var logged string
		for _, l := range p.Logs() {
			logged += l.Message
		}
		assert.Contains(t, logged, "out of memory")
		assert.LessOrEqual(t, vm.MemoryBytes(), uint32(pages*65536))
		assert.Greater(t, vm.MemoryBytes(), uint32(pages*65536/2), "the guest did grow towards the cap")
	})
	t.Run("_initialize", func(t *testing.T) {
		_, err := NewProcess(nil).NewVM(ctx, e, m, VMConfig{VMID: "hog", Env: [][2]string{{"HOG", "alloc"}}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "module start _initialize failed")
	})
	t.Run("cap above wasm32", func(t *testing.T) {
		_, err := NewEngine(ctx, EngineConfig{MemoryLimitPages: 1<<16 + 1})
		require.ErrorContains(t, err, "expected at most 65536")
	})
}
