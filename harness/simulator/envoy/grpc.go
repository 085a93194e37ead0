package envoy

import "strings"

// gRPC status for outlier detection. The router reports a gRPC request's
// response to the outlier detector by its grpc-status header mapped to an
// HTTP code, not by :status (source/common/router/router.cc,
// Filter::onUpstreamHeaders; the mapping is Grpc::Utility::grpcToHttpStatus
// in source/common/grpc/status.cc). A grpc-status sent only in trailers is
// not seen there, nor here.

// isGrpcRequest is Grpc::Common::isGrpcRequestHeaders: content-type
// application/grpc, alone or with a +suffix or ;parameters.
func isGrpcRequest(headers [][2]string) bool {
	for _, kv := range headers {
		if strings.EqualFold(kv[0], "content-type") {
			ct := strings.ToLower(kv[1])
			if ct == "application/grpc" {
				return true
			}
			return strings.HasPrefix(ct, "application/grpc+") || strings.HasPrefix(ct, "application/grpc;")
		}
	}
	return false
}

// grpcStatus reads the grpc-status response header.
func grpcStatus(headers [][2]string) (int, bool) {
	for _, kv := range headers {
		if strings.EqualFold(kv[0], "grpc-status") {
			n := atoiOr(kv[1], -1)
			return n, n >= 0
		}
	}
	return 0, false
}

// grpcToHTTP is Grpc::Utility::grpcToHttpStatus.
func grpcToHTTP(code int) int {
	switch code {
	case 0:
		return 200
	case 1:
		return 499
	case 3, 9, 11:
		return 400
	case 4:
		return 504
	case 5:
		return 404
	case 6, 10:
		return 409
	case 7:
		return 403
	case 8:
		return 429
	case 12:
		return 501
	case 14:
		return 503
	case 16:
		return 401
	}
	// Unknown (2), Internal (13), DataLoss (15) and codes Envoy does not know.
	return 500
}

// userStatus is the status a client saw, as a report counts it: a 200
// whose grpc-status header is not OK is a failed call, counted as the HTTP
// status Envoy maps the gRPC status to (grpcToHTTP). The simulated
// upstreams send a gRPC failure as a trailers-only response, so the status
// is in the headers.
func userStatus(status int, headers [][2]string) int {
	if status != 200 {
		return status
	}
	if gs, ok := grpcStatus(headers); ok && gs != 0 {
		return grpcToHTTP(gs)
	}
	return status
}
