package httpsim_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
)

var uuid4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestConnectionManagerAddsRequestHeaders: before the filter chain, Envoy's
// connection manager adds x-forwarded-proto (the downstream scheme) and
// x-request-id (a UUID v4 from the UUID request id extension) when the
// request has none, and keeps those an internal request brings
// (ConnectionManagerUtility::mutateRequestHeaders in
// source/common/http/conn_manager_utility.cc;
// source/extensions/request_id/uuid/config.cc). The filters see them, the
// request.id property reads x-request-id, and the upstream receives them.
func TestConnectionManagerAddsRequestHeaders(t *testing.T) {
	e := newEnv(t, 1, filter{name: "p", config: "properties"})
	s := e.run(get(t))
	require.True(t, s.Complete)
	assert.Equal(t, []string{"http"}, header(s.Upstream.Headers, "x-forwarded-proto"))
	ids := header(s.Upstream.Headers, "x-request-id")
	require.Len(t, ids, 1)
	assert.Regexp(t, uuid4, ids[0])
	assert.Equal(t, `request property request.id="`+ids[0]+`" err=ok`, e.log("request property request.id="))

	other := e.run(get(t))
	assert.NotEqual(t, ids, header(other.Upstream.Headers, "x-request-id"), "one id per request")

	kept := e.run(get(t, [2]string{"x-request-id", "abc-123"}, [2]string{"x-forwarded-proto", "https"}))
	assert.Equal(t, []string{"abc-123"}, header(kept.Upstream.Headers, "x-request-id"))
	assert.Equal(t, []string{"https"}, header(kept.Upstream.Headers, "x-forwarded-proto"))

	// Reproducible: a new gateway draws the same ids.
	again := newEnv(t, 1, filter{name: "p", config: "hello"})
	assert.Equal(t, ids, header(again.run(get(t)).Upstream.Headers, "x-request-id"))
}

// TestRouterAddsUpstreamServiceTime: Envoy's router adds
// x-envoy-upstream-service-time to an upstream response, the milliseconds
// from sending the request upstream to the response headers
// (Filter::onUpstreamHeaders in source/common/router/router.cc); the
// encoder filters see it. The router's own local replies carry none.
func TestRouterAddsUpstreamServiceTime(t *testing.T) {
	e := newEnv(t, 1, filter{name: "hello", config: "hello"})
	up := e.g.Upstream
	e.g.Upstream = func(r *httpsim.UpstreamRequest) httpsim.UpstreamResponse {
		resp := up(r)
		resp.Delay = 37 * time.Millisecond
		return resp
	}
	s := e.run(get(t))
	assert.Equal(t, []string{"37"}, header(s.Response.Headers, "x-envoy-upstream-service-time"))
	assert.Equal(t, []string{"world"}, header(s.Response.Headers, "x-hello-response"), "the encoder filters still ran")

	nc := e.run(get(t, [2]string{"x-target", "nowhere"}))
	assert.Equal(t, 503, nc.Response.Status)
	assert.Empty(t, header(nc.Response.Headers, "x-envoy-upstream-service-time"))
}
