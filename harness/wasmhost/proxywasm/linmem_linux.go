//go:build linux

package proxywasm

import (
	"context"
	"runtime"
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// withLinearMemory makes the VM's linear memory grow in place, as V8 and
// the other runtimes Envoy embeds do: the whole maximum is reserved as
// address space up front (no memory is used until touched) and memory.grow
// makes the next pages accessible. wazero's default grows a Go slice by
// copying the whole memory to a new one, milliseconds for a Go guest's
// 4-8 MiB heap, which no Envoy pays; measured per request it showed up as
// the filters' cost (BENCHMARKS.md, "Filters").
func withLinearMemory(ctx context.Context) context.Context {
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(newReservedMemory))
}

// reservedMemory is one VM's linear memory in a reserved mapping.
type reservedMemory struct {
	buf       []byte // the reservation; [committed:] is inaccessible
	committed uint64
	cleanup   runtime.Cleanup
	fallback  []byte // when the reservation failed: wazero's own way
}

func newReservedMemory(_, max uint64) experimental.LinearMemory {
	m := &reservedMemory{}
	if max == 0 {
		return m
	}
	buf, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
	if err != nil {
		return m
	}
	m.buf = buf
	// A VM dropped without Close still gives its reservation back.
	m.cleanup = runtime.AddCleanup(m, func(b []byte) { _ = syscall.Munmap(b) }, buf)
	return m
}

func (m *reservedMemory) Reallocate(size uint64) []byte {
	if m.buf == nil {
		if size > uint64(len(m.fallback)) {
			m.fallback = append(m.fallback, make([]byte, size-uint64(len(m.fallback)))...)
		}
		return m.fallback[:size]
	}
	if size > uint64(len(m.buf)) {
		return nil
	}
	if size > m.committed {
		// Wasm pages (64 KiB) are whole OS pages.
		if err := syscall.Mprotect(m.buf[m.committed:size], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
			return nil
		}
		m.committed = size
	}
	return m.buf[:size:size]
}

func (m *reservedMemory) Free() {
	if m.buf == nil {
		return
	}
	m.cleanup.Stop()
	_ = syscall.Munmap(m.buf)
	m.buf = nil
}
