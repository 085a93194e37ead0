//go:build wasm

package main

// Scratch memory for the buffers the host returns on the hot path. The
// host copies every value it returns (a header map, a property, a shared
// record) into memory it asks the guest for, through the module's
// allocation export; the SDK's allocates a fresh Go slice each time, five
// per healthy request, each a trip through Go's allocator and more work
// for its collector. The hot-path reads (hostabi*.go) use every buffer
// only within the callback that read it, so inside one of the callbacks
// marked with enter/leave their buffers come from one fixed block, reset
// when the outermost marked callback starts. Elsewhere (the SDK's own
// reads, plugin start, http_call answers, anything kept past a callback)
// and for a buffer larger than what is left, the allocation is a Go slice
// as before.

var scratch struct {
	buf   [scratchSize]byte
	off   int
	depth int  // marked callbacks running (nested ones do not reset)
	on    bool // a hot-path read is asking the host for its value
}

const scratchSize = 16 << 10

// enter marks the start of a callback whose hot-path reads may use the
// scratch block; every enter is paired with a deferred leave.
func enter() {
	if scratch.depth == 0 {
		scratch.off = 0
	}
	scratch.depth++
}

func leave() { scratch.depth-- }

// scratchOn makes the next host-returned buffer come from the scratch
// block if a marked callback is running; scratchOff ends that.
func scratchOn()  { scratch.on = scratch.depth > 0 }
func scratchOff() { scratch.on = false }

// allocate is the module's allocation function for host-returned data.
func allocate(size uint32) *byte {
	n := int(size)
	if scratch.on && n > 0 && n <= scratchSize-scratch.off {
		p := &scratch.buf[scratch.off]
		scratch.off += (n + 7) &^ 7
		return p
	}
	// As the SDK's proxy_on_memory_allocate.
	b := make([]byte, max(n, 1))
	return &b[0]
}
