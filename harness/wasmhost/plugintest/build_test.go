package plugintest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// prune removes what no build has placed for a day: old modules and the
// build directories of killed builds; everything else stays.
func TestPrune(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	files := []struct {
		name string
		age  time.Duration
		dir  bool
		gone bool
	}{
		{"old-0123.wasm", 25 * time.Hour, false, true},
		{"fresh-4567.wasm", time.Hour, false, false},
		{"edge-89ab.wasm", keep - time.Minute, false, false},
		{".build-123", 48 * time.Hour, true, true},
		{".build-456", time.Minute, true, false},
		{"notes.txt", 48 * time.Hour, false, false},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if f.dir {
			require.NoError(t, os.MkdirAll(filepath.Join(p, "sub"), 0o755))
		} else {
			require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
		}
		require.NoError(t, os.Chtimes(p, now.Add(-f.age), now.Add(-f.age)))
	}
	prune(dir, now)
	for _, f := range files {
		_, err := os.Stat(filepath.Join(dir, f.name))
		assert.Equal(t, f.gone, os.IsNotExist(err), f.name)
	}
}

// A module pruned by another process while this one still holds its path
// is built again, not handed out missing.
func TestBuildAgainAfterPrune(t *testing.T) {
	p, err := Build("hog")
	require.NoError(t, err)
	require.NoError(t, os.Remove(p))
	again, err := Build("hog")
	require.NoError(t, err)
	assert.Equal(t, p, again, "same bytes, same name")
	info, err := os.Stat(again)
	require.NoError(t, err)
	assert.Positive(t, info.Size())
}
