package httpsim_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

// Envoy's failStream passes gRPC status Unavailable, but
// Http::Utility::prepareLocalReply only uses it for gRPC requests.
func TestFailStreamOnPlainHTTPHasNoGrpcStatus(t *testing.T) {
	e := newEnv(t, 1, filter{name: "f", config: "hello", policy: pw.FailClosed})
	s := e.run(get(t, trapReq(t)))
	require.True(t, s.Complete)
	assert.Equal(t, 503, s.Response.Status)
	assert.Equal(t, [][2]string{{":status", "503"}}, s.Response.Headers)
}

func TestFailStreamOnGrpcRequestIsTrailersOnly(t *testing.T) {
	e := newEnv(t, 1, filter{name: "f", config: "hello", policy: pw.FailClosed})
	s := e.run(get(t, trapReq(t), [2]string{"content-type", "application/grpc"}))
	assert.Equal(t, 200, s.Response.Status)
	assert.Equal(t, [][2]string{{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", "14"}}, s.Response.Headers)
	assert.Equal(t, "wasm_fail_stream", s.Response.Details)
}

func TestLocalReplyRendering(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		method      string
		wantStatus  int
		wantHeaders [][2]string
		wantBody    string
	}{
		{"plain", "", "", 403, [][2]string{{":status", "403"}, {"x-reason", "denied"}, {"content-length", "19"}, {"content-type", "text/plain"}}, "forbidden by plugin"},
		{"grpc", "application/grpc", "", 200, [][2]string{{":status", "200"}, {"x-reason", "denied"}, {"content-type", "application/grpc"}, {"grpc-status", "7"}, {"grpc-message", "forbidden by plugin"}}, ""},
		{"grpc+proto", "application/grpc+proto", "", 200, [][2]string{{":status", "200"}, {"x-reason", "denied"}, {"content-type", "application/grpc"}, {"grpc-status", "7"}, {"grpc-message", "forbidden by plugin"}}, ""},
		// grpc-web is not gRPC to Envoy's local reply.
		{"grpc-web", "application/grpc-web", "", 403, [][2]string{{":status", "403"}, {"x-reason", "denied"}, {"content-length", "19"}, {"content-type", "text/plain"}}, "forbidden by plugin"},
		// HEAD: the headers (with the body's content-length), no body.
		{"head", "", "HEAD", 403, [][2]string{{":status", "403"}, {"x-reason", "denied"}, {"content-length", "19"}, {"content-type", "text/plain"}}, ""},
		{"grpc head", "application/grpc", "HEAD", 200, [][2]string{{":status", "200"}, {"x-reason", "denied"}, {"content-type", "application/grpc"}, {"grpc-status", "7"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, filter{name: "deny", config: "local-reply"})
			req := get(t)
			if tc.contentType != "" {
				req = get(t, [2]string{"content-type", tc.contentType})
			}
			if tc.method != "" {
				req.Headers[0][1] = tc.method
			}
			s := e.run(req)
			require.True(t, s.Complete)
			assert.Nil(t, s.Upstream)
			assert.Equal(t, tc.wantStatus, s.Response.Status)
			assert.Equal(t, tc.wantHeaders, s.Response.Headers)
			assert.Equal(t, tc.wantBody, s.Response.Body)
		})
	}
}

// The router's own local replies map their HTTP code too (503 -> 14).
func TestRouterLocalReplyToGrpcRequest(t *testing.T) {
	e := newEnv(t, 1)
	s := e.run(get(t, [2]string{"x-target", "nowhere"}, [2]string{"content-type", "application/grpc"}))
	assert.Equal(t, "cluster_not_found", s.Response.Details)
	assert.Equal(t, [][2]string{{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", "14"}}, s.Response.Headers)
}

// A filter's gRPC status 0 (OK) is a status like any other: kept, not
// mapped from the HTTP code (403 would give 7).
func TestLocalReplyGrpcStatusZero(t *testing.T) {
	e := newEnv(t, 1, filter{name: "deny", config: "local-reply 0"})
	s := e.run(get(t, [2]string{"content-type", "application/grpc"}))
	require.True(t, s.Complete)
	assert.Equal(t, [][2]string{{":status", "200"}, {"x-reason", "denied"}, {"content-type", "application/grpc"}, {"grpc-status", "0"}, {"grpc-message", "forbidden by plugin"}}, s.Response.Headers)
}

// A local reply after the response headers reached the client cannot
// replace them: Envoy resets the stream, and the client sees no status.
func TestLocalReplyAfterHeadersResets(t *testing.T) {
	e := newEnv(t, 1, filter{name: "late", config: "late-local-reply"})
	e.calls["auth"] = pw.HTTPCallResult{Status: 200, Delay: 10 * time.Millisecond}
	s := e.run(get(t))
	require.True(t, s.Complete)
	assert.Equal(t, "late local reply err=ok", e.log("late local reply"))
	assert.True(t, s.Response.Reset, "reset")
	assert.Zero(t, s.Response.Status)
	assert.Nil(t, s.Response.Headers)
	assert.Empty(t, s.Response.Body)
	require.Len(t, s.LocalReplies, 1)
	assert.Equal(t, 500, s.LocalReplies[0].Status)
	assert.Equal(t, s.LocalReplies[0].Details, s.Response.Details)
}
