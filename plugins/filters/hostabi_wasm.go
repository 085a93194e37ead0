//go:build wasm

package main

import (
	"time"
	"unsafe"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

//go:wasmimport env proxy_get_header_map_pairs
//go:noescape
func proxyGetHeaderMapPairs(mapType uint32, returnData unsafe.Pointer, returnSize *int32) uint32

//go:wasmimport env proxy_get_property
//go:noescape
func proxyGetProperty(pathData *byte, pathSize int32, returnData unsafe.Pointer, returnSize *int32) uint32

//go:wasmimport env proxy_get_shared_data
//go:noescape
func proxyGetSharedData(keyData *byte, keySize int32, returnData unsafe.Pointer, returnSize *int32, returnCas *uint32) uint32

// malloc is the allocation function the host calls to return data: a
// proxy-wasm host prefers malloc to the SDK's proxy_on_memory_allocate
// when a module exports both (proxy-wasm-cpp-host, WasmBase's function
// lookup), so hot-path reads can take their buffers from scratch.go's
// block.
//
//lint:ignore U1000 called by the host, not by Go code
//go:wasmexport malloc
func malloc(size uint32) *byte { return allocate(size) }

//go:wasmimport wasi_snapshot_preview1 clock_time_get
//go:noescape
func clockTimeGet(clockID uint32, precision uint64, time *uint64) uint32

// wallClockNs reads the realtime clock, the one time.Now's wall reading
// uses, without the monotonic reading time.Now also makes (a second host
// call) that the filters never use.
func wallClockNs() int64 {
	var t uint64
	if clockTimeGet(0, 1, &t) != 0 {
		return time.Now().UnixNano()
	}
	return int64(t)
}

func headerMapPairs(mapType uint32) ([]byte, error) {
	var raw *byte
	var size int32
	scratchOn()
	st := proxyGetHeaderMapPairs(mapType, unsafe.Pointer(&raw), &size)
	scratchOff()
	if st != 0 {
		return nil, statusErr(st)
	}
	return unsafe.Slice(raw, size), nil
}

func property(path []byte) ([]byte, error) {
	var raw *byte
	var size int32
	scratchOn()
	st := proxyGetProperty(&path[0], int32(len(path)), unsafe.Pointer(&raw), &size)
	scratchOff()
	if st != 0 {
		return nil, statusErr(st)
	}
	return unsafe.Slice(raw, size), nil
}

// getSharedData is proxywasm.GetSharedData without its allocations.
func getSharedData(key string) ([]byte, uint32, error) {
	var raw *byte
	var size int32
	var cas uint32
	scratchOn()
	st := proxyGetSharedData(unsafe.StringData(key), int32(len(key)), unsafe.Pointer(&raw), &size, &cas)
	scratchOff()
	if st != 0 {
		return nil, 0, statusErr(st)
	}
	return unsafe.Slice(raw, size), cas, nil
}

// statusErr maps a host status to the SDK's errors (as the SDK does), so
// callers test errors as they do for the SDK's getters.
func statusErr(st uint32) error {
	switch st {
	case 0:
		return nil
	case 1:
		return types.ErrorStatusNotFound
	case 2:
		return types.ErrorStatusBadArgument
	case 7:
		return types.ErrorStatusEmpty
	case 8:
		return types.ErrorStatusCasMismatch
	case 12:
		return types.ErrorUnimplemented
	}
	return types.ErrorInternalFailure
}
