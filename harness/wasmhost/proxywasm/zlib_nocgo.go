//go:build !cgo

package proxywasm

import (
	"bytes"
	"compress/zlib"
)

// zlibCompress without cgo falls back to Go's compress/zlib: a valid zlib
// stream that uncompresses to the same bytes, but not zlib's compress()
// bytes (Go's deflate finds other matches and ends with an empty stored
// block). Build with cgo (the default where a C compiler and zlib.h exist)
// for Envoy's exact bytes.
func zlibCompress(in []byte) ([]byte, bool) {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write(in)
	if err := w.Close(); err != nil {
		return nil, false
	}
	return b.Bytes(), true
}

const zlibIsExact = false
