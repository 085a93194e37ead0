package policies_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/internal/policy"
)

// The stock tools run from the go command at the versions pinned in go.mod
// (opa) and tools/go.mod (conftest), so CI needs nothing else installed.

func goTool(t *testing.T, dir string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"-C", dir, "tool"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Logf("go tool %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out, err
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	require.NoError(t, err)
	return a
}

func TestOPAStockChecks(t *testing.T) {
	dir := abs(t, ".")
	tests := []struct {
		name string
		args []string
	}{
		{"check strict", []string{"opa", "check", "--strict", dir}},
		{"fmt", []string{"opa", "fmt", "--fail", "--list", dir}},
		{"test with coverage", []string{"opa", "test", "--coverage", "--threshold", "90", dir}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := goTool(t, dir, tc.args...)
			assert.NoError(t, err)
		})
	}
}

func TestConftestVerify(t *testing.T) {
	out, err := goTool(t, abs(t, "tools"), "conftest", "verify", "--no-color", "-p", abs(t, "."))
	require.NoError(t, err)
	assert.Regexp(t, `[1-9][0-9]* tests, [1-9][0-9]* passed, 0 warnings, 0 failures`, string(out))
}

// finding is what both tools must agree on.
type finding struct{ File, Severity, Message string }

type conftestResult struct {
	Filename string `json:"filename"`
	Failures []struct {
		Msg      string         `json:"msg"`
		Metadata map[string]any `json:"metadata"`
	} `json:"failures"`
	Warnings []struct {
		Msg      string         `json:"msg"`
		Metadata map[string]any `json:"metadata"`
	} `json:"warnings"`
}

func conftestFindings(t *testing.T, files []string, extra ...string) []finding {
	t.Helper()
	args := append([]string{"conftest", "test", "--no-color", "-o", "json", "-p", abs(t, ".")}, extra...)
	out, err := goTool(t, abs(t, "tools"), append(args, files...)...)
	if err != nil {
		// conftest exits 1 when a rule denies; anything else is a failure.
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		require.Equal(t, 1, ee.ExitCode())
	}
	var results []conftestResult
	require.NoError(t, json.Unmarshal(out, &results), "%s", out)
	var got []finding
	for _, r := range results {
		file := func(md map[string]any) string {
			if f, ok := md["file"].(string); ok { // combined mode names the document's file
				return f
			}
			return r.Filename
		}
		for _, f := range r.Failures {
			got = append(got, finding{file(f.Metadata), policy.Deny, f.Msg})
		}
		for _, w := range r.Warnings {
			got = append(got, finding{file(w.Metadata), policy.Warn, w.Msg})
		}
	}
	return got
}

func sorted(fs []finding) []finding {
	sort.Slice(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Severity != b.Severity {
			return a.Severity < b.Severity
		}
		return a.Message < b.Message
	})
	return fs
}

// TestConftestAgrees runs stock conftest (per document, then --combine)
// and detour's engine over the same compiled output and hand-written
// resources, and requires the same findings.
func TestConftestAgrees(t *testing.T) {
	files := []string{
		abs(t, "../internal/policy/testdata/unsafe/resources.yaml"),
		abs(t, "../internal/policy/testdata/unsafe/intent.yaml"),
		abs(t, "../internal/policy/testdata/warnonly/gateway.yaml"),
	}
	// Compiled example output, as `detour compile` writes it.
	err := filepath.WalkDir("../examples", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.Contains(filepath.ToSlash(p), "/out/") && strings.HasSuffix(p, ".yaml") {
			files = append(files, abs(t, p))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		require.NoError(t, err)
	}

	want := conftestFindings(t, files)
	want = append(want, conftestFindings(t, files, "--combine")...)

	docs, err := policy.Collect(files...)
	require.NoError(t, err)
	eng, err := policy.New(context.Background(), policy.Options{})
	require.NoError(t, err)
	rep, err := eng.Check(context.Background(), docs)
	require.NoError(t, err)
	var got []finding
	for _, f := range rep.Findings {
		got = append(got, finding{f.File, f.Severity, f.Message})
	}
	require.NotEmpty(t, got)
	assert.Equal(t, sorted(want), sorted(got))
}
