package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/compiler"
)

func TestCompileCLI(t *testing.T) {
	const example = "../../examples/bookinfo"
	const invalid = "testdata/compile/invalid.yaml"
	tests := []struct {
		name     string
		args     func(out string) []string
		existing bool // out already holds a file that must survive a failure
		wantCode int
		wantOut  string
		wantErr  string // regexp
		written  bool
	}{
		{name: "compiles", args: func(o string) []string { return []string{"-o", o, example} },
			wantCode: exitOK, wantOut: "compiled 1 intent(s) into 3 file(s)", written: true},
		{name: "flags after the path", args: func(o string) []string { return []string{example, "-o", o, "--wasm-sha256", strings.Repeat("a", 64)} },
			wantCode: exitOK, written: true},
		{name: "replaces an existing output", args: func(o string) []string { return []string{"-o", o, example} },
			existing: true, wantCode: exitOK, written: true},
		{name: "invalid intent writes nothing", args: func(o string) []string { return []string{"-o", o, example, invalid} },
			existing: true, wantCode: exitInvalid, wantErr: `(?m)^testdata/compile/invalid.yaml:16:11: spec.exposure.mtls: must be "ISTIO_MUTUAL"`},
		{name: "missing path", args: func(o string) []string { return []string{"-o", o, "testdata/compile/nope.yaml"} },
			wantCode: exitInvalid, wantErr: "nope.yaml"},
		{name: "no -o", args: func(string) []string { return []string{example} }, wantCode: exitUsage, wantErr: "-o DIR is required"},
		{name: "no path", args: func(o string) []string { return []string{"-o", o} }, wantCode: exitUsage, wantErr: "no PATH given"},
		{name: "bad digest", args: func(o string) []string { return []string{"-o", o, "--wasm-sha256", "xyz", example} },
			wantCode: exitUsage, wantErr: "not 64 lowercase hex digits"},
		{name: "digest as detour package prints it", args: func(o string) []string {
			return []string{"-o", o, "--wasm-sha256", "sha256:" + strings.Repeat("a", 64), example}
		}, wantCode: exitOK, written: true},
		{name: "empty digest (an unset CI variable)", args: func(o string) []string { return []string{"-o", o, "--wasm-sha256", "", example} },
			wantCode: exitUsage, wantErr: "--wasm-sha256 is empty"},
		{name: "another url is not pinned: warned", args: func(o string) []string { return []string{"-o", o, "--wasm-url", "oci://r.example/f:v1", example} },
			wantCode: exitOK, written: true, wantErr: "(?m)^detour compile: warning: the WasmPlugins do not pin oci://r.example/f:v1 .*add --wasm-sha256 or --package$"},
		{name: "output over the input", args: func(string) []string { return []string{"-o", "../../examples", example} },
			wantCode: exitUsage, wantErr: "which compile replaces as a whole"},
		{name: "bad url", args: func(o string) []string { return []string{"-o", o, "--wasm-url", "ftp://x/y", example} },
			wantCode: exitUsage, wantErr: "want an oci://"},
		{name: "unknown flag", args: func(o string) []string { return []string{"-o", o, "--frob", example} }, wantCode: exitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			if tc.existing {
				require.NoError(t, os.MkdirAll(out, 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(out, "keep"), []byte("x"), 0o644))
				require.NoError(t, os.WriteFile(filepath.Join(out, compiler.Marker), nil, 0o644)) // an earlier compile's output
			}
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"compile"}, tc.args(out)...), &stdout, &stderr)
			assert.Equal(t, tc.wantCode, code, stderr.String())
			assert.Contains(t, stdout.String(), tc.wantOut)
			if tc.wantErr != "" {
				assert.Regexp(t, tc.wantErr, stderr.String())
			}
			_, err := os.Stat(filepath.Join(out, "bookinfo/reviews/clusters/cluster-1.yaml"))
			assert.Equal(t, tc.written, err == nil, "compiled output present")
			_, err = os.Stat(filepath.Join(out, "keep"))
			assert.Equal(t, tc.existing && !tc.written, err == nil, "old output kept only on failure")
		})
	}
}

// A directory detour did not write is never replaced: a mistyped -o must not
// wipe it.
func TestCompileRefusesForeignDir(t *testing.T) {
	out := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644))
	var stdout, stderr bytes.Buffer
	code := run([]string{"compile", "-o", out, "../../examples/bookinfo"}, &stdout, &stderr)
	assert.Equal(t, exitInvalid, code)
	assert.Contains(t, stderr.String(), "not written by detour compile")
	b, err := os.ReadFile(filepath.Join(out, "notes.txt"))
	require.NoError(t, err)
	assert.Equal(t, "mine", string(b))
}

// A compile killed mid-write (SIGKILL) leaves its temporary directory; the
// next compile removes it, since its marker proves compile made it.
func TestCompileRemovesStaleTemporary(t *testing.T) {
	parent := t.TempDir()
	stale := filepath.Join(parent, ".out.tmp-4194305-123") // PID above Linux's pid_max: dead
	require.NoError(t, os.MkdirAll(filepath.Join(stale, "bookinfo"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(stale, compiler.Marker), nil, 0o644))
	foreign := filepath.Join(parent, ".out.tmp-4194305-456") // no marker: not provably compile's
	require.NoError(t, os.MkdirAll(foreign, 0o755))
	var stdout, stderr bytes.Buffer
	code := run([]string{"compile", "-o", filepath.Join(parent, "out"), "../../examples/bookinfo"}, &stdout, &stderr)
	require.Equal(t, exitOK, code, stderr.String())
	_, err := os.Stat(stale)
	assert.True(t, os.IsNotExist(err), "stale temporary removed")
	_, err = os.Stat(foreign)
	assert.NoError(t, err, "a directory without the marker is left alone")
}

// A symlink as -o is followed (the link stays); an -o under a file names
// the user's path.
func TestCompileOutputPaths(t *testing.T) {
	parent := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(parent, "real"), 0o755))
	link := filepath.Join(parent, "out")
	require.NoError(t, os.Symlink("real", link))
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run([]string{"compile", "-o", link, "../../examples/bookinfo"}, &stdout, &stderr), stderr.String())
	fi, err := os.Lstat(link)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeSymlink)
	_, err = os.Stat(filepath.Join(parent, "real", "bookinfo/reviews/intent.yaml"))
	assert.NoError(t, err)

	file := filepath.Join(parent, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	stderr.Reset()
	assert.Equal(t, exitInvalid, run([]string{"compile", "-o", filepath.Join(file, "out"), "../../examples/bookinfo"}, &stdout, &stderr))
	assert.Equal(t, "detour compile: "+filepath.Join(file, "out")+": "+file+" is not a directory\n", stderr.String())
}
