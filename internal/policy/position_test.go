package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPositionInLaterDocument: positions in a document after the first
// count the lines before it; a path that is not written falls back to the
// document's start, an index one past the end to the list.
func TestPositionInLaterDocument(t *testing.T) {
	docs, err := Parse("x.yaml", []byte("a: 1\n---\nkind: X\nspec:\n  list: [1, 2]\n"))
	require.NoError(t, err)
	require.Len(t, docs, 2)
	d := docs[1]
	for _, tc := range []struct {
		path      string
		line, col int
	}{
		{"nope.x", 3, 1},
		{"spec.list[1]", 5, 13},
		{"spec.list[2]", 5, 9},
	} {
		line, col := d.Position(tc.path)
		assert.Equal(t, []int{tc.line, tc.col}, []int{line, col}, tc.path)
	}
}

// TestCollectSkipsHiddenAndCueMod: a walk skips hidden directories and
// cue.mod below the directory given, but not the directory given itself.
func TestCollectSkipsHiddenAndCueMod(t *testing.T) {
	const doc = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: n}\nspec: {}\n"
	root := filepath.Join(t.TempDir(), ".out")
	for _, p := range []string{"ok.yaml", ".git/x.yaml", "cue.mod/y.yaml", "sub/z.yaml"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, p), []byte(doc), 0o644))
	}
	docs, err := Collect(root)
	require.NoError(t, err)
	var files []string
	for _, d := range docs {
		files = append(files, filepath.ToSlash(strings.TrimPrefix(d.File, root+string(filepath.Separator))))
	}
	assert.Equal(t, []string{"ok.yaml", "sub/z.yaml"}, files)
}

// TestIntentErrorInLaterDocument: an intent loaded from a later document
// reports its errors at the file's lines.
func TestIntentErrorInLaterDocument(t *testing.T) {
	intent, err := os.ReadFile("../../compiler/load/testdata/valid/minimal.yaml")
	require.NoError(t, err)
	bad := strings.Replace(string(intent), "port: 9080", "port: 70000", 1)
	require.NotEqual(t, string(intent), bad)
	_, err = Parse("x.yaml", []byte("a: 1\n---\n"+bad))
	require.Error(t, err)
	// port is on line 8 of the intent, line 10 of the stream.
	assert.True(t, strings.HasPrefix(err.Error(), "x.yaml:10:11: spec.service.port"), err.Error())
}
