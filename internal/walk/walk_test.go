package walk_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/compiler"
	"github.com/detour-mesh/detour/internal/ociwasm"
	"github.com/detour-mesh/detour/internal/walk"
)

func TestMarkersAreTheWriters(t *testing.T) {
	assert.ElementsMatch(t, []string{compiler.Marker, ociwasm.Marker}, walk.Markers)
}

func TestTree(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{
		"b.yaml", "a/z.cue", "a/m.json", "a/x.yml", "README.md", ".hidden.yaml",
		".git/config.yaml", "cue.mod/module.cue", "out/.detour-compile", "out/ns/x.yaml",
		"pkg/.detour-package", "pkg/index.json", "drills/d.yaml",
	} {
		full := filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, nil, 0o644))
	}
	files, err := walk.Tree(root)
	require.NoError(t, err)
	var rel []string
	for _, f := range files {
		r, err := filepath.Rel(root, f)
		require.NoError(t, err)
		rel = append(rel, r)
	}
	assert.Equal(t, []string{"a/m.json", "a/x.yml", "a/z.cue", "b.yaml", "drills/d.yaml"}, rel)

	// The directory named is read even when it is compiled output.
	files, err = walk.Tree(filepath.Join(root, "out"))
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(root, "out/ns/x.yaml")}, files)

	_, err = walk.Tree(filepath.Join(root, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestSplit(t *testing.T) {
	plain, packages := walk.Split([]string{"a/x.yaml", "a/p.cue", "a/sub/q.cue", "a/z.cue", "b.json", "a/sub/r.cue"})
	assert.Equal(t, []string{"a/x.yaml", "b.json"}, plain)
	assert.Equal(t, [][]string{{"a/p.cue", "a/z.cue"}, {"a/sub/q.cue", "a/sub/r.cue"}}, packages)
}
