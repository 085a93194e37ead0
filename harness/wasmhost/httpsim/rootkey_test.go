package httpsim_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

// TestSameRootIDTwoPluginsOneVM: Envoy keys a VM's root contexts by root
// id, configuration and plugin name (proxy-wasm-cpp-host PluginBase's key,
// to which Envoy's Plugin adds the name: createPluginKey in
// source/extensions/common/wasm/plugin.h; WasmBase::start looks the key
// up in root_contexts_). Two plugins in one VM with the same root id, here
// the common empty one, are two root contexts: the shape of the SDK's
// shared_queue example (a receiver registers the queue, a sender in the
// same VM enqueues from its stream and the receiver's root drains it).
func TestSameRootIDTwoPluginsOneVM(t *testing.T) {
	e := newEnv(t, 1, filter{name: "receiver", config: "queue", vmID: "shared", noRootID: true})
	sender, err := e.p.StartPlugin(t.Context(), pw.PluginSpec{ShareVMWith: e.plugins[0], Module: module,
		VM: pw.VMConfig{VMID: "shared"}, Plugin: pw.PluginConfig{Name: "sender", Configuration: []byte("produce shared events")}})
	require.NoError(t, err, "a second root context with the same, empty, root id starts")
	assert.Empty(t, e.plugins[0].Root(0).Config().RootID)
	assert.Empty(t, sender.Root(0).Config().RootID)
	assert.Same(t, e.plugins[0].VM(0), sender.VM(0))
	assert.NotEqual(t, e.plugins[0].Root(0).ID(), sender.Root(0).ID(), "one root context each")
	e.g.Filters = append(e.g.Filters, sender)
	e.trace = nil
	e.run(get(t))
	assert.Equal(t, "produced to shared/events err=ok", e.log("produced to"))
	assert.NotEmpty(t, e.logs("queue ready id=1 item=/p"), "the receiver's root drained what the sender's stream enqueued")
	assert.Contains(t, e.trace, "shared:0:proxy_on_queue_ready:1", "delivered to the receiver's root context (id 1)")

	// The same name, root id and configuration again is the same key:
	// Envoy hands back the root context it has.
	again, err := e.plugins[0].VM(0).StartPlugin(e.plugins[0].Root(0).Config())
	require.NoError(t, err)
	assert.Same(t, e.plugins[0].Root(0), again)
}

// TestHTTPCallRecordsNameThePlugin: every recorded http_call names the
// plugin that made it, by name, else by root id (the way Envoy's log
// prefix names whichever is set, PluginBase::makeLogPrefix), and carries
// the root id.
func TestHTTPCallRecordsNameThePlugin(t *testing.T) {
	e := newEnv(t, 1, filter{name: "named", config: "httpcall auth"})
	unnamed, err := e.p.StartPlugin(t.Context(), pw.PluginSpec{Engine: engine, Module: module, Workers: 1,
		VM: pw.VMConfig{VMID: "other"}, Plugin: pw.PluginConfig{RootID: "auth-root", Configuration: []byte("httpcall auth")}})
	require.NoError(t, err)
	t.Cleanup(unnamed.Close)
	e.calls["auth"] = pw.HTTPCallResult{Status: 200}
	e.g.Filters = append(e.g.Filters, unnamed)
	e.run(get(t))
	calls := e.p.HTTPCallRecords()
	require.Len(t, calls, 2)
	got := map[string]string{}
	for _, c := range calls {
		got[c.Plugin] = c.RootID
	}
	assert.Equal(t, map[string]string{"named": "named", "auth-root": "auth-root"}, got)
}
