package proxywasm

import (
	"fmt"
	"unsafe"
)

// maxPathSegments bounds a property path split on the stack; a longer path
// (no Envoy attribute has one) is split onto the heap.
const maxPathSegments = 8

// propertyPath splits proxy_get_property's NUL-joined path into buf
// without copying it: the segments view the guest's memory and are valid
// only until the guest runs again (the malloc of the answer), which
// getProperty never outlives with them. Envoy's getProperty walks the path
// the same way, as string_views over the guest's buffer
// (source/extensions/common/wasm/context.cc, Context::getProperty), where
// the harness copied the path and split it into a new slice per call.
func (vm *VM) propertyPath(ptr, size uint64, buf *[maxPathSegments]string) []string {
	if size == 0 {
		return splitPath(nil, buf)
	}
	b, ok := vm.mem().Read(u32(ptr), u32(size))
	if !ok {
		panic(fmt.Errorf("invalid memory access reading %d bytes at %d", size, ptr))
	}
	return splitPath(b, buf)
}

// splitPath is strings.Split(string(b), "\x00") into buf, the segments
// viewing b, except that the empty segment after a trailing NUL (and the
// one of an empty path) is not there: Envoy's Context::getProperty stops
// walking once its cursor reaches the path's end, so "a\x00" is read as
// "a" and "a\x00\x00" as "a" then "" (source/extensions/common/wasm/
// context.cc).
func splitPath(b []byte, buf *[maxPathSegments]string) []string {
	path := buf[:0]
	start := 0
	for i := 0; i <= len(b); i++ {
		if i < len(b) && b[i] != 0 {
			continue
		}
		if i == len(b) && start == len(b) {
			break
		}
		seg := ""
		if i > start {
			seg = unsafe.String(&b[start], i-start)
		}
		path = append(path, seg) // past cap(buf) append moves to the heap
		start = i + 1
	}
	return path
}
