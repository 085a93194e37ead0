package compiler

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/compiler/load"
	"github.com/detour-mesh/detour/internal/golden"
)

var update = golden.Update // rewrites examples/*/out

// GoldenOptions are the options the examples are compiled with: a fixed
// test digest stands in for the released module's.
var GoldenOptions = Options{
	WasmURL:    "oci://ghcr.io/detour-mesh/filters:v0.1.0",
	WasmSHA256: "0000000000000000000000000000000000000000000000000000000000000001",
}

// notMine are example folders owned elsewhere (policy fixtures).
var notMine = map[string]bool{"ci": true}

func exampleDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("../examples")
	require.NoError(t, err)
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && !notMine[e.Name()] {
			dirs = append(dirs, filepath.Join("../examples", e.Name()))
		}
	}
	require.NotEmpty(t, dirs)
	return dirs
}

// TestExamplesGolden compiles every example and compares the result with
// its out/ folder, file set and bytes.
func TestExamplesGolden(t *testing.T) {
	for _, dir := range exampleDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			srcs, err := load.Paths(dir)
			require.NoError(t, err)
			files, err := Compile(srcs, GoldenOptions)
			require.NoError(t, err)
			out := filepath.Join(dir, "out")
			if *update {
				require.NoError(t, Write(out, files))
				return
			}
			got := map[string]string{}
			for _, f := range files {
				got[f.Path] = string(f.Data)
			}
			want := map[string]string{}
			err = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || d.Name() == Marker {
					return err
				}
				b, err := os.ReadFile(p)
				rel, _ := filepath.Rel(out, p)
				want[filepath.ToSlash(rel)] = string(b)
				return err
			})
			require.NoError(t, err, "golden output missing: run go test ./compiler -update")
			assert.Equal(t, keys(want), keys(got), "file set differs; run go test ./compiler -update and review")
			for p, w := range want {
				if g, ok := got[p]; ok {
					assert.Equal(t, w, g, "%s differs; run go test ./compiler -update and review", p)
				}
			}
		})
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestOutputIsClean: no empty status, no null timestamps, every object
// of a cluster file labelled with its cluster.
func TestOutputIsClean(t *testing.T) {
	for _, dir := range exampleDirs(t) {
		srcs, err := load.Paths(dir)
		require.NoError(t, err)
		files, err := Compile(srcs, GoldenOptions)
		require.NoError(t, err)
		for _, f := range files {
			s := string(f.Data)
			assert.NotContains(t, s, "status: {}", f.Path)
			assert.NotContains(t, s, "creationTimestamp", f.Path)
			assert.True(t, strings.HasPrefix(s, header), f.Path)
		}
	}
}

func TestCompileDeterministic(t *testing.T) {
	srcs, err := load.Paths("../examples/bookinfo")
	require.NoError(t, err)
	a, err := Compile(srcs, GoldenOptions)
	require.NoError(t, err)
	for range 5 {
		b, err := Compile(srcs, GoldenOptions)
		require.NoError(t, err)
		assert.Equal(t, a, b)
	}
}

func TestCompileDuplicateIntent(t *testing.T) {
	srcs, err := load.Paths("../examples/bookinfo")
	require.NoError(t, err)
	second := srcs[0]
	second.File, second.Line, second.Column = "other.yaml", 3, 1
	_, err = Compile(append(srcs, second), GoldenOptions)
	require.Error(t, err)
	assert.Regexp(t, `^other.yaml:3:1: metadata.name: intent bookinfo/reviews is already defined at .*intent.yaml:\d+:\d+$`, err.Error())
}

// TestUniqueByNamespaceAndName: the same name in another namespace is
// another service (its own output directory), not a duplicate.
func TestUniqueByNamespaceAndName(t *testing.T) {
	srcs, err := load.Paths("../examples/bookinfo")
	require.NoError(t, err)
	other := srcs[0]
	other.Intent.Metadata.Namespace = "shop"
	other.File = "other.yaml"
	require.NoError(t, Unique(append(srcs, other)))
	require.Error(t, Unique(append(srcs, srcs[0])))
}

// sampleSources loads every example and a few of the benchmark's generated
// intents: the inputs the rendering tests compare old and new paths on.
func sampleSources(t *testing.T) []load.Source {
	t.Helper()
	var srcs []load.Source
	for _, dir := range exampleDirs(t) {
		s, err := load.Paths(dir)
		require.NoError(t, err)
		srcs = append(srcs, s...)
	}
	for i := range 8 {
		s, err := load.Bytes(fmt.Sprintf("intent-%d.yaml", i), genIntent(i))
		require.NoError(t, err)
		srcs = append(srcs, s...)
	}
	return srcs
}
