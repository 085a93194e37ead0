package httpsim_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

// Envoy's log line is "wasm log<prefix>: msg", the prefix naming each of
// plugin name, root id and vm id that is set (proxy-wasm-cpp-host
// PluginBase::makeLogPrefix, used by Envoy's context.cc log()).
func TestLogPrefixCombinations(t *testing.T) {
	tests := []struct{ name, root, vm, want string }{
		{"", "", "", "wasm log: "},
		{"n", "", "", "wasm log n: "},
		{"", "r", "", "wasm log r: "},
		{"", "", "v", "wasm log v: "},
		{"n", "r", "", "wasm log n r: "},
		{"n", "", "v", "wasm log n v: "},
		{"", "r", "v", "wasm log r v: "},
		{"n", "r", "v", "wasm log n r v: "},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			p := pw.NewProcess(nil)
			pl, err := p.StartPlugin(context.Background(), pw.PluginSpec{
				Engine: engine, Module: module, VM: pw.VMConfig{VMID: tc.vm},
				Plugin: pw.PluginConfig{Name: tc.name, RootID: tc.root, Configuration: []byte("hello")},
			})
			require.NoError(t, err)
			defer pl.Close()
			logs := p.Logs()
			require.NotEmpty(t, logs)
			assert.Equal(t, tc.want+logs[0].Message, logs[0].Envoy)
		})
	}
}
