package module_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/httpsim"
	"github.com/detour-mesh/detour/harness/plugintest"
	pw "github.com/detour-mesh/detour/harness/proxywasm"
)

// rewriteModule is the compiled header-rewriting plugin.
func rewriteModule(t testing.TB) *pw.Module {
	bin := plugintest.MustReadPackage("headerrewrite", "./plugins/module/testdata/headerrewrite")
	m, err := engine.Compile(context.Background(), bin)
	require.NoError(t, err)
	return m
}

// rewriteWorld is the edge-auto gateway with only the trivial
// header-rewriting filter instead of Detour's three.
func rewriteWorld(b testing.TB) *world {
	w := newWorld(b, edgeAuto, worldOpts{workers: 1})
	ctx := context.Background()
	pl, err := w.proc.StartPlugin(ctx, pw.PluginSpec{Engine: engine, Module: rewriteModule(b), Workers: 1, FailurePolicy: pw.FailOpen,
		VM: pw.VMConfig{VMID: "rewrite"}, Plugin: pw.PluginConfig{Name: "rewrite", RootID: "rewrite"}})
	require.NoError(b, err)
	w.gw = &httpsim.Gateway{Process: w.proc, Filters: []*pw.Plugin{pl}, Router: w.route, Upstream: w.upstream, Clusters: w.HasCluster}
	return w
}

func (w *world) one(b testing.TB) {
	s := w.request(0, "GET")
	w.clock.Advance(10 * time.Millisecond)
	if !s.Complete || s.Response.Status != 200 {
		b.Fatalf("request failed: %+v", s.Response)
	}
}

// BenchmarkRequest is one healthy GET through the gateway: Detour's
// filters with the compiled edge-auto configuration in the three layouts
// (three root IDs in one VM as compiled, a VM per filter as three modules
// would run, one combined root ID), the trivial header-rewriting filter,
// and no filter (the harness's own cost), in one run.
func BenchmarkRequest(b *testing.B) {
	for _, layout := range []string{"", "modules", "combined"} {
		name := "detour"
		if layout != "" {
			name += "-" + layout
		}
		b.Run(name, func(b *testing.B) {
			w := newWorld(b, edgeAuto, worldOpts{workers: 1, layout: layout})
			b.ResetTimer()
			for range b.N {
				w.one(b)
			}
		})
	}
	b.Run("header-rewrite", func(b *testing.B) {
		w := rewriteWorld(b)
		b.ResetTimer()
		for range b.N {
			w.one(b)
		}
	})
	b.Run("no-filter", func(b *testing.B) {
		w := newWorld(b, edgeAuto, worldOpts{workers: 1})
		w.gw.Filters = nil
		b.ResetTimer()
		for range b.N {
			w.one(b)
		}
	})
}

// vmMemory is the linear memory of every distinct VM of worker 0, in bytes.
func (w *world) vmMemory() (total uint32, vms int) {
	seen := map[*pw.VM]bool{}
	for _, pl := range w.plugins {
		vm := pl.VM(0)
		if !seen[vm] {
			seen[vm] = true
			total += vm.MemoryBytes()
		}
	}
	return total, len(seen)
}

// TestMemoryFlat runs 100k requests through one worker after a warm-up
// of 30k (the Go heap reaches its steady size by about 20k) and fails if
// the VM's memory grew: Wasm memory never shrinks, so growth under steady
// traffic is a leak. Figures for every layout: BENCHMARKS.md.
func TestMemoryFlat(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1})
	start, vms := w.vmMemory()
	require.Equal(t, 1, vms, "three root IDs share one VM per worker")
	for range 30_000 {
		w.one(t)
	}
	warm, _ := w.vmMemory()
	for range 100_000 {
		w.one(t)
	}
	end, _ := w.vmMemory()
	t.Logf("one worker VM: start %d KiB, after 30k requests %d KiB, after 130k %d KiB", start/1024, warm/1024, end/1024)
	require.Equal(t, warm, end, "memory grew under steady traffic")
	w.noTraps()
}
