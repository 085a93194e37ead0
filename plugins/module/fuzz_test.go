package module_test

import (
	"strings"
	"testing"
	"time"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
)

// FuzzRequestPath sends arbitrary requests, upstream answers and retry
// answers through the built filters with the compiled edge-auto
// configuration: every stream completes and no VM traps. One gateway
// serves the whole run, so health and budget state carry across inputs.
func FuzzRequestPath(f *testing.F) {
	f.Add("GET", "bookinfo.example.com", "x-detour-cluster", "cluster-2", []byte(""), 503, uint8(0), uint8(1))
	f.Add("PUT", "bookinfo.example.com:80", "x-detour-cell", "evil", []byte("body"), 200, uint8(1), uint8(0))
	f.Add("", "", "", "", []byte{0, 1}, 0, uint8(4), uint8(3))
	var w *world
	f.Fuzz(func(t *testing.T, method, authority, hk, hv string, body []byte, status int, fault, dead uint8) {
		if w == nil {
			w = newWorld(t, edgeAuto, worldOpts{workers: 2})
		}
		w.t = t
		faults := []string{"", "connect_failure", "reset", "timeout", "no_healthy_upstream", "overflow"}
		for i, tg := range w.cfg.Targets {
			w.dead[tg.Cluster] = dead&(1<<i) != 0
		}
		h := [][2]string{{":method", method}, {":path", "/"}, {":scheme", "http"}, {":authority", authority}}
		if hk = strings.ToLower(hk); hk != "" && !strings.HasPrefix(hk, ":") {
			h = append(h, [2]string{hk, hv})
		}
		var chunks [][]byte
		if len(body) > 0 {
			chunks = [][]byte{body}
		}
		s := w.gw.Send(httpsim.Request{Headers: h, Body: chunks, Worker: int(dead) % 2, Upstream: func(*httpsim.UpstreamRequest) httpsim.UpstreamResponse {
			return httpsim.UpstreamResponse{Status: status % 1000, Fault: faults[int(fault)%len(faults)], Delay: time.Millisecond}
		}})
		w.clock.Advance(20 * time.Second)
		if !s.Complete {
			t.Fatal("stream incomplete")
		}
		if tr := w.proc.Traps(); len(tr) > 0 {
			t.Fatalf("trap: %+v", tr)
		}
	})
}
