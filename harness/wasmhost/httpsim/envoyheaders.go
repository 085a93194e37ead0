package httpsim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

// requestIDSeed seeds the request ids a Gateway generates: runs are
// reproducible, as every other random draw of the harness.
const requestIDSeed = 0x782d726571756573 // "x-reques"

// addRequestHeaders is what Envoy's connection manager adds to a request
// before its filter chain runs (ConnectionManagerUtility::mutateRequestHeaders,
// source/common/http/conn_manager_utility.cc), for the downstream the
// harness models (plain HTTP, an internal peer, the default
// generate_request_id):
//   - x-forwarded-proto, when absent, the downstream scheme ("http": the
//     simulated connection has no TLS);
//   - x-request-id, when absent, a random UUID (version 4) from the UUID
//     request id extension (source/extensions/request_id/uuid/config.cc);
//     an internal request keeps the one it brings.
//
// Both are appended, as a new header is in Envoy's header map. The
// request.id property reads x-request-id, so it exists for every stream.
func (g *Gateway) addRequestHeaders(h *pw.Headers) {
	if _, ok := h.Get("x-forwarded-proto"); !ok {
		h.Add("x-forwarded-proto", "http")
	}
	if _, ok := h.Get("x-request-id"); !ok {
		h.Add("x-request-id", g.newRequestID())
	}
}

func (g *Gateway) newRequestID() string {
	if g.ids == nil {
		g.ids = rand.New(rand.NewPCG(requestIDSeed, 0))
	}
	hi, lo := g.ids.Uint64(), g.ids.Uint64()
	hi = hi&^(0xf<<12) | 4<<12 // version 4
	lo = lo&^(0x3<<62) | 2<<62 // variant 10
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

// addUpstreamServiceTime is the header Envoy's router adds to an upstream
// response (Filter::onUpstreamHeaders, source/common/router/router.cc,
// unless suppress_envoy_headers): the milliseconds from the downstream
// request's end, when the router sent it upstream, to the response headers.
// The router's own local replies (no upstream response) carry none.
func (s *Stream) addUpstreamServiceTime(h *pw.Headers) {
	ms := s.g.Process.Clock.Now().Sub(s.upstreamAt) / time.Millisecond
	h.Set("x-envoy-upstream-service-time", strconv.FormatInt(int64(ms), 10))
}
