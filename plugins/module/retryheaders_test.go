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

// A retry re-sends the request's headers through http_call: a body that
// was buffered keeps its content-length, and a content-length with no
// body buffered is dropped (the host frames the call from the body it is
// given, and a stale length would not match it).
func TestRetryContentLength(t *testing.T) {
	for _, tc := range []struct {
		name     string
		length   string
		body     []byte
		want     string
		wantSent bool
	}{
		{"with a body", "22", []byte("small body, sent twice"), "22", true},
		{"without a body", "0", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, "online-banking/out/transaction-service/web-portal/edge.yaml", worldOpts{workers: 1})
			w.status["west"] = 503
			var got []pw.HTTPCallRequest
			w.proc.HTTPCalls = calls{w, func(req *pw.HTTPCallRequest) { got = append(got, *req) }}
			h := [][2]string{{":method", "PUT"}, {":path", "/accounts/1"}, {":scheme", "http"}, {":authority", "bank.example.com"},
				{"content-length", tc.length}}
			req := httpsim.Request{Headers: h}
			if tc.body != nil {
				req.Body = [][]byte{tc.body}
			}
			s := w.gw.Send(req)
			w.clock.Advance(time.Second)
			require.True(t, s.Complete)
			assert.Equal(t, 200, s.Response.Status)
			require.Len(t, got, 1, "one retry")
			v, sent := header(got[0].Headers, "content-length")
			assert.Equal(t, tc.wantSent, sent, "%v", got[0].Headers)
			assert.Equal(t, tc.want, v)
			assert.Equal(t, string(tc.body), string(got[0].Body))
			w.noTraps()
		})
	}
}

// A retry's budget slot is given back without an internal error, and a
// probe asks the configured probe path ("/" when none) as detour-probe.
func TestRetryAndProbeWithoutInternalError(t *testing.T) {
	w := newWorld(t, edgeAuto, worldOpts{workers: 1})
	want := w.cfg.Detection.ProbePath
	if want == "" {
		want = "/"
	}
	var probes [][][2]string
	w.proc.HTTPCalls = calls{w, func(req *pw.HTTPCallRequest) {
		if strings.Contains(req.Cluster, "|"+config.ProbeSubsetPrefix) {
			probes = append(probes, req.Headers)
		}
	}}
	w.status["cluster-1a"] = 503
	for _, s := range w.run(50, 10*time.Millisecond) {
		assert.Equal(t, 200, s.Response.Status, "retried")
	}
	require.Positive(t, w.m("retry.success"))
	w.clock.Advance(10 * time.Second)
	require.NotEmpty(t, probes, "the ejected target is probed")
	for _, h := range probes {
		p, _ := header(h, ":path")
		assert.Equal(t, want, p)
		ua, _ := header(h, "user-agent")
		assert.Equal(t, "detour-probe", ua)
	}
	assert.Zero(t, w.m("internal_errors"))
	w.noTraps()
}

// A probe waits as long as one try may (the per-try timeout): an ejected
// target that answers just within it returns, one that answers just after
// it stays out.
func TestProbeTimeoutIsThePerTryTimeout(t *testing.T) {
	for _, tc := range []struct {
		slack time.Duration
		back  bool
	}{{-300 * time.Millisecond, true}, {300 * time.Millisecond, false}} {
		w := newWorld(t, edgeAuto, worldOpts{workers: 2})
		perTry := time.Duration(w.cfg.Retry.PerTryTimeoutMs) * time.Millisecond
		require.True(t, perTry >= 500*time.Millisecond && perTry < 4*time.Second, "the example's per-try timeout, %v, is apart from the 5 s default", perTry)
		w.dead["cluster-1a"] = true
		w.run(100, 10*time.Millisecond)
		require.Equal(t, int64(2), w.m("state"))
		w.clock.Advance(3 * time.Second)
		w.dead["cluster-1a"] = false
		w.slow["cluster-1a"] = perTry + tc.slack
		w.clock.Advance(perTry + 2*time.Second)
		require.Positive(t, w.m("target.cluster-1a.probes"))
		assert.Equal(t, tc.back, len(w.logs("back in service")) > 0, "slack %v: %v", tc.slack, w.logs("cluster-1a"))
		w.noTraps()
	}
}
