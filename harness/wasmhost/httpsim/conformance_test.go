package httpsim_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

func TestHelloThroughChain(t *testing.T) {
	e := newEnv(t, 1, filter{name: "hello", config: "hello"})
	s := e.run(get(t))
	require.True(t, s.Complete)
	require.NotNil(t, s.Upstream)
	assert.Equal(t, []string{"world"}, header(s.Upstream.Headers, "x-hello"))
	assert.Equal(t, 200, s.Response.Status)
	assert.Equal(t, "ok from primary", s.Response.Body)
	assert.Equal(t, []string{"world"}, header(s.Response.Headers, "x-hello-response"))
	assert.Equal(t, "via_upstream", s.Response.Details)
	// VM context 0, root 1, first stream 2; Envoy's log line format.
	assert.Equal(t, "start mode=hello root_ctx=1 vm_config=\"\" vm_config_err=not found", e.log("start mode"))
	assert.Equal(t, "request headers ctx=2 n=6 eos=true", e.log("request headers"))
	for _, l := range e.p.Logs() {
		if l.Message == "request headers ctx=2 n=6 eos=true" {
			assert.Equal(t, "wasm log hello hello hello: request headers ctx=2 n=6 eos=true", l.Envoy)
		}
	}
}

func TestTeardownOrderIsLogDoneDelete(t *testing.T) {
	e := newEnv(t, 1, filter{name: "hello", config: "hello"})
	e.run(get(t))
	assert.Equal(t, []string{
		"hello:0:proxy_on_context_create:2", "hello:0:proxy_on_request_headers:2", "hello:0:proxy_on_response_headers:2",
		"hello:0:proxy_on_response_body:2", "hello:0:proxy_on_log:2", "hello:0:proxy_on_done:2", "hello:0:proxy_on_delete:2",
	}, e.trace)
}

func TestHeaderMapSemantics(t *testing.T) {
	e := newEnv(t, 1, filter{name: "h", config: "headers"})
	s := e.run(get(t, [2]string{"x-dup", "1"}, [2]string{"x-dup", "2"}, [2]string{"x-remove-me", "x"}, [2]string{"x-replaced", "old"}))
	// First value only; missing is NOT_FOUND.
	assert.Equal(t, `get x-dup="1" err=ok`, e.log("get x-dup"))
	assert.Equal(t, "get missing err=not found", e.log("get missing"))
	// add appends entries, keys lower-cased; replace sets; remove removes all.
	assert.Equal(t, []string{"A", "B"}, header(s.Upstream.Headers, "x-added"))
	assert.Equal(t, []string{"r"}, header(s.Upstream.Headers, "x-replaced"))
	assert.Empty(t, header(s.Upstream.Headers, "x-remove-me"))
	// Response headers do not exist yet: BAD_ARGUMENT, not NOT_FOUND.
	assert.Equal(t, "response header during request err=bad argument", e.log("response header during request"))
	// After on_request_headers returned Continue the request map is gone.
	assert.Equal(t, "request header after continue err=bad argument", e.log("request header after continue"))
	// on_log reads the access-log copies, read-only; missing keys are NOT_FOUND there.
	assert.Contains(t, e.log("stream done"), "request header in log err=ok status=200")
	assert.Equal(t, "missing header in log err=not found", e.log("missing header in log"))
	assert.Equal(t, "write in log err=bad argument", e.log("write in log"))
}

func TestSetHeaderMapPairsReroutes(t *testing.T) {
	e := newEnv(t, 1, filter{name: "r", config: "route backup"})
	s := e.run(get(t))
	// The route was chosen before the filter ran (primary) and re-selected
	// after the filter mutated request headers (ABI 0.2.0 clears the cache).
	assert.Equal(t, "backup", s.Upstream.Cluster)
	assert.Equal(t, "route-backup", s.Upstream.Route)
	assert.Equal(t, 2, s.RouteEvals)
	// Upstream cluster is unknown before the router ran.
	assert.Equal(t, `request cluster_name="" err=not found`, e.log("request cluster_name"))
}

// Envoy 1.33+ for ABI > 0.2.1: a header change alone keeps the route; only
// clear_route_cache re-selects it (TestForeignFunctions covers that call).
func TestExplicitRouteRefreshKeepsRoute(t *testing.T) {
	e := newEnv(t, 1, filter{name: "r", config: "route backup", compat: pw.Compat{ExplicitRouteRefresh: true}})
	s := e.run(get(t))
	assert.Equal(t, "primary", s.Upstream.Cluster)
	assert.Equal(t, 1, s.RouteEvals)
}

func TestForeignFunctions(t *testing.T) {
	e := newEnv(t, 1, filter{name: "f", config: "foreign"})
	s := e.run(get(t))
	assert.Equal(t, `compress err=ok uncompress="hello hello hello hello" err=ok`, e.log("compress err"))
	// zlib's compress() bytes, as Envoy's foreign.cc produces them (the
	// same as Python's zlib.compress at the default level).
	assert.Equal(t, "compressed=789ccb48cdc9c957c8402701680308b1", e.log("compressed="))
	assert.Equal(t, "unknown foreign err=not found", e.log("unknown foreign"))
	assert.Equal(t, "clear_route_cache err=ok", e.log("clear_route_cache"))
	assert.Equal(t, "backup", s.Upstream.Cluster)
}

func TestPauseResumedFromTick(t *testing.T) {
	e := newEnv(t, 1, filter{name: "t", config: "tick"})
	s := e.g.Send(get(t))
	e.p.Clock.Advance(500 * time.Millisecond)
	assert.False(t, s.Complete, "paused request must wait for the tick")
	assert.Nil(t, s.Upstream)
	e.p.Clock.Advance(600 * time.Millisecond)
	require.True(t, s.Complete)
	// Request headers were still writable while paused, from the tick via
	// set_effective_context.
	assert.Equal(t, []string{"tick"}, header(s.Upstream.Headers, "x-resumed-by"))
	assert.Equal(t, "tick add header err=ok", e.log("tick add header"))
	assert.Equal(t, "tick now=2026-01-01T00:00:01Z streams=1", e.log("tick now"))
	assert.Equal(t, "1s", s.Upstream.At)
}

func TestContinueInsideSameCallbackIsDeferred(t *testing.T) {
	e := newEnv(t, 1, filter{name: "c", config: "continue-in-call"})
	s := e.run(get(t))
	require.True(t, s.Complete)
	assert.Equal(t, 200, s.Response.Status)
	assert.Equal(t, "0s", s.Upstream.At)
}

func TestLocalReplyForcesStopAndReplacesResponse(t *testing.T) {
	e := newEnv(t, 1, filter{name: "deny", config: "local-reply"}, filter{name: "hello", config: "hello"})
	s := e.run(get(t))
	require.True(t, s.Complete)
	assert.Nil(t, s.Upstream, "the request never reaches the upstream")
	assert.Equal(t, 403, s.Response.Status)
	assert.Equal(t, "forbidden by plugin", s.Response.Body)
	assert.Equal(t, []string{"denied"}, header(s.Response.Headers, "x-reason"))
	require.Len(t, s.LocalReplies, 1)
	assert.Equal(t, "deny", s.LocalReplies[0].Filter)
	assert.Equal(t, -1, s.LocalReplies[0].GrpcStatus)
	// The second filter never saw the request; it is only created for on_log.
	assert.Len(t, e.logs("request headers"), 1)
	assert.Contains(t, e.trace, "hello:0:proxy_on_log:2")
	assert.NotContains(t, e.trace, "hello:0:proxy_on_request_headers:2")
	assert.NotContains(t, e.trace, "hello:0:proxy_on_response_headers:2")
	// The replying filter sees its own reply in the encoder path.
	assert.Equal(t, "response status=403", e.log("response status"))
}

func TestLocalReplyDuringResponseGoesStraightToClient(t *testing.T) {
	e := newEnv(t, 1, filter{name: "fix", config: "response-local-reply"})
	e.g.Upstream = func(*httpsim.UpstreamRequest) httpsim.UpstreamResponse {
		return httpsim.UpstreamResponse{Status: 500, Body: []byte("boom")}
	}
	s := e.run(get(t))
	assert.Equal(t, 200, s.Response.Status)
	assert.Equal(t, "replacement", s.Response.Body)
	assert.Equal(t, []string{"1"}, header(s.Response.Headers, "x-replaced"))
}

func TestHTTPCall(t *testing.T) {
	e := newEnv(t, 1, filter{name: "auth", config: "httpcall auth 1000"})
	e.calls["auth"] = pw.HTTPCallResult{Status: 200, Body: []byte("allowed"), Delay: 30 * time.Millisecond}
	s := e.run(get(t))
	require.True(t, s.Complete)
	assert.Equal(t, "dispatched token=4 err=ok", e.log("dispatched"))
	assert.Equal(t, `call response ctx=2 headers=2 status="200" body="allowed" trailers=0 err=ok`, e.log("call response"))
	// Like an upstream response, a callout response with a body carries
	// content-length.
	assert.Equal(t, "call content-length=7", e.log("call content-length"))
	assert.Equal(t, "request header while paused err=ok", e.log("request header while paused"))
	assert.Equal(t, []string{"ok"}, header(s.Upstream.Headers, "x-auth"))
	assert.Equal(t, "30ms", s.Upstream.At)
	calls := e.p.HTTPCallRecords()
	require.Len(t, calls, 1)
	assert.Equal(t, "auth", calls[0].Cluster)
	assert.Equal(t, []string{"10"}, header(calls[0].Headers, "content-length"), "a body adds content-length")
	// The callback is delivered to the root context (id 1).
	assert.Contains(t, e.trace, "auth:0:proxy_on_http_call_response:1")
	// Tokens are 4, 8, ...
	e.run(get(t))
	assert.Equal(t, uint32(8), e.p.HTTPCallRecords()[1].Token)
}

func TestHTTPCallFailuresAreResponses(t *testing.T) {
	tests := []struct {
		name, fault string
		delay       time.Duration
		wantLog     string
		wantStatus  int
		wantAt      string
	}{
		{"timeout", "", 2 * time.Second, `headers=3 status="504" body="upstream request timeout"`, 403, "1s"},
		{"connect failure", pw.FaultConnectFailure, 0, `status="503" body="upstream connect error or disconnect/reset before headers. reset reason: connection failure"`, 403, "0s"},
		{"no healthy upstream", pw.FaultNoHealthyUpstream, 0, `status="503" body="no healthy upstream"`, 403, "0s"},
		{"reset", pw.FaultReset, 0, `headers=0 status="" body="" trailers=0`, 502, "0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, filter{name: "auth", config: "httpcall auth 1000"})
			e.calls["auth"] = pw.HTTPCallResult{Status: 200, Fault: tc.fault, Delay: tc.delay}
			s := e.run(get(t))
			require.True(t, s.Complete)
			assert.Contains(t, e.log("call response"), tc.wantLog)
			if tc.fault == pw.FaultReset {
				// Only a reset has no response; get_status says why.
				assert.Equal(t, `get_status=0 code=11 message="reset"`, e.log("get_status"))
			}
			assert.Equal(t, tc.wantStatus, s.Response.Status)
			assert.Equal(t, tc.wantAt, s.Response.At)
		})
	}
}

func TestHTTPCallArgumentChecks(t *testing.T) {
	e := newEnv(t, 1, filter{name: "auth", config: "httpcall-bad auth"})
	e.calls["auth"] = pw.HTTPCallResult{Status: 200}
	e.run(get(t))
	assert.Equal(t, "unknown cluster err=bad argument", e.log("unknown cluster"))
	assert.Equal(t, "missing path err=bad argument", e.log("missing path"))
	assert.Empty(t, e.p.HTTPCallRecords())
}

func TestHTTPCallSurvivesStreamDeletion(t *testing.T) {
	e := newEnv(t, 1, filter{name: "d", config: "httpcall-detached auth"})
	e.calls["auth"] = pw.HTTPCallResult{Status: 200, Delay: 5 * time.Second}
	s := e.run(get(t))
	require.True(t, s.Complete)
	assert.Contains(t, e.trace, "d:0:proxy_on_delete:2")
	e.p.Clock.Advance(10 * time.Second)
	// Delivered to the root context after the stream was deleted; the SDK
	// then drops it (its callback must not run), and nothing traps.
	assert.Equal(t, "d:0:proxy_on_http_call_response:1", e.trace[len(e.trace)-1])
	assert.Empty(t, e.logs("detached callback ran"))
	assert.Empty(t, e.p.Traps())
}

func TestSharedDataAcrossWorkersAndCASRules(t *testing.T) {
	e := newEnv(t, 3, filter{name: "s", config: "shared cas-rules", vmID: "vm"})
	for w := 0; w < 3; w++ {
		r := get(t)
		r.Worker = w
		e.run(r)
	}
	// One counter shared by the three worker VMs.
	v, _, st := e.p.GetSharedData("vm", "hits")
	require.Equal(t, pw.StatusOK, st)
	assert.Equal(t, byte(3), v[0])
	assert.Len(t, e.logs("get absent err=not found"), 3)
	assert.Len(t, e.logs("set new with cas 42 err=ok"), 1, "a missing key is created whatever the cas")
	assert.Len(t, e.logs("stale cas err=cas mismatch"), 3)
	assert.Len(t, e.logs("cas 0 overwrite err=ok"), 3)
	assert.Len(t, e.logs("fresh=c cas_changed=true"), 3)
}

func TestSharedDataCASCounterIsGlobal(t *testing.T) {
	p := pw.NewProcess(nil)
	require.Equal(t, pw.StatusOK, p.SetSharedData("a", "k", []byte("1"), 0))
	require.Equal(t, pw.StatusOK, p.SetSharedData("b", "k", []byte("1"), 0))
	_, casA, _ := p.GetSharedData("a", "k")
	_, casB, _ := p.GetSharedData("b", "k")
	assert.Equal(t, uint32(1), casA)
	assert.Equal(t, uint32(2), casB, "cas comes from one process-wide counter")
	assert.Equal(t, pw.StatusCasMismatch, p.SetSharedData("a", "k", []byte("2"), casB))
	assert.Equal(t, pw.StatusOK, p.SetSharedData("a", "k", []byte("2"), casA))
}

func TestQueueIsAsynchronous(t *testing.T) {
	e := newEnv(t, 1, filter{name: "q", config: "queue"})
	assert.Equal(t, "queue id=1 err=ok again=1 resolve_unknown=not found resolved=1/ok", e.log("queue id="))
	e.run(get(t))
	msgs := []string{}
	for _, l := range e.p.Logs() {
		msgs = append(msgs, l.Message)
	}
	iEnq, iReady := -1, -1
	for i, m := range msgs {
		if m == "enqueued err=ok" {
			iEnq = i
		}
		if m == "queue ready id=1 item=from-2" {
			iReady = i
		}
	}
	require.NotEqual(t, -1, iReady, "on_queue_ready must run: %v", msgs)
	assert.Greater(t, iReady, iEnq+1, "on_queue_ready is posted, never called inside enqueue")
	assert.Equal(t, "dequeue unknown err=not found", e.log("dequeue unknown"))
	assert.Equal(t, "queue ready id=1 drained err=empty", e.log("drained"))
}

func TestMetricsRules(t *testing.T) {
	e := newEnv(t, 2, filter{name: "m", config: "metrics"})
	assert.Len(t, e.logs("metric ids counter=4 gauge=5 histogram=6 counter_again=8"), 2)
	assert.Len(t, e.logs("define type 3 status=2"), 2)
	assert.Len(t, e.logs("increment counter by 0 status=2 by -1 status=2"), 2)
	assert.Len(t, e.logs("increment histogram status=2"), 2)
	assert.Len(t, e.logs("get histogram status=2 get unknown status=1"), 2)
	for w := 0; w < 2; w++ {
		r := get(t)
		r.Worker = w
		e.run(r)
	}
	c, ok := e.p.Stats.Lookup("wasmcustom.requests_total")
	require.True(t, ok)
	assert.Equal(t, int64(2*2+2), c.Value, "two workers' VMs add to one stat")
	g, _ := e.p.Stats.Lookup("wasmcustom.active")
	assert.Equal(t, int64(6), g.Value, "gauge add/sub is per worker, then summed: (5-2)*2")
	h, _ := e.p.Stats.Lookup("wasmcustom.latency_ms")
	assert.Equal(t, []uint64{7, 120, 7, 120}, h.Samples)
}

func TestBodyBufferingAndCopyFrom(t *testing.T) {
	tests := []struct {
		name             string
		compat           pw.Compat
		wantPartial      string
		wantUpstreamBody string
	}{
		{"current envoy drains then prepends", pw.Compat{}, "partial replace status=0", "xyPLACED:abcdef>"},
		{"older envoy rejects partial replace", pw.Compat{LegacyCopyFrom: true}, "partial replace status=2", "<REPLACED:abcdef>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, filter{name: "b", config: "body", compat: tc.compat})
			r := get(t)
			r.Body = [][]byte{[]byte("abc"), []byte("def")}
			s := e.run(r)
			require.True(t, s.Complete)
			assert.Equal(t, []string{"request body size=3 eos=false", "request body size=6 eos=true"}, e.logs("request body size"))
			assert.Equal(t, `whole body="abcdef" err=ok`, e.log("whole body"))
			// The host answers OK with no data past the end (cpp-host #303);
			// the SDK reports an empty OK result as not found.
			assert.Equal(t, "read past end err=not found", e.log("read past end"))
			assert.Equal(t, tc.wantPartial, e.log("partial replace"))
			assert.Equal(t, "middle write status=2", e.log("middle write"))
			assert.Equal(t, "response body during request err=not found", e.log("response body during request"))
			assert.Equal(t, tc.wantUpstreamBody, s.Upstream.Body)
			// A trailer added from the last body callback reaches the
			// upstream; one added from an earlier callback is refused.
			assert.Equal(t, "early trailer err=bad argument", e.log("early trailer"))
			assert.Equal(t, [][2]string{{"x-trailer", "added"}}, s.Upstream.Trailers)
			assert.Equal(t, "ok from primary [filtered]", s.Response.Body)
		})
	}
}

func TestPropertiesFollowStreamProgress(t *testing.T) {
	e := newEnv(t, 1, filter{name: "props", config: "properties"})
	s := e.run(get(t, [2]string{"x-dup", "1"}, [2]string{"x-dup", "2"}))
	require.True(t, s.Complete)
	want := map[string]string{
		"request property plugin_name":                                                `"props" err=ok`,
		"request property plugin_vm_id":                                               `"props" err=ok`,
		"request property request.path":                                               `"/p" err=ok`,
		"request property request.headers.x-dup":                                      `"1,2" err=ok`,
		"request property response.code=":                                             `"" err=not found`,
		"request property upstream.address":                                           `"" err=not found`,
		"request property xds.cluster_name":                                           `"" err=not found`,
		"request property xds.route_name":                                             `"route-primary" err=ok`,
		"request property xds.node.id":                                                `"gw-1" err=ok`,
		"request property cluster_name":                                               `"" err=not found`,
		"request property node=":                                                      `"" err=not found`,
		"response property response.code=":                                            `200 err=ok`,
		"response property response.code_details":                                     `"via_upstream" err=ok`,
		"response property response.flags":                                            `0 err=ok`,
		"response property upstream.address":                                          `"10.1.0.1:8080" err=ok`,
		"response property upstream.request_attempt_count":                            `1 err=ok`,
		"response property xds.cluster_name":                                          `"primary" err=ok`,
		"response property xds.upstream_host_metadata.filter_metadata.istio.workload": `"reviews-v1" err=ok`,
		"response property upstream.locality.region":                                  `"eu-west-1" err=ok`,
	}
	for prefix, suffix := range want {
		assert.Contains(t, e.log(prefix), suffix, prefix)
	}
	// set_property writes filter state wasm.<name>, found again by name,
	// and never changes Envoy's own attributes.
	assert.Equal(t, `set_property err=ok get back="my_value" err=ok`, e.log("set_property err"))
	assert.Equal(t, `set cluster_name err=ok top-level cluster_name="evil" err=ok`, e.log("set cluster_name"))
	assert.Contains(t, e.log("response property xds.cluster_name"), `"primary"`)
}

func TestLegacyAttributesToggle(t *testing.T) {
	e := newEnv(t, 1, filter{name: "props", config: "properties", compat: pw.Compat{LegacyAttributes: true}})
	e.run(get(t))
	assert.Contains(t, e.log("request property route_name"), `"route-primary" err=ok`)
}

func TestRootContextProperties(t *testing.T) {
	e := newEnv(t, 1, filter{name: "rp", config: "plugin-props"})
	assert.Equal(t, `root property plugin_root_id="rp" err=ok`, e.log("root property plugin_root_id"))
	assert.Equal(t, `root property request.path="" err=not found`, e.log("root property request.path"))
	assert.Equal(t, "root set_property err=not found", e.log("root set_property"))
}

func TestWASIShims(t *testing.T) {
	e := newEnv(t, 1, filter{name: "env", config: "env", env: [][2]string{{"REGION", "eu-west-1"}}},
		filter{name: "out", config: "stdout"})
	assert.Equal(t, `env REGION="eu-west-1" HOME=""`, e.log("env REGION"))
	// time.Now is the virtual clock.
	assert.Equal(t, "now=2026-01-01T00:00:00Z", e.log("now="))
	var levels []string
	for _, l := range e.p.Logs() {
		if l.Message == "hello from stdout" || l.Message == "hello from stderr" {
			levels = append(levels, l.Level)
		}
	}
	assert.Equal(t, []string{"info", "error"}, levels)
}

func TestProxyLogAndEffectiveContextArgumentChecks(t *testing.T) {
	e := newEnv(t, 1, filter{name: "r", config: "restricted-log"})
	assert.Equal(t, "log level 9 status=2", e.log("log level 9"))
	assert.Equal(t, "set effective context 999 status=2", e.log("set effective context"))
}

func TestPluginRejectionFailsStart(t *testing.T) {
	p := pw.NewProcess(nil)
	_, err := p.StartPlugin(t.Context(), pw.PluginSpec{Engine: engine, Module: module,
		Plugin: pw.PluginConfig{Name: "x", RootID: "x", Configuration: []byte("reject")}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "proxy_on_configure returned false")
}

func TestRootDoneWaitsForProxyDone(t *testing.T) {
	e := newEnv(t, 1, filter{name: "d", config: "done-later"})
	e.plugins[0].Shutdown()
	assert.False(t, e.plugins[0].Root(0).Done(), "on_done returned false: pending until proxy_done")
	assert.NotContains(t, e.trace, "d:0:proxy_on_delete:1")
	// The next tick calls proxy_done; on_delete follows after that call.
	e.p.Clock.Advance(time.Second)
	assert.True(t, e.plugins[0].Root(0).Done())
	assert.Equal(t, []string{"d:0:proxy_on_tick:1", "d:0:proxy_on_delete:1"}, e.trace[len(e.trace)-2:])
}

func TestQueueOwnedByLastRegistrant(t *testing.T) {
	e := newEnv(t, 2, filter{name: "q", config: "queue"})
	e.trace = nil
	e.run(get(t)) // enqueued from worker 0
	assert.Contains(t, e.trace, "q:1:proxy_on_queue_ready:1", "worker 1 registered last and owns the queue")
	assert.NotContains(t, e.trace, "q:0:proxy_on_queue_ready:1")
}

func TestCanaryRunsStartTwice(t *testing.T) {
	p := pw.NewProcess(nil)
	pl, err := p.StartPlugin(t.Context(), pw.PluginSpec{Engine: engine, Module: module, Canary: true,
		Plugin: pw.PluginConfig{Name: "c", RootID: "c", Configuration: []byte("hello")}})
	require.NoError(t, err)
	defer pl.Close()
	var workers []int
	for _, l := range p.Logs() {
		workers = append(workers, l.Worker)
	}
	assert.Equal(t, []int{-1, 0}, workers)
	_, err = p.StartPlugin(t.Context(), pw.PluginSpec{Engine: engine, Module: module, Canary: true,
		Plugin: pw.PluginConfig{Name: "c", RootID: "c", Configuration: []byte("reject")}})
	assert.ErrorContains(t, err, "canary")
}

func TestPluginsShareAVMPerWorker(t *testing.T) {
	e := newEnv(t, 2, filter{name: "a", config: "hello", vmID: "shared"})
	b, err := e.p.StartPlugin(t.Context(), pw.PluginSpec{ShareVMWith: e.plugins[0], Module: module,
		VM: pw.VMConfig{VMID: "shared"}, Plugin: pw.PluginConfig{Name: "b", RootID: "b", Configuration: []byte("headers")}})
	require.NoError(t, err)
	e.g.Filters = append(e.g.Filters, b)
	assert.Same(t, e.plugins[0].VM(1), b.VM(1))
	// Root contexts 1 and 2 in one VM; the stream's contexts are 3 and 4.
	assert.Equal(t, uint32(2), b.Root(0).ID())
	e.trace = nil
	s := e.run(get(t))
	assert.Equal(t, []string{"world"}, header(s.Upstream.Headers, "x-hello"))
	assert.Contains(t, e.trace, "shared:0:proxy_on_request_headers:3")
	assert.Contains(t, e.trace, "shared:0:proxy_on_request_headers:4")
	// A trap fails the VM for both plugins; a reload restarts both roots.
	r := get(t, trapReq(t))
	r.Worker = 1
	assert.Equal(t, 503, e.run(r).Response.Status)
	e.p.Clock.Advance(2 * time.Second)
	r = get(t)
	r.Worker = 1
	s = e.run(r)
	assert.Equal(t, 200, s.Response.Status)
	assert.Equal(t, e.plugins[0].VM(1), b.VM(1))
	assert.False(t, b.VM(1).Failed())
	assert.Len(t, e.logs("start mode=headers"), 3, "b started on two workers, then again on the reloaded VM")
}

// TestRetryViaHTTPCallReplacesResponse is the filter-driven failover
// pattern: pause a 5xx response, re-send the request to another cluster
// with http_call, and answer with its response as a local reply.
func TestRetryViaHTTPCallReplacesResponse(t *testing.T) {
	e := newEnv(t, 1, filter{name: "retry", config: "retry-on-5xx backup"})
	e.g.Upstream = func(*httpsim.UpstreamRequest) httpsim.UpstreamResponse {
		return httpsim.UpstreamResponse{Status: 503, Body: []byte("down"), Delay: 10 * time.Millisecond}
	}
	e.calls["backup"] = pw.HTTPCallResult{Status: 200, Body: []byte("from backup"), Delay: 20 * time.Millisecond}
	s := e.run(get(t))
	require.True(t, s.Complete)
	assert.Equal(t, 200, s.Response.Status)
	assert.Equal(t, "from backup", s.Response.Body)
	assert.Equal(t, []string{"backup"}, header(s.Response.Headers, "x-failover"))
	assert.Equal(t, "30ms", s.Response.At)
	calls := e.p.HTTPCallRecords()
	require.Len(t, calls, 1)
	assert.Equal(t, []string{"/p"}, header(calls[0].Headers, ":path"), "the captured request was re-sent")
	assert.Equal(t, "retried on backup: status=200", e.log("retried on"))
	// The local reply went straight to the client: no second on_response_headers.
	assert.Len(t, e.logs("response headers ctx="), 1)
}
