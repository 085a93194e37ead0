package sim

import (
	"time"

	"github.com/detour-mesh/detour/harness/simulator/envoy"
	"github.com/detour-mesh/detour/harness/simulator/xds"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
	"github.com/detour-mesh/detour/plugins/config"
)

// rampSteps reads each service's ramp step interval from the Detour
// filters' configuration in the listener's chain (the log gives the
// hold-down and the percentages, not the interval).
func rampSteps(snap *xds.Snapshot, port uint32) map[string]time.Duration {
	out := map[string]time.Duration{}
	scratch, err := envoy.New(envoy.Config{Name: entryName, Snapshot: snap, Clock: vclock.New(time.Time{}), Network: nopNetwork{}})
	if err != nil {
		return out
	}
	defer scratch.Stop()
	chain, err := scratch.HTTPFilters(port)
	if err != nil {
		return out
	}
	for _, hf := range chain {
		if hf.Wasm == nil {
			continue
		}
		if c, err := config.Parse(hf.Wasm.Configuration); err == nil {
			out[c.Service.Host] = time.Duration(max(c.Failback.StepIntervalMs, 1)) * time.Millisecond
		}
	}
	return out
}
