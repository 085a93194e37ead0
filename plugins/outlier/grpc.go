package outlier

// gRPC responses. Envoy's router reports a gRPC request's response to the
// outlier detector by its grpc-status mapped to an HTTP status, not by
// :status (source/common/router/router.cc, Filter::onUpstreamHeaders, with
// Grpc::Utility::grpcToHttpStatus of source/common/grpc/status.cc; the
// simulator's Envoy model, harness/simulator/envoy/grpc.go, follows the
// same source). A failure is thus a 5xx for the detectors: UNAVAILABLE
// 503 and DEADLINE_EXCEEDED 504 are gateway errors, UNKNOWN, INTERNAL,
// DATA_LOSS 500 and UNIMPLEMENTED 501 are 5xx; the other statuses map to
// 2xx or 4xx and count as successes.

// GrpcToHTTP is Grpc::Utility::grpcToHttpStatus.
func GrpcToHTTP(status int) int {
	switch status {
	case 0: // OK
		return 200
	case 1: // CANCELLED
		return 499
	case 3, 9, 11: // INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE
		return 400
	case 4: // DEADLINE_EXCEEDED
		return 504
	case 5: // NOT_FOUND
		return 404
	case 6, 10: // ALREADY_EXISTS, ABORTED
		return 409
	case 7: // PERMISSION_DENIED
		return 403
	case 8: // RESOURCE_EXHAUSTED
		return 429
	case 12: // UNIMPLEMENTED
		return 501
	case 14: // UNAVAILABLE
		return 503
	case 16: // UNAUTHENTICATED
		return 401
	}
	// UNKNOWN (2), INTERNAL (13), DATA_LOSS (15) and codes gRPC does not define.
	return 500
}

// ParseGrpcStatus reads a grpc-status value (decimal digits); false when
// it is not one.
func ParseGrpcStatus[T string | []byte](v T) (int, bool) {
	if len(v) == 0 || len(v) > 4 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// ClassifyGrpc is Classify for a response that carries a grpc-status: a
// 200 whose status is a failure counts as the mapped 5xx.
func ClassifyGrpc(code int, flags uint64, reset bool, grpcStatus int) Outcome {
	if code == 200 && !reset {
		code = GrpcToHTTP(grpcStatus)
	}
	return Classify(code, flags, reset)
}
