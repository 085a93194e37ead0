package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/detour-mesh/detour/plugins/outlier"
)

// gRPC: a 200 response's grpc-status decides its outcome
// (outlier.ClassifyGrpc). gRPC sends the status in the trailers, or in the
// headers when the response has no body (trailers-only). The outlier
// filter reads it where it is: from the headers, else, for a response whose
// content-type is gRPC and that has a body, from the trailers, counting the
// response only then. Envoy's router counts only a status in the headers
// for outlier detection; a failure in the trailers is the normal gRPC
// failure, so the filter counts it too. The retry filter, like Envoy's
// retry policy, retries on a status in the headers only: by the trailers
// the response is already on its way to the client.

// headerGrpcStatus is the response's grpc-status header, -1 when none.
func headerGrpcStatus(hs headerPairs) int {
	v, err := hs.get("grpc-status")
	if err != nil {
		return -1
	}
	if n, ok := outlier.ParseGrpcStatus(v); ok {
		return n
	}
	return -1
}

// grpcOf is a 200 response's grpc-status from its headers, -1 when none;
// when the status is to come in the trailers it sets grpcPending. Only a
// gRPC content-type (which a trailers-only response carries too) costs the
// look-ups.
func (o *outlierStream) grpcOf(hs headerPairs, eos bool) int {
	ct, err := hs.get("content-type")
	if err != nil || !isGrpcContentType(ct) {
		return -1
	}
	if n := headerGrpcStatus(hs); n >= 0 || eos {
		return n
	}
	o.grpcPending = true
	return -1
}

// isGrpcContentType is Envoy's Grpc::Common::isGrpcRequestHeaders test on
// a content-type: application/grpc, alone or with +suffix or ;parameters.
func isGrpcContentType(ct string) bool {
	const p = "application/grpc"
	if len(ct) < len(p) || !equalFoldASCII(ct[:len(p)], p) {
		return false
	}
	return len(ct) == len(p) || ct[len(p)] == '+' || ct[len(p)] == ';'
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func (o *outlierStream) OnHttpResponseTrailers(int) types.Action {
	enter()
	defer o.p.exit()
	o.onResponseTrailers()
	return types.ActionContinue
}

func (o *outlierStream) onResponseTrailers() {
	if !o.grpcPending {
		return
	}
	o.grpcPending = false
	status := 0 // no status in the trailers either: the stream answered
	if v, err := proxywasm.GetHttpResponseTrailer("grpc-status"); err == nil {
		if n, ok := outlier.ParseGrpcStatus(v); ok {
			status = n
		}
	}
	o.count(o.target, outlier.ClassifyGrpc(200, 0, false, status))
}

// grpcDone counts a gRPC response whose trailers never came (the stream
// ended without them) as answered.
func (o *outlierStream) grpcDone() {
	if o.grpcPending {
		o.grpcPending = false
		o.count(o.target, outlier.Success)
	}
}

// isGrpcRequest: the request's content-type is gRPC.
func isGrpcRequest(hs [][2]string) bool {
	for _, kv := range hs {
		if kv[0] == "content-type" { // Envoy's header names are lower case
			return isGrpcContentType(kv[1])
		}
	}
	return false
}

// probeGrpcStatus is a probe answer's status with a failing grpc-status
// header (a gRPC server that fails every call, the probe's too) read as
// the HTTP status it maps to.
func probeGrpcStatus(status int, hs [][2]string) int {
	if status != 200 {
		return status
	}
	for _, kv := range hs {
		if kv[0] == "grpc-status" {
			if n, ok := outlier.ParseGrpcStatus(kv[1]); ok && n != 0 {
				return outlier.GrpcToHTTP(n)
			}
		}
	}
	return status
}
