// Command filters is Detour's proxy-wasm module: one module exposing the
// three filters in one root ID (WasmPlugin.pluginName) config.PluginCombined,
// the compiled default, and each as its own root ID, config.PluginOutlier,
// config.PluginRouter and config.PluginRetry (compile --split-filters). It is the thin glue between
// the proxy-wasm Go SDK and the decision cores in plugins/outlier,
// plugins/router and plugins/retry. Build with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o detour-filters.wasm ./plugins/filters
//
// Every callback recovers panics and fails open: an internal error is
// logged once per plugin and the request continues untouched.
package main

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/detour-mesh/detour/plugins/config"
)

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

type kind uint8

const (
	kindOutlier kind = iota + 1
	kindRouter
	kindRetry
	kindCombined
)

// plugin is one root context: one of the three filters for one service.
type plugin struct {
	types.DefaultPluginContext
	kind   kind
	rootID string
	svc    *service
	// rnd are the random sequences of the router, retry and outlier parts
	// (random): one each, so the combined root ID draws exactly what the
	// three root IDs draw, each from its own.
	rnd    [3]uint64
	broken bool // an internal error was logged; later ones are not
	free   streamPool
}

// nowMs is the wall clock in milliseconds (wallClockNs: one host call,
// where time.Now makes two).
func nowMs() int64 { return wallClockNs() / 1e6 }

// failOpen recovers a panic in a callback and logs it once.
func (p *plugin) failOpen() {
	if r := recover(); r != nil {
		p.internalError(fmt.Errorf("panic: %v", r))
	}
}

// exit ends a callback marked with enter: it fails open on a panic, as
// failOpen, and leaves. A callback takes one deferred call (each costs
// runtime calls in a Go guest, about 1 % of a request apiece), so the
// parts of a combined stream run under their stream's exit, not their own.
func (p *plugin) exit() {
	if r := recover(); r != nil {
		p.internalError(fmt.Errorf("panic: %v", r))
	}
	leave()
}

func (p *plugin) internalError(err error) {
	if p.svc != nil {
		p.svc.m.errors.Increment(1)
	}
	if p.broken {
		return
	}
	p.broken = true
	proxywasm.LogErrorf("detour: %s: internal error, failing open: %v", p.rootID, err)
}

func (p *plugin) OnPluginStart(int) (st types.OnPluginStartStatus) {
	defer func() {
		if r := recover(); r != nil {
			proxywasm.LogErrorf("detour: %s: panic while configuring: %v", p.rootID, r)
			st = types.OnPluginStartStatusFailed
		}
	}()
	id, err := proxywasm.GetProperty([]string{"plugin_root_id"})
	if err != nil {
		proxywasm.LogErrorf("detour: cannot read plugin_root_id: %v", err)
		return types.OnPluginStartStatusFailed
	}
	p.rootID = string(id)
	switch p.rootID {
	case config.PluginOutlier:
		p.kind = kindOutlier
	case config.PluginRouter:
		p.kind = kindRouter
	case config.PluginRetry:
		p.kind = kindRetry
	case config.PluginCombined:
		p.kind = kindCombined
	default:
		proxywasm.LogErrorf("detour: root id %q is not one of %s, %s, %s, %s", p.rootID, config.PluginOutlier, config.PluginRouter, config.PluginRetry, config.PluginCombined)
		return types.OnPluginStartStatusFailed
	}
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil {
		proxywasm.LogErrorf("detour: %s: plugin config: %v", p.rootID, err)
		return types.OnPluginStartStatusFailed
	}
	svc, err := newService(data)
	if err != nil {
		proxywasm.LogErrorf("detour: %s: %v", p.rootID, err)
		return types.OnPluginStartStatusFailed
	}
	p.svc = svc
	if p.kind == kindCombined {
		svc.genEvery = genEveryCombined // its tick and responses share the router's cache
	}
	if p.kind == kindRouter || p.kind == kindCombined {
		svc.loadCellKeys(p.rootID)
	}
	if p.kind == kindRetry || p.kind == kindCombined {
		if err := svc.claimSlot(); err != nil {
			proxywasm.LogErrorf("detour: %s: retry budget slot: %v", p.rootID, err)
			return types.OnPluginStartStatusFailed
		}
	}
	// Seeded from the runtime's random source (WASI random_get), not the
	// clock: worker VMs started in the same instant (every VM under a
	// virtual clock) drew the same sequence, so consecutive requests on
	// different workers picked the same target and the split came in
	// bursts (in the two-pods drill, seconds at 63 % local against a 47 %
	// share, overloading the pod left). One seed per part, as the three
	// root IDs each seed their own.
	p.rnd = [3]uint64{rand.Uint64() | 1, rand.Uint64() | 1, rand.Uint64() | 1}
	if p.kind == kindOutlier || p.kind == kindCombined {
		// The tick sends the probes: at least as often as the probe
		// period (failback.probeIntervalMs), not below 100 ms.
		period := max(min(svc.det.IntervalMs, 1000, svc.det.ProbeMs), 100)
		if err := proxywasm.SetTickPeriodMilliSeconds(uint32(period)); err != nil {
			proxywasm.LogErrorf("detour: %s: set tick period: %v", p.rootID, err)
			return types.OnPluginStartStatusFailed
		}
	}
	proxywasm.LogInfof("detour: %s: configured for %s (%d targets, mode %s)", p.rootID, svc.cfg.Service.Host, len(svc.cfg.Targets), svc.cfg.Mode)
	return types.OnPluginStartStatusOK
}

// The parts' random sequences.
const (
	partRouter = iota
	partRetry
	partOutlier
)

// random is xorshift64* on part's sequence, enough for picking among
// weighted targets.
func (p *plugin) random(part int) uint32 {
	x := p.rnd[part]
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	p.rnd[part] = x
	return uint32((x * 2685821657736338717) >> 32)
}

func (p *plugin) NewHttpContext(id uint32) types.HttpContext {
	if p.svc == nil {
		return nil
	}
	switch p.kind {
	case kindRouter:
		return &routerStream{p: p}
	case kindOutlier:
		return &outlierStream{p: p}
	case kindRetry:
		return &retryStream{p: p, id: id}
	case kindCombined:
		c := p.free.get()
		*c = combinedStream{r: routerStream{p: p}, o: outlierStream{p: p}, rt: retryStream{p: p, id: id}}
		return c
	}
	return nil
}

func (p *plugin) OnTick() {
	defer p.failOpen()
	if p.kind != kindOutlier && p.kind != kindCombined || p.svc == nil {
		return
	}
	if err := p.svc.tick(p, nowMs()); err != nil {
		p.internalError(err)
	}
}

// --- shared data --------------------------------------------------------------

var errCASRetries = errors.New("shared data: too many compare-and-swap conflicts")

// update runs a compare-and-swap loop on key: f gets the current value and
// returns the new one, or nil to leave it unchanged.
func update(key string, f func(old []byte) []byte) error {
	for range 16 {
		old, cas, err := getSharedData(key)
		if err != nil && !errors.Is(err, types.ErrorStatusNotFound) {
			return err
		}
		nv := f(old)
		if nv == nil {
			return nil
		}
		err = proxywasm.SetSharedData(key, nv, cas)
		if err == nil {
			return nil
		}
		if !errors.Is(err, types.ErrorStatusCasMismatch) {
			return err
		}
	}
	return errCASRetries
}

// --- properties ---------------------------------------------------------------

func propertyInt(path ...string) (int64, bool) {
	b, err := getProperty(path...)
	if err != nil || len(b) != 8 {
		return 0, false
	}
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return int64(v), true
}

// hostOnly drops a port from an authority.
func hostOnly(a string) string {
	for i := len(a) - 1; i >= 0; i-- {
		switch a[i] {
		case ':':
			return a[:i]
		case ']':
			return a
		}
		if a[i] < '0' || a[i] > '9' {
			return a
		}
	}
	return a
}

// setGauge sets a gauge (the ABI only adds to gauges).
func setGauge(g proxywasm.MetricGauge, v int64) {
	if d := v - g.Value(); d != 0 {
		g.Add(d)
	}
}
