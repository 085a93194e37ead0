package proxywasm

import "encoding/binary"

// Host parsing limits from cpp-host limits.h: anything larger parses as an
// empty map, with no error.
const (
	maxPairsBytes = 1 << 20
	maxPairs      = 1024
)

// encodePairs serialises pairs the proxy-wasm way: u32 count, count×(u32
// key len, u32 value len), then each key and value followed by a NUL.
// An empty map encodes to nil (cpp-host returns ptr 0/size 0, and the SDK
// cannot parse a 1-byte buffer).
func encodePairs(pairs [][2]string) []byte {
	if len(pairs) == 0 {
		return nil
	}
	size := 4 + 8*len(pairs)
	for _, p := range pairs {
		size += len(p[0]) + len(p[1]) + 2
	}
	b := make([]byte, size)
	binary.LittleEndian.PutUint32(b, uint32(len(pairs)))
	off := 4
	for _, p := range pairs {
		binary.LittleEndian.PutUint32(b[off:], uint32(len(p[0])))
		binary.LittleEndian.PutUint32(b[off+4:], uint32(len(p[1])))
		off += 8
	}
	for _, p := range pairs {
		off += copy(b[off:], p[0])
		b[off] = 0
		off++
		off += copy(b[off:], p[1])
		b[off] = 0
		off++
	}
	return b
}

// decodePairs parses a pairs buffer like cpp-host's toPairs: malformed or
// oversized input yields an empty result, never an error.
func decodePairs(b []byte) [][2]string {
	if len(b) < 4 || len(b) > maxPairsBytes {
		return nil
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n > maxPairs || 4+8*n > len(b) {
		return nil
	}
	sizes := b[4 : 4+8*n]
	data := b[4+8*n:]
	out := make([][2]string, 0, n)
	for i := 0; i < n; i++ {
		kl := int(binary.LittleEndian.Uint32(sizes[8*i:]))
		vl := int(binary.LittleEndian.Uint32(sizes[8*i+4:]))
		if kl+1 > len(data) {
			return nil
		}
		k := string(data[:kl])
		data = data[kl+1:]
		if vl+1 > len(data) {
			return nil
		}
		v := string(data[:vl])
		data = data[vl+1:]
		out = append(out, [2]string{k, v})
	}
	return out
}
