package sim

import (
	"context"
	"os"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/detour-mesh/detour/harness/simulator/sim/recorded"
	"github.com/detour-mesh/detour/harness/simulator/xds"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
	"github.com/detour-mesh/detour/plugins/module"
)

// withWasmFilters returns a recorded bookinfo sidecar's snapshot (one
// Detour WasmPlugin on the 9080 listener, vm_id "") with one more ECDS
// Wasm filter after it for each vm_id given: the same plugin under another
// name, in a VM with that id.
func withWasmFilters(t *testing.T, vmIDs ...string) *xds.Snapshot {
	t.Helper()
	b, err := os.ReadFile("testdata/xds/client-cluster-1.4c63463cbe61b49d.xds.gz")
	require.NoError(t, err)
	rec, err := recorded.Decode(b)
	require.NoError(t, err)
	snap := rec.Snapshot
	require.Len(t, snap.Extensions, 1)
	detour := snap.Extensions[0]
	var w wasmfilterv3.Wasm
	require.NoError(t, detour.GetTypedConfig().UnmarshalTo(&w))
	require.Empty(t, w.GetConfig().GetVmConfig().GetVmId())
	var added []*hcmv3.HttpFilter
	for i, id := range vmIDs {
		name := detour.GetName() + "-" + string(rune('a'+i))
		c := proto.Clone(&w).(*wasmfilterv3.Wasm)
		c.Config.Name += "-" + string(rune('a'+i))
		c.Config.GetVmConfig().VmId = id
		a, err := anypb.New(c)
		require.NoError(t, err)
		snap.Extensions = append(snap.Extensions, &corev3.TypedExtensionConfig{Name: name, TypedConfig: a})
		added = append(added, &hcmv3.HttpFilter{Name: name, ConfigType: &hcmv3.HttpFilter_ConfigDiscovery{
			ConfigDiscovery: &corev3.ExtensionConfigSource{TypeUrls: []string{"type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"}}}})
	}
	changed := 0
	for _, l := range snap.Listeners {
		if l.GetName() != "0.0.0.0_9080" {
			continue
		}
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				var h hcmv3.HttpConnectionManager
				if f.GetTypedConfig().UnmarshalTo(&h) != nil {
					continue
				}
				var chain []*hcmv3.HttpFilter
				for _, hf := range h.HttpFilters {
					chain = append(chain, hf)
					if hf.GetName() == detour.GetName() {
						chain = append(chain, added...)
						changed++
					}
				}
				h.HttpFilters = chain
				a, err := anypb.New(&h)
				require.NoError(t, err)
				f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: a}
			}
		}
	}
	require.NotZero(t, changed, "no chain on 0.0.0.0_9080 has the Detour filter")
	return snap
}

// Filters with one vm_id run as root contexts of the same VMs, one VM a
// worker; another vm_id gets VMs of its own (Envoy: wasm.cc, createWasm
// keys the VM by vm_id and code).
func TestFiltersShareVMsByVMID(t *testing.T) {
	f := mustFilters(t)
	snap := withWasmFilters(t, "", "other")
	const workers = 2
	proc, plugins, err := f.startFilters(context.Background(), snap, 9080, vclock.New(time.Time{}), workers, 1, pw.Node{ID: "client.bookinfo", Cluster: "cluster-1"})
	require.NoError(t, err)
	require.Len(t, plugins, 3)
	defer func() {
		for _, p := range plugins {
			p.Close()
		}
	}()
	assert.NotNil(t, proc)
	for _, p := range plugins {
		require.Equal(t, workers, p.Workers())
	}
	for i := range workers {
		assert.Same(t, plugins[0].VM(i), plugins[1].VM(i), "worker %d: same vm_id, one VM", i)
		assert.NotSame(t, plugins[0].VM(i), plugins[2].VM(i), "worker %d: another vm_id, another VM", i)
	}
	assert.NotSame(t, plugins[0].VM(0), plugins[0].VM(1), "each worker has its own VM")
	assert.NotSame(t, plugins[2].VM(0), plugins[2].VM(1), "each worker has its own VM")
}

// LoadFilters compiles a module, and names the module it could not
// compile.
func TestLoadFilters(t *testing.T) {
	b, err := module.Bytes()
	require.NoError(t, err)
	f, err := LoadFilters(context.Background(), b, "built")
	require.NoError(t, err)
	assert.Equal(t, "built", f.Source)
	require.NotNil(t, f.module)
	_, err = LoadFilters(context.Background(), []byte("\x00asm\x01\x00\x00\x00garbage"), "bad.wasm")
	assert.ErrorContains(t, err, "filter module bad.wasm: ")
}
