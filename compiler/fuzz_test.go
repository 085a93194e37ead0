package compiler

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/compiler/load"
)

// FuzzCompile: whatever the loader accepts, the compiler compiles without
// error or panic, deterministically, and every file it makes is YAML that
// starts with the generated-file header.
func FuzzCompile(f *testing.F) {
	yamls, err := filepath.Glob("../examples/*/intent.yaml")
	require.NoError(f, err)
	for _, p := range yamls {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	for i := range 8 {
		f.Add(genIntent(i))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		srcs, err := load.Bytes("fuzz.yaml", data)
		if err != nil {
			return
		}
		a, err := Compile(srcs, GoldenOptions)
		require.NoError(t, err)
		b, err := Compile(srcs, GoldenOptions)
		require.NoError(t, err)
		require.Equal(t, a, b)
		for _, file := range a {
			require.True(t, bytes.HasPrefix(file.Data, []byte(header)), file.Path)
		}
	})
}
