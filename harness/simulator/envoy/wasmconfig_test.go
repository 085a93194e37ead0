package envoy

import (
	"testing"

	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The plugin (and VM) configuration a Wasm plugin is handed follows
// MessageUtil::anyToBytes, which source/extensions/common/wasm/plugin.h
// passes to the plugin: a StringValue's or BytesValue's payload, and for
// any other type the Any's serialized value, not an error. A Struct is
// refused: the release decides between its bytes and JSON.
func TestWasmConfigurationAnyType(t *testing.T) {
	dur := durationpb.New(1500000000)
	durBytes, err := proto.Marshal(dur)
	require.NoError(t, err)
	st, err := structpb.NewStruct(map[string]any{"a": "b"})
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		config *anypb.Any
		want   []byte
		err    string
	}{
		{"none", nil, nil, ""},
		{"string value", mustAny(wrapperspb.String(`{"k":1}`)), []byte(`{"k":1}`), ""},
		{"bytes value", mustAny(wrapperspb.Bytes([]byte{0, 1, 2})), []byte{0, 1, 2}, ""},
		{"other type: its serialized bytes", mustAny(dur), durBytes, ""},
		{"unknown type URL: its bytes as given", &anypb.Any{TypeUrl: "type.googleapis.com/acme.Config", Value: []byte("raw")}, []byte("raw"), ""},
		{"struct", mustAny(st), nil, "google.protobuf.Struct: Envoy releases differ"},
	} {
		for _, vm := range []bool{false, true} {
			pc := &wasmv3.PluginConfig{Name: "p"}
			if vm {
				pc.Vm = &wasmv3.PluginConfig_VmConfig{VmConfig: &wasmv3.VmConfig{Configuration: tc.config}}
			} else {
				pc.Configuration = tc.config
			}
			w, err := wasmFilter(pc)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err, "%s vm=%v", tc.name, vm)
				continue
			}
			require.NoError(t, err, "%s vm=%v", tc.name, vm)
			got := w.Configuration
			if vm {
				got = w.VMConfiguration
			}
			assert.Equal(t, tc.want, got, "%s vm=%v", tc.name, vm)
		}
	}
}
