package module_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

// TestPinnedRouteSuccessesAreNotTheTargets: a composed (team) route pinned
// to a target's header sends its requests to a version subset's cluster
// (outbound|PORT|v2-cluster-X|HOST, compiler/lower PinnedSubset), which is
// none of the targets' clusters and may be served from another cluster
// (the subset's failover). Its successes are not the target's: a target
// whose own route answers only 503s is ejected for consecutive errors in
// every layout, whatever the pinned route answers in between. The
// compiler marks such a configuration composed (compiler/lower
// PluginConfig); then the combined layout reads each answer's cluster
// instead of taking the router's pick.
func TestPinnedRouteSuccessesAreNotTheTargets(t *testing.T) {
	for _, layout := range []string{"split", ""} {
		t.Run("layout="+layout, func(t *testing.T) {
			w := newWorld(t, edgeAuto, worldOpts{workers: 1, layout: layout, configure: func(c map[string]any) { c["composed"] = true }})
			compiled := w.route
			w.gw.Router = func(h *pw.Headers) (httpsim.Route, bool) {
				r, ok := compiled(h)
				p, _ := h.Get(":path")
				if v, has := h.Get(w.cfg.Headers.Cluster); has && strings.HasPrefix(p, "/v2") {
					r.Name = "team-v2-" + v
					r.Cluster = fmt.Sprintf("outbound|%d|v2-cluster-%s|%s", w.cfg.Service.Port, v, w.cfg.Service.Host)
				}
				return r, ok
			}
			w.status["cluster-1a"] = 503
			for i := range 400 {
				path := "/v2/productpage"
				if i%4 == 3 {
					path = "/productpage"
				}
				h := [][2]string{{":method", "GET"}, {":path", path}, {":scheme", "http"}, {":authority", w.cfg.Service.Authorities[0]}}
				s := w.gw.Send(httpsim.Request{Headers: h, Worker: 0})
				w.clock.Advance(10 * time.Millisecond)
				require.True(t, s.Complete)
			}
			assert.NotEmpty(t, w.logs("ejected cluster-1a"), "the pinned route's successes are not cluster-1a's")
			w.noTraps()
		})
	}
}
