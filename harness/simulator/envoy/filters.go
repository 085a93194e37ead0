package envoy

import (
	"fmt"
	"strings"

	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// HTTPFilter is one entry of a listener's HTTP filter chain
// (HttpConnectionManager.http_filters), in order. Filters configured
// through ECDS (config_discovery, where Istio puts WasmPlugins, ordered by
// phase and priority) are resolved from the snapshot's Extensions.
type HTTPFilter struct {
	// Name is http_filters[].name: for a discovered filter, the ECDS
	// resource name (e.g. extensions.istio.io/wasmplugin/istio-system.failover).
	Name string
	// TypeURL is the filter's configuration type.
	TypeURL string
	// Discovered: configured through ECDS; Missing: no such ECDS resource
	// in the snapshot (Envoy would use the default config or reject).
	Discovered, Missing bool
	Disabled            bool
	// Wasm is set for envoy.extensions.filters.http.wasm.v3.Wasm filters.
	Wasm *WasmFilter
}

// WasmFilter is what a runner needs to start the plugin in
// harness/wasmhost/proxywasm (PluginSpec / PluginConfig / VMConfig).
type WasmFilter struct {
	PluginName, RootID, VMID, Runtime string
	// Configuration and VMConfiguration are the plugin's and VM's
	// configuration bytes (a StringValue's or BytesValue's payload).
	Configuration, VMConfiguration []byte
	// Code is where the module comes from: a remote URI (Istio: oci://,
	// https://) with its sha256, or a local file name.
	CodeURI, CodeSHA256, CodeFile string
	// FailurePolicy is FAIL_RELOAD, FAIL_CLOSED or FAIL_OPEN (fail_open
	// maps to FAIL_OPEN; unspecified is Envoy's default, FAIL_RELOAD on
	// 1.33+).
	FailurePolicy string
	Env           map[string]string
}

// HTTPFilters returns the HTTP filter chain of the listener on port (0:
// the first HTTP listener), or an error if there is none.
func (p *Proxy) HTTPFilters(port uint32) ([]HTTPFilter, error) {
	lr := p.routes.find(port)
	if lr == nil || lr.hcm == nil {
		return nil, fmt.Errorf("envoy: proxy %q: no HTTP listener on port %d", p.cfg.Name, port)
	}
	ecds := map[string]*anypb.Any{}
	for _, x := range p.cfg.Snapshot.Extensions {
		ecds[x.GetName()] = x.GetTypedConfig()
	}
	var out []HTTPFilter
	for i, f := range lr.hcm.GetHttpFilters() {
		hf := HTTPFilter{Name: f.GetName(), Disabled: f.GetDisabled()}
		tc := f.GetTypedConfig()
		if cd := f.GetConfigDiscovery(); cd != nil {
			hf.Discovered = true
			tc = ecds[f.GetName()]
			if tc == nil {
				hf.Missing = true
				tc = cd.GetDefaultConfig()
			}
		}
		hf.TypeURL = tc.GetTypeUrl()
		if strings.HasSuffix(hf.TypeURL, "envoy.extensions.filters.http.wasm.v3.Wasm") {
			var w wasmfilterv3.Wasm
			if err := tc.UnmarshalTo(&w); err != nil {
				return nil, fmt.Errorf("envoy: listener %q: http_filters[%d] %q: %w", lr.name, i, f.GetName(), err)
			}
			wf, err := wasmFilter(w.GetConfig())
			if err != nil {
				return nil, fmt.Errorf("envoy: listener %q: http_filters[%d] %q: %w", lr.name, i, f.GetName(), err)
			}
			hf.Wasm = wf
		}
		out = append(out, hf)
	}
	return out, nil
}

func wasmFilter(pc *wasmv3.PluginConfig) (*WasmFilter, error) {
	w := &WasmFilter{PluginName: pc.GetName(), RootID: pc.GetRootId()}
	var err error
	if w.Configuration, err = anyBytes(pc.GetConfiguration()); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	vm := pc.GetVmConfig()
	w.VMID, w.Runtime = vm.GetVmId(), vm.GetRuntime()
	if w.VMConfiguration, err = anyBytes(vm.GetConfiguration()); err != nil {
		return nil, fmt.Errorf("vm_config.configuration: %w", err)
	}
	w.CodeURI = vm.GetCode().GetRemote().GetHttpUri().GetUri()
	w.CodeSHA256 = vm.GetCode().GetRemote().GetSha256()
	w.CodeFile = vm.GetCode().GetLocal().GetFilename()
	if kv := vm.GetEnvironmentVariables().GetKeyValues(); len(kv) > 0 {
		w.Env = kv
	}
	switch {
	case pc.GetFailurePolicy() != wasmv3.FailurePolicy_UNSPECIFIED:
		w.FailurePolicy = pc.GetFailurePolicy().String()
	case pc.GetFailOpen():
		w.FailurePolicy = wasmv3.FailurePolicy_FAIL_OPEN.String()
	}
	return w, nil
}

// anyBytes is the configuration bytes the plugin is handed: a
// StringValue's or BytesValue's payload, and for any other type the Any's
// serialized value as is (MessageUtil::anyToBytes, which
// source/extensions/common/wasm/plugin.h gives the plugin). A Struct or
// TypedStruct is refused: the v3 API the model builds against documents
// it as handed over as JSON (wasm.proto), the anyToBytes read hands its
// serialized bytes, so what the plugin sees depends on the Envoy release.
func anyBytes(a *anypb.Any) ([]byte, error) {
	if a == nil {
		return nil, nil
	}
	switch {
	case strings.HasSuffix(a.GetTypeUrl(), "google.protobuf.StringValue"):
		var s wrapperspb.StringValue
		if err := a.UnmarshalTo(&s); err != nil {
			return nil, err
		}
		return []byte(s.GetValue()), nil
	case strings.HasSuffix(a.GetTypeUrl(), "google.protobuf.BytesValue"):
		var b wrapperspb.BytesValue
		if err := a.UnmarshalTo(&b); err != nil {
			return nil, err
		}
		return b.GetValue(), nil
	case strings.HasSuffix(a.GetTypeUrl(), "/google.protobuf.Struct"), strings.HasSuffix(a.GetTypeUrl(), "/xds.type.v3.TypedStruct"),
		strings.HasSuffix(a.GetTypeUrl(), "/udpa.type.v1.TypedStruct"):
		return nil, fmt.Errorf("type %s: Envoy releases differ on whether the plugin gets its serialized bytes or JSON; use a StringValue or BytesValue", a.GetTypeUrl())
	}
	return a.GetValue(), nil
}
