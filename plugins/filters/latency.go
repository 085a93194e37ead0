package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

	"github.com/detour-mesh/detour/plugins/latency"
	"github.com/detour-mesh/detour/plugins/outlier"
)

// latencyState is latency failover in one VM: the windows live in the VM,
// not in shared data, so an answer costs no shared-data write; each worker
// judges its own share of the traffic (with N workers, each needs
// minRequests answers) and the ejection it decides is shared like any other.
type latencyState struct {
	set latency.Settings
	ws  []latency.Window
}

// latencyOn returns the VM's latency state, built on first use; nil when
// the configuration has no detection.latency.
func (s *service) latencyOn() *latencyState {
	l := s.cfg.Detection.Latency
	if l == nil {
		return nil
	}
	if s.lat == nil {
		s.lat = &latencyState{set: latency.NewSettings(*l), ws: make([]latency.Window, len(s.cfg.Targets))}
	}
	return s.lat
}

// observeLatency counts how long target i took to answer this request
// (from the downstream request's start, request.time, to its response
// headers) and ejects the target when its p99 breaches the budget while
// another target is expected faster (latency.Settings.Move). request.time
// is a timestamp, which Envoy hands to Wasm as int64 nanoseconds
// (source/extensions/common/wasm/context.cc, serializeValue).
func (s *service) observeLatency(p *plugin, i int) {
	st := s.latencyOn()
	if st == nil {
		return
	}
	start, ok := propertyInt("request", "time")
	if !ok {
		return
	}
	now := nowMs()
	if !st.set.Observe(&st.ws[i], now-start/1e6, now) {
		return
	}
	if err := s.refresh(); err != nil {
		p.internalError(err)
		return
	}
	if s.health[i].Out {
		return
	}
	var healthy, other uint64
	for j, t := range s.cfg.Targets {
		if !s.health[j].Out {
			healthy |= 1 << uint(j)
		}
		if t.Region != s.cfg.Targets[i].Region {
			other |= 1 << uint(j)
		}
	}
	v := st.set.Move(st.ws, i, healthy, other, now)
	if !v.Move {
		return
	}
	proxywasm.LogWarnf("detour: %s: %s p99 %dms over %d answers breaches %dms; %s expected at %dms",
		s.cfg.Service.Host, s.cfg.Targets[i].Cluster, v.Observed, v.N, st.set.BudgetMs, s.cfg.Targets[v.Target].Cluster, v.Expected)
	if err := s.eject(p, i, outlier.Latency, now); err != nil {
		p.internalError(err)
	}
}

// probeTooSlow reports a probe of target i that answered slower than the
// latency budget: the target stays out, as for a failed probe (one answer
// stands in for the window the target cannot fill while ejected).
func (s *service) probeTooSlow(i int, sent, now int64) bool {
	st := s.latencyOn()
	if st == nil || now-sent <= st.set.BudgetMs {
		return false
	}
	proxywasm.LogWarnf("detour: %s: probe of %s took %dms, over the %dms budget", s.cfg.Service.Host, s.cfg.Targets[i].Cluster, now-sent, st.set.BudgetMs)
	return true
}
