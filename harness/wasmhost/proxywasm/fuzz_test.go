package proxywasm

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// FuzzDecodePairs: any bytes parse without panic, and what parses
// round-trips through the encoder.
func FuzzDecodePairs(f *testing.F) {
	f.Add(encodePairs([][2]string{{"a", "1"}, {"b", "22"}}))
	f.Add([]byte{1, 0, 0, 0, 9, 0, 0, 0, 9, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := decodePairs(b)
		if len(p) == 0 {
			return
		}
		assert.Equal(t, p, decodePairs(encodePairs(p)))
	})
}
