package httpsim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

func trapReq(t *testing.T) [2]string { return [2]string{"x-trap", "boom"} }

func TestTrapFailClosed(t *testing.T) {
	e := newEnv(t, 1, filter{name: "f", config: "hello", policy: pw.FailClosed})
	s := e.run(get(t, trapReq(t)))
	require.True(t, s.Complete)
	assert.Nil(t, s.Upstream)
	assert.Equal(t, 503, s.Response.Status)
	assert.Equal(t, "wasm_fail_stream", s.Response.Details)
	assert.Equal(t, "", s.Response.Body)
	traps := e.p.Traps()
	require.Len(t, traps, 1)
	assert.Equal(t, "proxy_on_request_headers", traps[0].Callback)
	assert.Contains(t, traps[0].Message, "unreachable")
	// With Envoy 1.33's WASI (#427) the Go runtime's panic printing sleeps,
	// poll_oneoff answers ENOSYS, and the runtime dies with a fatal error
	// on stderr (error level) instead of printing the panic value.
	assert.Equal(t, "error", levelOf(e, "wasi_snapshot_preview1.poll_oneoff"))
	// The failed VM is never called again; later streams get 503 too.
	before := len(e.trace)
	s2 := e.run(get(t))
	assert.Equal(t, 503, s2.Response.Status)
	assert.Equal(t, "wasm_fail_stream", s2.Response.Details)
	assert.Equal(t, before, len(e.trace), "no call into a trapped VM")
}

func TestTrapFailOpen(t *testing.T) {
	e := newEnv(t, 1, filter{name: "f", config: "hello", policy: pw.FailOpen})
	s := e.run(get(t, trapReq(t)))
	require.True(t, s.Complete)
	require.NotNil(t, s.Upstream, "fail open lets the trapping stream continue")
	assert.Empty(t, header(s.Upstream.Headers, "x-hello"))
	assert.Equal(t, 200, s.Response.Status)
	before := len(e.trace)
	s2 := e.run(get(t))
	assert.Equal(t, 200, s2.Response.Status)
	assert.Empty(t, header(s2.Upstream.Headers, "x-hello"), "the plugin is bypassed")
	assert.Equal(t, before, len(e.trace))
	assert.Len(t, e.p.Traps(), 1)
}

func TestTrapFailReload(t *testing.T) {
	e := newEnv(t, 1, filter{name: "f", config: "hello", policy: pw.FailReload})
	s := e.run(get(t, trapReq(t)))
	assert.Equal(t, 503, s.Response.Status)
	e.p.Clock.Advance(500 * time.Millisecond)
	s = e.run(get(t))
	assert.Equal(t, 503, s.Response.Status, "still within the reload backoff: fail closed")
	assert.Equal(t, 0, e.plugins[0].Reloads)
	e.p.Clock.Advance(600 * time.Millisecond)
	s = e.run(get(t))
	assert.Equal(t, 200, s.Response.Status)
	assert.Equal(t, []string{"world"}, header(s.Upstream.Headers, "x-hello"))
	assert.Equal(t, 1, e.plugins[0].Reloads)
	assert.Len(t, e.logs("start mode=hello"), 2, "a fresh VM starts the plugin again")
	assert.False(t, e.plugins[0].VM(0).Failed())
}

func TestTrapInResponseReplacesResponse(t *testing.T) {
	e := newEnv(t, 1, filter{name: "f", config: "trap-response", policy: pw.FailClosed})
	s := e.run(get(t))
	require.NotNil(t, s.Upstream)
	assert.Equal(t, 503, s.Response.Status)
	assert.Equal(t, "wasm_fail_stream", s.Response.Details)
	require.Len(t, e.p.Traps(), 1)
	assert.Equal(t, "proxy_on_response_headers", e.p.Traps()[0].Callback)
}

func TestTrapOnOneWorkerLeavesOthers(t *testing.T) {
	e := newEnv(t, 2, filter{name: "f", config: "hello", policy: pw.FailClosed})
	r := get(t, trapReq(t))
	r.Worker = 1
	e.run(r)
	s := e.run(get(t))
	assert.Equal(t, 200, s.Response.Status, "worker 0's VM is unaffected")
	r = get(t)
	r.Worker = 1
	assert.Equal(t, 503, e.run(r).Response.Status)
}

func levelOf(e *env, substr string) string {
	for _, l := range e.p.Logs() {
		if strings.Contains(l.Message, substr) {
			return l.Level
		}
	}
	return ""
}

func TestPanicMessageReachesLogWithWASI533(t *testing.T) {
	e := newEnv(t, 1, filter{name: "f", config: "hello", policy: pw.FailClosed, compat: pw.Compat{WASI533: true}})
	s := e.run(get(t, trapReq(t)))
	assert.Equal(t, 503, s.Response.Status)
	assert.Equal(t, "error", levelOf(e, "trap requested: boom"))
}
