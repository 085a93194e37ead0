package load

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzLoad feeds arbitrary YAML and CUE to the loader. It must never panic
// (the loader turns evaluator panics into internal errors, which count as
// failures here), every error must name the input file, and every intent it
// accepts must round-trip: its JSON is itself a valid intent that loads to
// the same value. The seed corpus (every fixture) runs in CI as a test.
func FuzzLoad(f *testing.F) {
	for _, glob := range []string{"testdata/*/*.yaml", "testdata/*/*.cue", "../../examples/*/intent.*"} {
		files, err := filepath.Glob(glob)
		require.NoError(f, err)
		for _, p := range files {
			b, err := os.ReadFile(p)
			require.NoError(f, err)
			f.Add(b, filepath.Ext(p) == ".cue")
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, isCUE bool) {
		name := "fuzz.yaml"
		if isCUE {
			name = "fuzz.cue"
		}
		srcs, err := Bytes(name, data)
		if err != nil {
			require.Empty(t, srcs)
			var errs Errors
			require.ErrorAs(t, err, &errs)
			require.NotEmpty(t, errs)
			for _, e := range errs {
				if e.File != name {
					// Only a file the input's spec.compose names, which exists.
					_, serr := os.Stat(e.File)
					assert.NoError(t, serr, "error in %s, not in the input", e.File)
				}
				assert.NotEmpty(t, e.Msg)
				assert.NotContains(t, e.Msg, "internal error", "evaluator panic on input %q", data)
				assert.NotContains(t, e.Error(), schemaPrefix, "errors never point into the schema")
			}
			return
		}
		for _, s := range srcs {
			b, err := json.Marshal(s.Intent)
			require.NoError(t, err)
			again, err := Bytes("normalised.json", b)
			require.NoError(t, err, "normalised intent is not valid: %s", b)
			require.Len(t, again, 1)
			assert.Equal(t, s.Intent, again[0].Intent, "normalising is idempotent")
		}
	})
}

// TestRoundTrip checks the contract that the JSON of a normalised intent is
// a valid intent that normalises to itself, on every valid fixture.
func TestRoundTrip(t *testing.T) {
	srcs, err := Paths("testdata/valid", "testdata/cuepkg")
	require.NoError(t, err)
	require.NotEmpty(t, srcs)
	for _, s := range srcs {
		b, err := json.Marshal(s.Intent)
		require.NoError(t, err)
		// Next to the source: spec.compose is relative to the intent's directory.
		again, err := Bytes(filepath.Join(filepath.Dir(s.File), strings.ReplaceAll(s.Intent.Metadata.Name, "-", "")+".json"), b)
		require.NoError(t, err, "%s", b)
		require.Len(t, again, 1)
		assert.Equal(t, s.Intent, again[0].Intent)
	}
}
