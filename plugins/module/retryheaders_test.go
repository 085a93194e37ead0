package module_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
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
