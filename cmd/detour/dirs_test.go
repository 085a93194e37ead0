package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// intentTree lays out what a platform repository holds: intents at several
// depths, drills, compiled output kept in the tree, a hidden directory.
func intentTree(t *testing.T, broken bool) string {
	t.Helper()
	minimal, err := os.ReadFile("../../compiler/load/testdata/valid/minimal.yaml")
	require.NoError(t, err)
	named := func(n string) string { return strings.Replace(string(minimal), "name: reviews", "name: "+n, 1) }
	drill, err := os.ReadFile("../../examples/bookinfo/drills/flapping.yaml")
	require.NoError(t, err)
	files := map[string]string{
		"intent.yaml":                named("reviews"),
		"team-a/intent.yaml":         named("ratings"),
		"team-a/drills/outage.yaml":  string(drill),
		"out/.detour-compile":        "",
		"out/bookinfo/x/intent.yaml": named("stale"),
		".github/intent.yaml":        named("hidden"),
	}
	if broken {
		port, err := os.ReadFile("../../compiler/load/testdata/invalid/port-range.yaml")
		require.NoError(t, err)
		files["team-a/deep/broken.yaml"] = string(port)
	}
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(c), 0o644))
	}
	return root
}

// TestDirectoryRule: vet, compile, explain and policy read a directory the
// same way, so none of them passes a tree another one fails.
func TestDirectoryRule(t *testing.T) {
	commands := map[string]func(dir string) []string{
		"vet":     func(dir string) []string { return []string{"vet", dir} },
		"compile": func(dir string) []string { return []string{"compile", "-o", filepath.Join(dir, "..", "compiled"), dir} },
		"explain": func(dir string) []string { return []string{"explain", dir} },
		"policy":  func(dir string) []string { return []string{"policy", dir} },
	}
	t.Run("a broken intent deep in the tree fails every command", func(t *testing.T) {
		dir := intentTree(t, true)
		want := filepath.Join(dir, "team-a/deep/broken.yaml") + ":9:11: spec.service.port: must be a port number from 1 to 65535"
		for name, args := range commands {
			var stdout, stderr bytes.Buffer
			code := run(args(dir), &stdout, &stderr)
			assert.Equal(t, exitInvalid, code, name)
			assert.Contains(t, stderr.String(), want, name)
			// vet streams: the valid intents' "ok" lines come as they are
			// found; no other command prints a result.
			if name == "vet" {
				assert.NotContains(t, stdout.String(), "broken.yaml", name)
			} else {
				assert.Empty(t, stdout.String(), name)
			}
		}
	})
	t.Run("every command sees the same two intents", func(t *testing.T) {
		dir := intentTree(t, false)
		for name, args := range commands {
			var stdout, stderr bytes.Buffer
			code := run(args(dir), &stdout, &stderr)
			require.Equal(t, exitOK, code, "%s: %s", name, stderr.String())
			all := stdout.String() + stderr.String()
			switch name {
			case "policy":
				// The two intents and the drill (a document no rule applies to).
				assert.Contains(t, all, "3 documents", name)
			case "compile":
				assert.Contains(t, all, "compiled 2 intent(s)", name)
				assert.DirExists(t, filepath.Join(dir, "..", "compiled", "bookinfo", "ratings"))
				assert.NoDirExists(t, filepath.Join(dir, "..", "compiled", "bookinfo", "stale"))
			default:
				assert.Contains(t, all, "bookinfo/reviews", name)
				assert.Contains(t, all, "bookinfo/ratings", name)
			}
			assert.NotContains(t, all, "stale", name+" read compiled output")
			assert.NotContains(t, all, "bookinfo/hidden", name+" read a hidden directory")
		}
	})
}
