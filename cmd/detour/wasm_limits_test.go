package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/plugintest"
)

// TestWasmRunLimits: hostile guests (harness/wasmhost/testdata/hog) end with a
// trap or a clear error instead of hanging or eating the machine. No
// wall-clock figures are asserted: each case checks the outcome, and the
// budgets are far above what a returning callback needs.
func TestWasmRunLimits(t *testing.T) {
	t.Setenv("DETOUR_WASM_CACHE_DIR", "")
	hog, err := plugintest.Build("hog")
	require.NoError(t, err)
	const req = "requests:\n  - headers: {\":method\": GET, \":path\": /, \":authority\": a}\n"
	tests := []struct {
		name     string
		exchange string
		flags    []string
		code     int
		stderr   string
		trap     string // the first trap's message, when the run reports
		stdout   string // in the report too
	}{
		{
			name:     "loop in a callback traps at the budget, FAIL_CLOSED answers 503",
			exchange: "plugin: {configuration: loop:request_headers, failurePolicy: FAIL_CLOSED}\n" + req,
			flags:    []string{"--callback-budget", "500ms"},
			code:     exitInvalid, stderr: "1 VM trap(s), first in proxy_on_request_headers",
			trap:   "context deadline exceeded: callback ran past its execution budget of 500ms (module closed with context deadline exceeded)",
			stdout: `"status": 503`,
		},
		{
			name:     "loop at start fails the plugin",
			exchange: "plugin: {configuration: loop:configure}\n" + req,
			flags:    []string{"--callback-budget", "500ms"},
			code:     exitInvalid, stderr: "trap in proxy_on_configure: context deadline exceeded: callback ran past its execution budget of 500ms",
		},
		{
			name:     "loop in _initialize fails the VM",
			exchange: "plugin: {configuration: tick, env: {HOG: loop}}\n" + req,
			flags:    []string{"--callback-budget", "500ms"},
			code:     exitInvalid, stderr: "module start _initialize failed: context deadline exceeded: callback ran past its execution budget",
		},
		{
			name:     "allocating forever stops at the page cap",
			exchange: "plugin: {configuration: alloc:request_headers}\n" + req,
			flags:    []string{"--memory-pages", "1024", "--callback-budget", "1h"},
			code:     exitInvalid, stderr: "1 VM trap(s), first in proxy_on_request_headers: wasm error: unreachable",
			trap: "wasm error: unreachable",
		},
		{
			name:     "a 1 ms tick over a year stops at the event cap",
			exchange: "plugin: {configuration: tick}\nadvance: 8760h\n" + req,
			flags:    []string{"--max-events", "1000"},
			code:     exitInvalid, stderr: "detour wasm run: virtual-time event limit of 1000 events reached after 996ms of virtual time (--max-events raises the limit)\n",
		},
		{
			name:     "the whole run stops at --timeout, even inside a callback",
			exchange: "plugin: {configuration: loop:request_headers}\n" + req,
			flags:    []string{"--callback-budget", "1h", "--timeout", "500ms"},
			code:     exitInvalid, stderr: "detour wasm run: --timeout 500ms exceeded: run stopped after 0s of virtual time: context deadline exceeded\n",
		},
		{
			name:     "too many workers in the file",
			exchange: "workers: 100000\nplugin: {configuration: tick}\n" + req,
			code:     exitInvalid, stderr: "x.yaml:1:10: workers: expected 1 to 64 workers, got 100000",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "x.yaml")
			require.NoError(t, os.WriteFile(file, []byte(tc.exchange), 0o644))
			var out, errb bytes.Buffer
			args := append([]string{"wasm", "run", hog, "--exchange", file}, tc.flags...)
			code := run(args, &out, &errb)
			assert.Equal(t, tc.code, code, errb.String())
			if strings.HasSuffix(tc.stderr, "\n") {
				assert.Equal(t, tc.stderr, errb.String())
			} else {
				assert.Contains(t, errb.String(), tc.stderr)
			}
			if tc.trap == "" {
				assert.Empty(t, out.String())
				return
			}
			var rep struct {
				Traps []struct{ Message string }
			}
			require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
			assert.Contains(t, out.String(), tc.stdout)
			require.NotEmpty(t, rep.Traps)
			assert.Equal(t, tc.trap, rep.Traps[0].Message)
		})
	}
}

func TestWasmRunLimitFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--workers", "100000"}, "--workers: expected 1 to 64, got 100000"},
		{[]string{"--memory-pages", "70000"}, "--memory-pages: expected 1 to 65536 (4 GiB), got 70000"},
		{[]string{"--max-events", "0"}, "--max-events: expected a positive number, got 0"},
		{[]string{"--callback-budget", "0s"}, "expected a positive duration"},
		{[]string{"--timeout", "-1s"}, "expected a positive duration"},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"wasm", "run", "m.wasm", "--exchange", "x.yaml"}, tc.args...)
			assert.Equal(t, exitUsage, run(args, &out, &errb))
			assert.Contains(t, errb.String(), tc.want)
			assert.Empty(t, out.String())
		})
	}
}
