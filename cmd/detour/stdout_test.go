package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestErrorsPrintNothingOnStdout: a usage error or bad input of any command
// goes to stderr with a non-zero exit, and stdout stays empty, so
// `detour compile ... > x` or a pipe never gets half an answer. (Reports a
// command exists to print, such as `vet --format json` or policy findings,
// are answers and stay on stdout.)
func TestErrorsPrintNothingOnStdout(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	const (
		example = "../../examples/bookinfo"
		invalid = "testdata/compile/invalid.yaml"
		missing = "testdata/nope.yaml"
	)
	tests := []struct {
		args    []string
		code    int
		wantErr string
	}{
		{nil, exitUsage, "usage: detour"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"help", "frob"}, exitUsage, `unknown command "frob"`},
		{[]string{"version", "x"}, exitUsage, `unexpected argument "x"`},
		{[]string{"wasm"}, exitUsage, "usage: detour wasm run"},
		{[]string{"wasm", "frob"}, exitUsage, `unknown subcommand "frob"`},
		{[]string{"wasm", "run", "m.wasm", "--exchange", "x", "--format", "yaml"}, exitUsage, "--format"},
		{[]string{"wasm", "run", missing, "--exchange", "testdata/wasm/hello.yaml"}, exitInvalid, "nope.yaml"},

		{[]string{"vet"}, exitUsage, "usage: detour vet"},
		{[]string{"vet", "--frob", example}, exitUsage, "flag provided but not defined"},
		{[]string{"vet", "--format", "xml", example}, exitUsage, `unknown --format "xml"`},
		{[]string{"vet", invalid}, exitInvalid, "invalid.yaml:"},
		{[]string{"vet", missing}, exitInvalid, "no such file"},

		{[]string{"compile", example}, exitUsage, "-o DIR is required"},
		{[]string{"compile", "-o", out}, exitUsage, "no PATH given"},
		{[]string{"compile", "-o", out, "--frob", example}, exitUsage, "flag provided but not defined"},
		{[]string{"compile", "-o", out, invalid}, exitInvalid, "invalid.yaml:"},
		{[]string{"compile", "-o", out, missing}, exitInvalid, "no such file"},
		{[]string{"compile", "-o", out, "--wasm-sha256", "xyz", example}, exitUsage, "sha256"},
		{[]string{"compile", "-o", out, "--wasm-url", "ftp://x/y", example}, exitUsage, "ftp://x/y"},

		{[]string{"explain", "a", "b"}, exitUsage, "exactly one PATH"},
		{[]string{"explain", "--depth", "3", example}, exitUsage, "--depth must be 1 or 2"},
		{[]string{"explain", "--format", "xml", example}, exitUsage, `unknown --format "xml"`},
		{[]string{"explain", invalid}, exitInvalid, "invalid.yaml:"},
		{[]string{"explain", "--format", "json", invalid}, exitInvalid, "invalid.yaml:"},

		{[]string{"policy"}, exitUsage, "usage: detour policy"},
		{[]string{"policy", "-o", "xml", example}, exitUsage, `unknown -o "xml"`},
		{[]string{"policy", "--except", "strict_weight", example}, exitUsage, "no such rule"},
		{[]string{"policy", invalid}, exitInvalid, "invalid.yaml:"},
		{[]string{"policy", "-o", "json", invalid}, exitInvalid, "invalid.yaml:"},
		{[]string{"policy", missing}, exitInvalid, "nope.yaml"},
		{[]string{"policy", empty}, exitInvalid, "nothing to check"},

		{[]string{"package", "nope.wasm", "-o", out}, exitInvalid, "nope.wasm"},
		{[]string{"package", "nope.wasm"}, exitUsage, "need -o DIR and at most one MODULE.wasm"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			assert.Equal(t, tc.code, code, "stderr: %s", stderr.String())
			assert.Empty(t, stdout.String(), "an error prints nothing on stdout")
			assert.Contains(t, stderr.String(), tc.wantErr)
		})
	}
	_, err := os.Stat(out)
	assert.ErrorIs(t, err, os.ErrNotExist, "no failed compile or package wrote %s", out)
}
