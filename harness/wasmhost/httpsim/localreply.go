// Local replies as Envoy sends them: the filter's or the router's status,
// headers and body, and gRPC requests answered in gRPC terms.

package httpsim

import (
	"fmt"
	"strconv"
	"strings"

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

// startLocalReply answers with the pending local reply. Before the response
// reached the encoder filters it runs through them (Envoy's
// sendLocalReplyViaFilterChain); once a response is being encoded it goes
// straight to the client, replacing the upstream response.
func (s *Stream) startLocalReply() {
	lr := s.pendingReply
	s.pendingReply = nil
	s.LocalReplies = append(s.LocalReplies, *lr)
	if s.clientGotHeaders {
		// Headers already went downstream: all Envoy can do is reset.
		s.reset(lr.Details)
		return
	}
	h, body := localReplyHeaders(lr.LocalReply, s.grpc, s.head)
	s.dec.abort()
	s.upstreamSent = true
	direct := s.replySent || s.enc.started
	s.replySent = true
	s.setResponseInfo(lr.Status, lr.Details, 0, h)
	if direct {
		s.enc.abort()
		s.respHeaders, s.respBody, s.respTrailers = h, []byte(body), nil
		s.finish(false)
		return
	}
	s.enc.push(0, &frame{kind: frameHeaders, h: h, eos: body == ""})
	if body != "" {
		s.enc.push(0, &frame{kind: frameBody, body: []byte(body), eos: true})
	}
}

// localReplyHeaders renders a local reply as Envoy's
// Http::Utility::prepareLocalReply (source/common/http/utility.cc) does: the
// filter's headers go in first; a gRPC request gets a trailers-only answer
// (:status 200, content-type application/grpc, grpc-status from the reply or
// mapped from the HTTP code, the body percent-encoded as grpc-message, no
// body and no content-length); any other request gets content-length and a
// text/plain content-type (unless the filter set one) when there is a body,
// and neither when there is none. The gRPC status a reply carries is
// ignored for non-gRPC requests. A HEAD request gets the headers only
// (encodeLocalReply), and no grpc-message.
func localReplyHeaders(lr pw.LocalReply, grpc, head bool) (*pw.Headers, string) {
	h := pw.NewHeaders(nil)
	h.Set(":status", strconv.Itoa(lr.Status))
	for _, kv := range lr.Headers {
		h.Add(kv[0], kv[1])
	}
	if grpc {
		h.Set(":status", "200")
		h.Set("content-type", "application/grpc")
		if _, ok := h.Get("grpc-status"); !ok {
			code := lr.GrpcStatus
			if code < 0 {
				code = HTTPToGrpcStatus(lr.Status)
			}
			h.Set("grpc-status", strconv.Itoa(code))
		}
		if lr.Body != "" && !head {
			h.Set("grpc-message", grpcPercentEncode(lr.Body))
		}
		h.Remove("content-length")
		return h, ""
	}
	if lr.Body != "" {
		h.Set("content-length", strconv.Itoa(len(lr.Body)))
		if _, ok := h.Get("content-type"); !ok {
			h.Set("content-type", "text/plain")
		}
	} else {
		h.Remove("content-length")
		h.Remove("content-type")
	}
	if head {
		return h, ""
	}
	return h, lr.Body
}

// HTTPToGrpcStatus is Envoy's Grpc::Utility::httpToGrpcStatus
// (source/common/grpc/status.cc), after gRPC's HTTP-to-gRPC mapping.
func HTTPToGrpcStatus(status int) int {
	switch status {
	case 400:
		return 13 // Internal
	case 401:
		return 16 // Unauthenticated
	case 403:
		return 7 // PermissionDenied
	case 404:
		return 12 // Unimplemented
	case 429, 502, 503, 504:
		return 14 // Unavailable
	}
	return 2 // Unknown
}

// grpcPercentEncode is Envoy's Http::Utility::PercentEncoding::encode with
// its default reserved set: bytes below ' ', from '~' up, and '%' become %XX.
func grpcPercentEncode(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < ' ' || c >= '~' || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// isGrpcRequest is Envoy's Grpc::Common::isGrpcRequestHeaders
// (source/common/grpc/common.cc): a :path and a content-type that is
// application/grpc or starts with application/grpc+. The HCM decides it
// from the downstream request headers, before any filter ran.
func isGrpcRequest(h *pw.Headers) bool {
	if _, ok := h.Get(":path"); !ok {
		return false
	}
	ct, _ := h.Get("content-type")
	return ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+")
}
