// Command consumer is a bootstrap-style test plugin (no HTTP context): it
// registers the shared queue "events" in its VM and logs what arrives, so a
// run can exercise a producer filter of another module talking to it.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vm{}) }

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

type plugin struct{ types.DefaultPluginContext }

func (*plugin) OnPluginStart(int) types.OnPluginStartStatus {
	id, err := proxywasm.RegisterSharedQueue("events")
	if err != nil {
		proxywasm.LogErrorf("register queue: %v", err)
		return types.OnPluginStartStatusFailed
	}
	proxywasm.LogInfof("consumer queue=%d", id)
	return types.OnPluginStartStatusOK
}

func (*plugin) OnQueueReady(id uint32) {
	for {
		v, err := proxywasm.DequeueSharedQueue(id)
		if err != nil {
			return
		}
		proxywasm.LogInfof("consumed %s", v)
	}
}
