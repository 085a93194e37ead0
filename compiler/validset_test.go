package compiler

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/compiler/load"
)

// validSetOut holds the compiled output of the loader's valid fixtures
// (compiler/load/testdata/valid), the longest names every field accepts
// among them; compiler/istiocheck runs Istio's validation over it.
const validSetOut = "testdata/validset"

// TestValidSetGolden compiles every intent of the error table's valid set
// and compares the result with testdata/validset/<fixture>/.
func TestValidSetGolden(t *testing.T) {
	files, err := filepath.Glob("load/testdata/valid/*")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 5)
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.IsDir() {
			continue // files that intents refer to (spec.compose)
		}
		name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		t.Run(name, func(t *testing.T) {
			srcs, err := load.Paths(f)
			require.NoError(t, err)
			out, err := Compile(srcs, GoldenOptions)
			require.NoError(t, err)
			dir := filepath.Join(validSetOut, name)
			if *update {
				require.NoError(t, os.RemoveAll(dir))
				require.NoError(t, Write(dir, out))
				return
			}
			want := map[string]string{}
			err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || d.Name() == Marker {
					return err
				}
				b, err := os.ReadFile(p)
				rel, _ := filepath.Rel(dir, p)
				want[filepath.ToSlash(rel)] = string(b)
				return err
			})
			require.NoError(t, err, "golden output missing: run go test ./compiler -update")
			got := map[string]string{}
			for _, o := range out {
				got[o.Path] = string(o.Data)
				// Generated names fit Istio's limits (a DNS label for subsets).
				for _, line := range strings.Split(string(o.Data), "\n") {
					if v, ok := strings.CutPrefix(strings.TrimSpace(line), "subset: "); ok {
						assert.LessOrEqual(t, len(v), 63, "%s: subset %s", o.Path, v)
					}
				}
			}
			assert.Equal(t, keys(want), keys(got), "file set differs; run go test ./compiler -update and review")
			for p, w := range want {
				assert.Equal(t, w, got[p], "%s differs; run go test ./compiler -update and review", p)
			}
		})
	}
}
