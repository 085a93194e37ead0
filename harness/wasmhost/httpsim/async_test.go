package httpsim_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
)

// An AsyncUpstream answers on the clock; its local replies run through the
// encoder filters with the router's details and flags.
func TestAsyncUpstream(t *testing.T) {
	e := newEnv(t, 1, filter{name: "f", config: "hello"})
	var got *httpsim.UpstreamRequest
	var completed []*httpsim.Stream
	e.g.OnComplete = func(s *httpsim.Stream) { completed = append(completed, s) }
	e.g.AsyncUpstream = func(req *httpsim.UpstreamRequest, respond func(httpsim.AsyncResponse)) {
		got = req
		e.p.Clock.After(30*time.Millisecond, func() {
			if req.Cluster == "backup" {
				respond(httpsim.AsyncResponse{Attempts: 3, Local: &httpsim.RouterReply{Status: 503, Details: "no_healthy_upstream",
					Body: "no healthy upstream", Flags: httpsim.FlagUH}})
				return
			}
			respond(httpsim.AsyncResponse{Attempts: 2, Flags: httpsim.FlagURX,
				UpstreamResponse: httpsim.UpstreamResponse{Status: 503, Body: []byte("busy"), Address: "10.0.0.9:80"}})
		})
	}
	s := e.run(get(t))
	require.NotNil(t, got)
	assert.Same(t, s, got.Stream)
	assert.Equal(t, "route-primary", got.Route.Name)
	assert.Equal(t, []string{"world"}, header(got.Headers, "x-hello"))
	assert.Equal(t, 503, s.Response.Status)
	assert.Equal(t, "busy", s.Response.Body)
	assert.Equal(t, "via_upstream", s.Response.Details)
	assert.Equal(t, []string{"URX"}, s.Response.Flags)
	assert.Equal(t, "30ms", s.Response.At)
	assert.Equal(t, []*httpsim.Stream{s}, completed)

	s = e.run(get(t, [2]string{"x-target", "backup"}))
	assert.Equal(t, 503, s.Response.Status)
	assert.Equal(t, "no healthy upstream", s.Response.Body)
	assert.Equal(t, "no_healthy_upstream", s.Response.Details)
	assert.Equal(t, []string{"UH"}, s.Response.Flags)
	require.Len(t, s.LocalReplies, 1)
	assert.Equal(t, "router", s.LocalReplies[0].Filter)
}
