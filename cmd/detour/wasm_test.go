package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/plugintest"
	"github.com/detour-mesh/detour/internal/golden"
)

func updating() bool { return *golden.Update }

var shaRe = regexp.MustCompile(`"sha256": "[0-9a-f]{64}"`)

// argsFrom reads extra CLI flags from a leading "# --flag value" comment.
func argsFrom(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	line, _, _ := strings.Cut(string(b), "\n")
	if !strings.HasPrefix(line, "# --") {
		return nil
	}
	args := strings.Fields(strings.TrimPrefix(line, "# "))
	// NAME=plugin:P names the built test plugin harness/wasmhost/testdata/P.
	for i, a := range args {
		if name, p, ok := strings.Cut(a, "=plugin:"); ok {
			wasm, err := plugintest.Build(p)
			require.NoError(t, err)
			args[i] = name + "=" + wasm
		}
	}
	return args
}

func TestWasmRunGolden(t *testing.T) {
	wasm, err := plugintest.Build("conformance")
	require.NoError(t, err)
	files, err := filepath.Glob("testdata/wasm/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	// Keep the user's cache directory untouched: compile into the
	// process-wide in-memory cache every test of this binary shares.
	t.Setenv("DETOUR_WASM_CACHE_DIR", "")
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			extra := argsFrom(t, file)
			args := append([]string{"wasm", "run", wasm, "--exchange", file}, extra...)
			var out, errb bytes.Buffer
			code := run(args, &out, &errb)
			var got []byte
			var golden string
			switch {
			case strings.HasPrefix(name, "bad-"):
				assert.Equal(t, exitInvalid, code)
				assert.Empty(t, out.String())
				got = bytes.ReplaceAll(errb.Bytes(), []byte(wasm), []byte("MODULE.wasm"))
				golden = filepath.Join("testdata/wasm", name+".golden.txt")
			case strings.HasPrefix(name, "trap-") && !strings.Contains(strings.Join(extra, " "), "--allow-traps"):
				// A trap fails the run; the report still says what happened.
				assert.Equal(t, exitInvalid, code)
				assert.Contains(t, errb.String(), "trap")
				got = shaRe.ReplaceAll(out.Bytes(), []byte(`"sha256": "<module sha256>"`))
				golden = filepath.Join("testdata/wasm", name+".golden.json")
			default:
				require.Equal(t, exitOK, code, errb.String())
				got = shaRe.ReplaceAll(out.Bytes(), []byte(`"sha256": "<module sha256>"`))
				golden = filepath.Join("testdata/wasm", name+".golden.json")
				if strings.Contains(strings.Join(extra, " "), "--format text") {
					golden = filepath.Join("testdata/wasm", name+".golden.txt")
				}
			}
			if updating() {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./cmd/detour -run TestWasmRunGolden -update")
			assert.Equal(t, string(want), string(got))
		})
	}
}

func TestWasmRunUsage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"no subcommand", []string{"wasm"}, exitUsage, "usage: detour wasm run"},
		{"no exchange", []string{"wasm", "run", "m.wasm"}, exitUsage, "need one MODULE.wasm (and/or --module NAME=FILE) and --exchange FILE"},
		{"no module", []string{"wasm", "run", "--exchange", "x"}, exitUsage, "need one MODULE.wasm"},
		{"bad module flag", []string{"wasm", "run", "--module", "x", "--exchange", "x"}, exitUsage, `expected NAME=FILE, got "x"`},
		{"two modules", []string{"wasm", "run", "a.wasm", "b.wasm", "--exchange", "x"}, exitUsage, "need one MODULE.wasm"},
		{"missing module", []string{"wasm", "run", "testdata/wasm/nope.wasm", "--exchange", "testdata/wasm/hello.yaml"}, exitInvalid, "no such file"},
		{"bad log level", []string{"wasm", "run", "m.wasm", "--exchange", "x", "--log-level", "loud"}, exitUsage, `--log-level: expected trace, debug, info, warn, error or critical, got "loud"`},
		{"bad format", []string{"wasm", "run", "m.wasm", "--exchange", "x", "--format", "yaml"}, exitUsage, `--format: expected json or text`},
		// The worker index is checked before the module is compiled (which fails here).
		{"worker before compile", []string{"wasm", "run", "testdata/wasm/hello.yaml", "--exchange", "testdata/wasm/bad-worker.yaml"}, exitInvalid, "bad-worker.yaml:6:13: requests[1].worker"},
		{"not wasm", []string{"wasm", "run", "testdata/wasm/hello.yaml", "--exchange", "testdata/wasm/hello.yaml"}, exitInvalid, "compile module"},
	}
	t.Setenv("DETOUR_WASM_CACHE_DIR", "")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			assert.Equal(t, tc.code, run(tc.args, &out, &errb))
			assert.Contains(t, errb.String(), tc.wantErr)
		})
	}
}

func TestWasmRunFlagsOverrideFile(t *testing.T) {
	t.Setenv("DETOUR_WASM_CACHE_DIR", "")
	wasm, err := plugintest.Build("conformance")
	require.NoError(t, err)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cfg.txt")
	require.NoError(t, os.WriteFile(cfg, []byte("local-reply"), 0o644))
	var out, errb bytes.Buffer
	code := run([]string{"wasm", "run", "--config", cfg, "--root-id", "other", wasm, "--exchange", "testdata/wasm/hello.yaml"}, &out, &errb)
	require.Equal(t, exitOK, code, errb.String())
	assert.Contains(t, out.String(), `"rootId": "other"`)
	assert.Contains(t, out.String(), `"status": 403`)

	// The interpreter engine gives the same exchange the same result.
	var compiled, interp bytes.Buffer
	require.Equal(t, exitOK, run([]string{"wasm", "run", wasm, "--exchange", "testdata/wasm/hello.yaml"}, &compiled, &errb))
	require.Equal(t, exitOK, run([]string{"wasm", "run", "--interpreter", wasm, "--exchange", "testdata/wasm/hello.yaml"}, &interp, &errb), errb.String())
	assert.Equal(t, compiled.String(), interp.String())
}

func TestWasmRunCachesCompiledModuleByDefault(t *testing.T) {
	wasm, err := plugintest.Build("conformance")
	require.NoError(t, err)
	home := t.TempDir()
	t.Setenv("DETOUR_WASM_CACHE_DIR", "") // restored after the test
	os.Unsetenv("DETOUR_WASM_CACHE_DIR")
	t.Setenv("XDG_CACHE_HOME", home)
	t.Setenv("HOME", home)
	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run([]string{"wasm", "run", wasm, "--exchange", "testdata/wasm/hello.yaml"}, &out, &errb), errb.String())
	ucd, err := os.UserCacheDir()
	require.NoError(t, err)
	files := 0
	filepath.WalkDir(filepath.Join(ucd, "detour", "wasm"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return nil
	})
	assert.Positive(t, files, "compiled code is kept in the user cache directory")

	// --cache-dir "" keeps nothing on disk.
	empty := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", empty)
	t.Setenv("HOME", empty)
	require.Equal(t, exitOK, run([]string{"wasm", "run", "--cache-dir", "", wasm, "--exchange", "testdata/wasm/hello.yaml"}, &out, &errb), errb.String())
	entries, err := os.ReadDir(empty)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// The worked example in harness/wasmhost/example runs as documented, and its summary
// is pinned (go test ./cmd/detour -run TestWasmWorkedExample -update).
func TestWasmWorkedExample(t *testing.T) {
	t.Setenv("DETOUR_WASM_CACHE_DIR", "")
	wasm, err := plugintest.BuildPackage("./harness/wasmhost/example/plugin", "example")
	require.NoError(t, err)
	var out, errb bytes.Buffer
	code := run([]string{"wasm", "run", wasm, "--exchange", "../../harness/wasmhost/example/exchange.yaml", "--format", "text", "--log-level", "debug"}, &out, &errb)
	require.Equal(t, exitOK, code, errb.String())
	got := out.String()
	assert.Contains(t, got, "response 200")
	assert.Contains(t, got, `local reply by example at 505ms: 403`)
	assert.Contains(t, got, "flags UT")
	assert.Contains(t, got, "example_ticks_total{} 3")
	golden := "../../harness/wasmhost/example/summary.golden.txt"
	if updating() {
		require.NoError(t, os.WriteFile(golden, out.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), got)
}
