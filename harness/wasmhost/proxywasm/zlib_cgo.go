//go:build cgo

package proxywasm

/*
#cgo LDFLAGS: -lz
#include <stdlib.h>
#include <zlib.h>
*/
import "C"

// zlibCompress is zlib's compress() (default level, one deflate call with
// Z_FINISH), the call Envoy's "compress" foreign function makes
// (source/extensions/common/wasm/foreign.cc). Go's compress/zlib encodes
// differently (its own match finder, and an empty final stored block), so
// a plugin that hashes or compares the bytes would see a difference.
// Envoy linked zlib by default up to 1.37; 1.38 links zlib-ng, whose
// bytes differ again.
func zlibCompress(in []byte) ([]byte, bool) {
	bound := C.compressBound(C.uLong(len(in)))
	out := C.malloc(C.size_t(bound))
	defer C.free(out)
	var src *C.Bytef
	if len(in) > 0 {
		cin := C.CBytes(in)
		defer C.free(cin)
		src = (*C.Bytef)(cin)
	}
	n := bound
	if C.compress((*C.Bytef)(out), &n, src, C.uLong(len(in))) != C.Z_OK {
		return nil, false
	}
	return C.GoBytes(out, C.int(n)), true
}

// zlibIsExact reports whether compress produces zlib's exact bytes.
const zlibIsExact = true
