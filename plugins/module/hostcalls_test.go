package module_test

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHealthyRequestHostCalls counts the host calls (proxy-wasm and WASI
// imports) one healthy GET costs in each layout, outside ticks: the
// noise-free measure of the filters' per-request cost (each call is a
// guest/host transition, and each one returning data a nested
// proxy_on_memory_allocate into the guest). A change that adds a host call
// to the fast path must raise the ceiling here deliberately.
func TestHealthyRequestHostCalls(t *testing.T) {
	for _, tc := range []struct {
		layout  string
		max     int
		latency bool
		// Host-aware spill reads upstream.address on every response (a
		// host out of rotation shows only as answers without it); a
		// healthy host's last-seen time is refreshed by the tick, not by a
		// request. The response's status
		// and its gRPC headers are one read of the response headers. A
		// success also reads upstream.request_attempt_count (an answer
		// Envoy's retry saved marks the target suspect): one call. In the
		// combined root ID an upstream's answer to a request the router
		// part routed is the routed target's, without reading
		// xds.cluster_name, and its per-target requests counter is added
		// on the tick; its router reads the health generation on one
		// request in eight (1.14 shared-data reads per request). The routing
		// header's change re-selects the route by itself (TestModuleABI):
		// no clear_route_cache call.
	}{{"split", 12, false}, {"", 9, false}, {"modules", 14, false}, {"split", 14, true}, {"", 11, true}} {
		name := "layout=" + tc.layout
		var configure func(map[string]any)
		if tc.latency {
			// Latency tracking reads request.time and the clock per answer.
			name, configure = name+"/latency", withLatency
		}
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, edgeAuto, worldOpts{workers: 1, layout: tc.layout, configure: configure})
			for range 50 {
				w.one(t)
			}
			calls := map[string]int{}
			var callback string
			w.proc.Trace = func(_ string, _ int, cb string, _ uint32) { callback = cb }
			w.proc.HostCall = func(_ string, _ int, fn string) {
				if callback != "proxy_on_tick" {
					calls[fn]++
				}
			}
			const n = 200
			for range n {
				w.one(t)
			}
			w.proc.Trace, w.proc.HostCall = nil, nil
			total := 0
			var names []string
			for fn, c := range calls {
				total += c
				names = append(names, fn)
			}
			sort.Strings(names)
			for _, fn := range names {
				t.Logf("%-40s %.2f per request", fn, float64(calls[fn])/n)
			}
			require.Positive(t, total, "the hook sees host calls")
			// n/25 leaves room for the Go runtimes' own clock reads when a
			// garbage collection starts (in proxy_on_context_create, where
			// the stream is allocated): where a cycle falls shifts with the
			// heap's layout, not with the per-request path.
			require.LessOrEqual(t, total, tc.max*n+n/25, "host calls per healthy request")
			w.noTraps()
		})
	}
}
