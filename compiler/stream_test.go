package compiler

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/compiler/load"
)

// readTree returns the files under dir (slash paths) and their bytes.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = string(b)
		return err
	}))
	return got
}

// TestWriteStreamSameAsWrite: streaming compile (several workers writing as
// they go) writes the very files Compile and Write do, on every example
// and on a directory of generated intents.
func TestWriteStreamSameAsWrite(t *testing.T) {
	load.Workers = 2
	defer func() { load.Workers = 0 }()
	gen := t.TempDir()
	for i := range 40 {
		require.NoError(t, os.WriteFile(filepath.Join(gen, fmt.Sprintf("i%02d.yaml", i)), genIntent(i), 0o644))
	}
	for _, dir := range append(exampleDirs(t), gen) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			srcs, err := load.Paths(dir)
			require.NoError(t, err)
			files, err := Compile(srcs, GoldenOptions)
			require.NoError(t, err)
			want := filepath.Join(t.TempDir(), "want")
			require.NoError(t, Write(want, files))

			got := filepath.Join(t.TempDir(), "got")
			res, err := WriteStream(context.Background(), got, []string{dir}, nil, GoldenOptions)
			require.NoError(t, err)
			assert.Equal(t, Streamed{Intents: len(srcs), Files: len(files)}, res)
			assert.Equal(t, readTree(t, want), readTree(t, got))
		})
	}
}

// TestWriteStreamInvalidWritesNothing: one invalid intent among valid ones
// leaves an existing output as it was; every error is reported, sorted.
func TestWriteStreamInvalidWritesNothing(t *testing.T) {
	in := t.TempDir()
	for i := range 12 {
		require.NoError(t, os.WriteFile(filepath.Join(in, fmt.Sprintf("i%02d.yaml", i)), genIntent(i), 0o644))
	}
	bad := "apiVersion: detour.dev/v1alpha1\nkind: FailoverIntent\nmetadata: {name: x, namespace: y}\nspec:\n  clusters: 3\n"
	require.NoError(t, os.WriteFile(filepath.Join(in, "i05.yaml"), []byte(bad), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(in, "i09.yaml"), []byte(bad), 0o644))
	out := filepath.Join(t.TempDir(), "out")
	require.NoError(t, Write(out, []File{{Path: "old", Data: []byte("old")}}))

	_, err := WriteStream(context.Background(), out, []string{in}, nil, GoldenOptions)
	var errs load.Errors
	require.ErrorAs(t, err, &errs)
	require.Len(t, errs, 4) // two per invalid file
	assert.Equal(t, filepath.Join(in, "i05.yaml"), errs[0].File)
	assert.Equal(t, filepath.Join(in, "i09.yaml"), errs[3].File)
	assert.Equal(t, map[string]string{"old": "old", Marker: readTree(t, out)[Marker]}, readTree(t, out))
	entries, err := os.ReadDir(filepath.Dir(out))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary directory left beside the output")
}
