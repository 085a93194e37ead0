package load

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkLoad measures loading one YAML intent (decode, unify with
// #Intent, validate, decode into Go) and a stream of many.
func BenchmarkLoad(b *testing.B) {
	one, err := os.ReadFile("../../examples/bookinfo/intent.yaml")
	if err != nil {
		one, err = os.ReadFile("testdata/valid/minimal.yaml")
	}
	require.NoError(b, err)
	_, err = Bytes("intent.yaml", one) // build the schema once, outside the timing
	require.NoError(b, err)

	b.Run("yaml", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Bytes("intent.yaml", one); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("yaml-stream-100", func(b *testing.B) {
		stream := manyIntents(b, 100)
		b.ReportAllocs()
		for b.Loop() {
			srcs, err := Bytes("stream.yaml", stream)
			if err != nil || len(srcs) != 100 {
				b.Fatal(err, len(srcs))
			}
		}
	})
	b.Run("cue", func(b *testing.B) {
		src, err := os.ReadFile("testdata/valid/package.cue")
		require.NoError(b, err)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Bytes("intent.cue", src); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// manyIntents returns a YAML stream of n distinct intents.
func manyIntents(tb testing.TB, n int) []byte {
	base, err := os.ReadFile("testdata/valid/minimal.yaml")
	require.NoError(tb, err)
	var buf bytes.Buffer
	for i := range n {
		fmt.Fprintf(&buf, "---\n%s", bytes.Replace(base, []byte("name: reviews"), fmt.Appendf(nil, "name: svc-%d", i), 1))
	}
	return buf.Bytes()
}
