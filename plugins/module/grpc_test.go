package module_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/plugins/config"
)

// TestGrpcStatusDecidesEjection: a 200 from a gRPC server carries the
// call's outcome in grpc-status (in the headers of a trailers-only answer,
// else in the trailers). The outlier filter reads it only when the
// content-type is gRPC, as Envoy's Grpc::Common::hasGrpcContentType does:
// application/grpc alone or followed by '+' or ';'. A failing status
// (UNAVAILABLE, 14: a 503) then counts toward ejection, here on the
// third in a row; OK does not, and
// neither does any status on a response that is not gRPC (the whole
// prefix is compared, so a content-type of gRPC's length is not gRPC).
// The headers' grpc-status decides even when a body and trailers follow:
// Envoy's router hands it to outlier detection in onUpstreamHeaders
// (source/common/router/router.cc) and reads the trailers' only when the
// headers carry none.
func TestGrpcStatusDecidesEjection(t *testing.T) {
	for _, tc := range []struct {
		name        string
		headers     [][2]string
		body        []byte
		trailers    [][2]string
		wantEjected bool
	}{
		{"trailers-only", [][2]string{{"content-type", "application/grpc"}, {"grpc-status", "14"}}, nil, nil, true},
		{"+proto", [][2]string{{"content-type", "application/grpc+proto"}, {"grpc-status", "14"}}, nil, nil, true},
		{";parameters", [][2]string{{"content-type", "application/grpc;charset=utf-8"}, {"grpc-status", "14"}}, nil, nil, true},
		{"any case", [][2]string{{"content-type", "APPLICATION/GRPC"}, {"grpc-status", "14"}}, nil, nil, true},
		{"in the trailers", [][2]string{{"content-type", "application/grpc"}}, nil, [][2]string{{"grpc-status", "14"}}, true},
		{"OK", [][2]string{{"content-type", "application/grpc"}, {"grpc-status", "0"}}, nil, nil, false},
		{"OK in the trailers", [][2]string{{"content-type", "application/grpc"}}, nil, [][2]string{{"grpc-status", "0"}}, false},
		{"grpc-web is not gRPC", [][2]string{{"content-type", "application/grpc-web"}, {"grpc-status", "14"}}, nil, nil, false},
		{"a prefix is not gRPC", [][2]string{{"content-type", "application/grp"}, {"grpc-status", "14"}}, nil, nil, false},
		{"not gRPC", [][2]string{{"content-type", "text/plain"}, {"grpc-status", "14"}}, nil, nil, false},
		{"gRPC's length, not gRPC", [][2]string{{"content-type", "application/json"}, {"grpc-status", "14"}}, nil, nil, false},
		{"the headers win over the trailers", [][2]string{{"content-type", "application/grpc"}, {"grpc-status", "0"}},
			[]byte("\x00\x00\x00\x00\x00"), [][2]string{{"grpc-status", "14"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, edgeAuto, worldOpts{workers: 2, configure: setThresholds(3, 3, 3)})
			w.gw.Upstream = func(req *httpsim.UpstreamRequest) httpsim.UpstreamResponse {
				r := w.upstream(req)
				if w.target(req.Cluster) == "cluster-2" {
					r.Headers, r.Body, r.Trailers = tc.headers, tc.body, tc.trailers
				}
				return r
			}
			// POSTs are not retried: every request routed to cluster-2
			// is one answer there. After each failure they avoid the
			// suspect cluster-2 for outlier.SuspectMs, so the third
			// failure comes about 2 s after the first.
			for i := 0; i < 3000 && len(w.logs("ejected cluster-2")) == 0; i++ {
				s := w.request(i%2, "POST")
				w.clock.Advance(10 * time.Millisecond)
				require.True(t, s.Complete)
			}
			assert.Equal(t, tc.wantEjected, len(w.logs("ejected cluster-2")) > 0, "served %d", w.served["cluster-2"])
			if tc.wantEjected {
				assert.Equal(t, 3, w.served["cluster-2"], "ejected on the third failure in a row")
			} else {
				assert.Greater(t, w.served["cluster-2"], 10, "cluster-2 kept its traffic")
			}
			w.noTraps()
		})
	}
}

// The retry filter never retries a gRPC request (its answer would be a
// local reply, which cannot carry the upstream's trailers), so the retry
// budget never refuses one either: with every target failing and 40
// requests at once, gRPC requests get the upstream's failure as it came,
// none is shed with Detour's local reply, and no budget refusal is
// counted (the same 40 plain requests are shed, TestRetryBudgetSharedAcrossWorkers).
func TestGrpcRequestsNeverShedByTheRetryBudget(t *testing.T) {
	w, streams := allFailingBurst(t, [2]string{"content-type", "application/grpc"})
	for _, s := range streams {
		require.True(t, s.Complete)
		assert.Equal(t, 504, s.Response.Status)
		_, shed := header(s.Response.Headers, config.HeaderShed)
		assert.False(t, shed)
	}
	assert.Zero(t, w.m("retry.budget_exhausted"))
	assert.Zero(t, w.m("retry.attempts"))
	w.noTraps()
}

// grpcProbes answers the probes (calls to a probe subset) with a
// grpc-status header, as a gRPC server answers every call.
type grpcProbes struct {
	*world
	status string
}

func (g grpcProbes) HTTPCall(req *pw.HTTPCallRequest) pw.HTTPCallResult {
	r := g.world.HTTPCall(req)
	if strings.Contains(req.Cluster, "|"+config.ProbeSubsetPrefix) {
		r.Headers = append(r.Headers, [2]string{"grpc-status", g.status})
	}
	return r
}

// A probe answered 200 by a gRPC server that fails every call
// (grpc-status 14, UNAVAILABLE) is a failed probe: the ejected target
// stays out. grpc-status 0 is a passed probe: it returns at once (a clean
// first recovery, TestCleanFirstRecoveryReturnsAtOnce).
func TestGrpcProbeStatus(t *testing.T) {
	for _, tc := range []struct {
		status string
		back   bool
	}{{"14", false}, {"0", true}} {
		w := newWorld(t, edgeAuto, worldOpts{workers: 2})
		w.dead["cluster-1a"] = true
		w.run(100, 10*time.Millisecond)
		require.Equal(t, int64(2), w.m("state"))
		w.clock.Advance(3 * time.Second)
		w.dead["cluster-1a"] = false
		w.proc.HTTPCalls = grpcProbes{w, tc.status}
		w.clock.Advance(2 * time.Second) // a tick after a probe period
		require.Positive(t, w.m("target.cluster-1a.probes"), "grpc-status %s", tc.status)
		assert.Equal(t, tc.back, len(w.logs("back in service")) > 0, "grpc-status %s: %v", tc.status, w.logs("cluster-1a"))
		if tc.back {
			assert.Equal(t, int64(0), w.m("state"), "PRIMARY")
		} else {
			assert.Equal(t, int64(2), w.m("state"), "still FAILED_OVER")
		}
		w.noTraps()
	}
}
