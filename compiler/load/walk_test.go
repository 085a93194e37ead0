package load

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeTree creates files (path → content) under a new temporary directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(content), 0o644))
	}
	return root
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return string(b)
}

// TestPathsDirectoryRule pins the one directory rule (internal/walk) as the
// loader applies it: the whole tree, intents only, hidden directories,
// cue.mod and compiled output skipped.
func TestPathsDirectoryRule(t *testing.T) {
	minimal := readTestdata(t, "valid/minimal.yaml")
	named := func(name string) string { return strings.Replace(minimal, "name: reviews", "name: "+name, 1) }
	broken := readTestdata(t, "invalid/port-range.yaml")
	drill := "name: drill\nintent: ../intent.yaml\ntraffic: {entry: east, rate: 10, duration: 10s}\n"
	workflow := "name: ci\non: [pull_request]\njobs: {}\n"

	t.Run("nested intents are read, other YAML is not", func(t *testing.T) {
		root := writeTree(t, map[string]string{
			"intent.yaml":              named("top"),
			"team-a/intent.yaml":       named("team-a"),
			"team-a/deep/intent.json":  `{"apiVersion": "detour.dev/v1alpha1", "kind": "FailoverIntent", "metadata": {"name": "json", "namespace": "bookinfo"}, "spec": {"service": {"port": 9080}, "clusters": [{"name": "east", "region": "r1", "zone": "z1", "network": "n1", "eastWestGateway": {"address": "10.0.0.1"}}, {"name": "west", "region": "r2", "zone": "z2", "network": "n2", "eastWestGateway": {"address": "10.0.0.2"}}]}}`,
			"drills/outage.yaml":       drill,
			".github/workflows/ci.yml": named("hidden"),
			"ci/workflow.yaml":         workflow,
			"out/.detour-compile":      "",
			"out/bookinfo/top/x.yaml":  named("compiled"),
			"pkg/.detour-package":      "",
			"pkg/index.json":           `{"schemaVersion": 2}`,
			"cue.mod/module.cue":       `module: "example.com/x"`,
			".hidden.yaml":             named("hidden-file"),
		})
		srcs, err := Paths(root)
		require.NoError(t, err)
		var names []string
		for _, s := range srcs {
			names = append(names, s.Intent.Metadata.Name)
		}
		assert.ElementsMatch(t, []string{"top", "team-a", "json"}, names)
	})

	t.Run("a broken intent below the top level fails the directory", func(t *testing.T) {
		root := writeTree(t, map[string]string{
			"intent.yaml":        named("top"),
			"team-a/broken.yaml": broken,
		})
		_, err := Paths(root)
		require.Error(t, err)
		assert.Equal(t, filepath.Join(root, "team-a/broken.yaml")+":9:11: spec.service.port: must be a port number from 1 to 65535", err.Error())
	})

	t.Run("a file that does not parse is reported when it names an intent", func(t *testing.T) {
		root := writeTree(t, map[string]string{
			"intent.yaml":     named("top"),
			"bad/intent.yaml": "kind: FailoverIntent\nspec: [\n",
			"bad/other.yaml":  "a: [\n",
		})
		_, err := Paths(root)
		require.Error(t, err)
		assert.Contains(t, err.Error(), filepath.Join(root, "bad/intent.yaml")+":")
		assert.NotContains(t, err.Error(), "other.yaml")
	})

	t.Run("the .cue files of each directory are one package", func(t *testing.T) {
		root := writeTree(t, map[string]string{
			"a/intents.cue":  readTestdata(t, "cuepkg/intents.cue"),
			"a/sub/z.yaml":   named("yaml-between"),
			"a/zz.cue":       readTestdata(t, "cuepkg/clusters.cue"),
			"notes/defs.cue": "package notes\n\nx: 1\n", // CUE that is not an intent
		})
		srcs, err := Paths(root)
		require.NoError(t, err)
		var names []string
		for _, s := range srcs {
			names = append(names, s.Intent.Metadata.Name)
		}
		assert.ElementsMatch(t, []string{"cart", "checkout", "yaml-between"}, names)
	})

	t.Run("a tree without intents is an error", func(t *testing.T) {
		root := writeTree(t, map[string]string{"drills/outage.yaml": drill, "out/.detour-compile": "", "out/x.yaml": named("compiled")})
		_, err := Paths(root)
		require.Error(t, err)
		assert.Equal(t, root+": no intents in directory or below (no .yaml, .yml or .json document of kind FailoverIntent, no .cue file mentioning FailoverIntent or #Intent; hidden directories, cue.mod and compiled output are skipped)", err.Error())
	})

	t.Run("compiled output named on the command line is read", func(t *testing.T) {
		root := writeTree(t, map[string]string{".detour-compile": "", "bookinfo/top/intent.yaml": named("compiled")})
		srcs, err := Paths(root)
		require.NoError(t, err)
		require.Len(t, srcs, 1)
	})
}
