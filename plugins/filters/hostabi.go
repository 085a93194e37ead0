package main

import (
	"encoding/binary"
	"strings"
	"unsafe"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// The per-request host reads, without the SDK's allocations: the SDK
// passes the addresses of its return slots to imports the compiler must
// assume keep them, so each of its getters heap-allocates two slots (and
// GetProperty its serialized path) per call, and Go's allocator and GC are
// the expensive part of a Go guest. The imports in hostabi_wasm.go are
// declared //go:noescape, so the slots stay on the stack; the returned
// buffer is still the one the host allocates through the SDK's
// proxy_on_memory_allocate. Everything else goes through the SDK.

// headerPairs is a header map as proxy_get_header_map_pairs returns it
// (count, key and value sizes, then each key and value NUL-terminated):
// one host call for every header a callback needs, read in place.
type headerPairs []byte

// requestHeaders reads the request headers in one host call; nil (every
// lookup not found) when the host has none to give.
func requestHeaders() headerPairs {
	b, err := headerMapPairs(0) // MapTypeHttpRequestHeaders
	if err != nil {
		return nil
	}
	return headerPairs(b)
}

// responseHeaders reads the response headers in one host call (the same
// reading: :status, content-type and grpc-status together).
func responseHeaders() headerPairs {
	b, err := headerMapPairs(2) // MapTypeHttpResponseHeaders
	if err != nil {
		return nil
	}
	return headerPairs(b)
}

// get returns the first value of key, as proxy_get_header_map_value does
// (Envoy's getHeaderMapValue returns the first entry; keys are stored
// lower-case, so key is compared without case). The value points into the
// buffer: it is valid while the buffer is referenced (this callback).
func (h headerPairs) get(key string) (string, error) {
	if len(h) < 4 {
		return "", types.ErrorStatusNotFound
	}
	n := int(binary.LittleEndian.Uint32(h))
	sizes := 4
	data := 4 + 8*n
	if n < 0 || data > len(h) {
		return "", types.ErrorStatusNotFound
	}
	for range n {
		ks := int(binary.LittleEndian.Uint32(h[sizes:]))
		vs := int(binary.LittleEndian.Uint32(h[sizes+4:]))
		sizes += 8
		if ks < 0 || vs < 0 || data+ks+1+vs > len(h) {
			break
		}
		k := h[data : data+ks]
		data += ks + 1
		if len(k) == len(key) && strings.EqualFold(unsafe.String(unsafe.SliceData(k), len(k)), key) {
			if vs == 0 {
				return "", nil
			}
			return unsafe.String(&h[data], vs), nil
		}
		data += vs + 1
	}
	return "", types.ErrorStatusNotFound
}

// getProperty reads a property without allocating its path (a stack
// buffer for the usual short paths).
func getProperty(path ...string) ([]byte, error) {
	var buf [64]byte
	p := buf[:0]
	for i, s := range path {
		if i > 0 {
			p = append(p, 0)
		}
		p = append(p, s...)
	}
	if len(p) == 0 {
		return nil, types.ErrorStatusBadArgument
	}
	return property(p)
}
