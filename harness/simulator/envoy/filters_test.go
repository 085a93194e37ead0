package envoy

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}

func wasmConfig(name, cfg string, failOpen bool) *wasmfilterv3.Wasm {
	return &wasmfilterv3.Wasm{Config: &wasmv3.PluginConfig{
		Name: name, RootId: name, FailOpen: failOpen,
		Configuration: mustAny(wrapperspb.String(cfg)),
		Vm: &wasmv3.PluginConfig_VmConfig{VmConfig: &wasmv3.VmConfig{VmId: "detour", Runtime: "envoy.wasm.runtime.v8",
			Code: &corev3.AsyncDataSource{Specifier: &corev3.AsyncDataSource_Remote{Remote: &corev3.RemoteDataSource{
				HttpUri: &corev3.HttpUri{Uri: "oci://ghcr.io/detour/filters:1"}, Sha256: "abc"}}}}},
	}}
}

// The filter chain as the listener orders it, ECDS entries resolved from
// the snapshot's extension configs.
func TestHTTPFilters(t *testing.T) {
	s := basicSnapshot()
	l := s.Listeners[0]
	var h hcmv3.HttpConnectionManager
	require.NoError(t, l.FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(&h))
	ecds := func(name string) *hcmv3.HttpFilter {
		return &hcmv3.HttpFilter{Name: name, ConfigType: &hcmv3.HttpFilter_ConfigDiscovery{ConfigDiscovery: &corev3.ExtensionConfigSource{
			ConfigSource: &corev3.ConfigSource{ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}},
			TypeUrls:     []string{"type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"}}}}
	}
	h.HttpFilters = []*hcmv3.HttpFilter{
		ecds("extensions.istio.io/wasmplugin/istio-system.authn"),
		{Name: "inline", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(wasmConfig("inline", "", true))}},
		ecds("extensions.istio.io/wasmplugin/istio-system.gone"),
		{Name: "envoy.filters.http.router", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerv3.Router{})}},
	}
	l.FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(&h)}
	s.Extensions = append(s.Extensions, &corev3.TypedExtensionConfig{Name: "extensions.istio.io/wasmplugin/istio-system.authn",
		TypedConfig: mustAny(wasmConfig("istio-system.authn", `{"mode":"strict"}`, false))})
	p, _ := newTestProxy(s, &fakeNet{})
	fs, err := p.HTTPFilters(8080)
	require.NoError(t, err)
	require.Len(t, fs, 4)
	assert.True(t, fs[0].Discovered)
	require.NotNil(t, fs[0].Wasm)
	assert.Equal(t, WasmFilter{PluginName: "istio-system.authn", RootID: "istio-system.authn", VMID: "detour",
		Runtime: "envoy.wasm.runtime.v8", Configuration: []byte(`{"mode":"strict"}`), CodeURI: "oci://ghcr.io/detour/filters:1",
		CodeSHA256: "abc"}, *fs[0].Wasm)
	assert.Equal(t, "FAIL_OPEN", fs[1].Wasm.FailurePolicy)
	assert.True(t, fs[2].Missing)
	assert.Nil(t, fs[2].Wasm)
	assert.Equal(t, "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router", fs[3].TypeURL)
	_, err = p.HTTPFilters(9999)
	assert.ErrorContains(t, err, "no HTTP listener on port 9999")
}
