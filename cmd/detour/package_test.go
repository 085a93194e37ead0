package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/internal/ociwasm"
	"github.com/detour-mesh/detour/plugins/module/shipped"
)

// emptyModule is the smallest valid Wasm module: magic number and version.
var emptyModule = []byte("\x00asm\x01\x00\x00\x00")

func writeModule(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "filters.wasm")
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

func TestPackageCLI(t *testing.T) {
	mod := writeModule(t, emptyModule)
	notWasm := writeModule(t, []byte("(module)\n"))
	tests := []struct {
		name     string
		args     func(out string) []string
		wantCode int
		wantOut  string // regexp
		wantErr  string
		written  bool
	}{
		{name: "packages and prints the digest", args: func(o string) []string { return []string{mod, "-o", o} },
			wantCode: exitOK, wantOut: `^sha256:[0-9a-f]{64}\n$`, written: true},
		{name: "not a module", args: func(o string) []string { return []string{notWasm, "-o", o} },
			wantCode: exitInvalid, wantErr: "filters.wasm: not a WebAssembly binary module"},
		{name: "missing module", args: func(o string) []string { return []string{"nope.wasm", "-o", o} },
			wantCode: exitInvalid, wantErr: "nope.wasm: no such file"},
		{name: "no -o", args: func(string) []string { return []string{mod} },
			wantCode: exitUsage, wantErr: "need -o DIR and at most one MODULE.wasm"},
		{name: "two modules", args: func(o string) []string { return []string{mod, mod, "-o", o} },
			wantCode: exitUsage, wantErr: "need -o DIR and at most one MODULE.wasm"},
		{name: "the shipped filters by default", args: func(o string) []string { return []string{"-o", o} },
			wantCode: exitOK, wantOut: "^" + shipped.Digest().String() + "\n$", written: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "image")
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"package"}, tc.args(out)...), &stdout, &stderr)
			assert.Equal(t, tc.wantCode, code, stderr.String())
			if tc.wantOut != "" {
				assert.Regexp(t, tc.wantOut, stdout.String())
			} else {
				assert.Empty(t, stdout.String(), "errors print nothing on stdout")
			}
			assert.Contains(t, stderr.String(), tc.wantErr)
			_, err := os.Stat(filepath.Join(out, "index.json"))
			assert.Equal(t, tc.written, err == nil, "layout written")
		})
	}
}

// compile --package pins the WasmPlugins to what detour package wrote: the
// image digest for an oci:// url, the module's SHA-256 for an https:// one.
func TestCompilePackage(t *testing.T) {
	const example = "../../examples/bookinfo"
	image := filepath.Join(t.TempDir(), "image")
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run([]string{"package", writeModule(t, emptyModule), "-o", image}, &stdout, &stderr), stderr.String())
	digest := strings.TrimSpace(strings.TrimPrefix(stdout.String(), "sha256:"))
	sum := sha256.Sum256(emptyModule)
	moduleSHA := hex.EncodeToString(sum[:])

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantURL  string
		wantSHA  string
		wantErr  string
	}{
		{name: "oci url pins the image digest", args: []string{"--package", image, "--wasm-url", "oci://registry.example/detour/filters:v1"},
			wantURL: "oci://registry.example/detour/filters:v1", wantSHA: digest},
		{name: "default url pins the image digest", args: []string{"--package", image},
			wantURL: "oci://ghcr.io/detour-mesh/filters:v0.1.0", wantSHA: digest},
		{name: "https url pins the module", args: []string{"--package", image, "--wasm-url", "https://files.example/filters.wasm"},
			wantURL: "https://files.example/filters.wasm", wantSHA: moduleSHA},
		{name: "agreeing sha256", args: []string{"--package", image, "--wasm-sha256", digest},
			wantURL: "oci://ghcr.io/detour-mesh/filters:v0.1.0", wantSHA: digest},
		{name: "url and sha256 without package", args: []string{"--wasm-url", "https://files.example/f.wasm", "--wasm-sha256", moduleSHA},
			wantURL: "https://files.example/f.wasm", wantSHA: moduleSHA},
		{name: "disagreeing sha256", args: []string{"--package", image, "--wasm-sha256", moduleSHA},
			wantCode: exitUsage, wantErr: "--wasm-sha256 " + moduleSHA + " disagrees with --package (the image digest, which oci:// urls pin, is " + digest + ")"},
		{name: "url pinning another digest", args: []string{"--package", image, "--wasm-url", "oci://registry.example/f@sha256:" + moduleSHA},
			wantCode: exitUsage, wantErr: "but --package has image digest sha256:" + digest},
		{name: "not a layout", args: []string{"--package", t.TempDir()},
			wantCode: exitInvalid, wantErr: "--package: "},
		{name: "missing layout", args: []string{"--package", "nope"},
			wantCode: exitInvalid, wantErr: "--package: stat nope: no such file or directory"},
		{name: "bad oci reference", args: []string{"--wasm-url", "oci://Registry.example/UPPER:tag"},
			wantCode: exitUsage, wantErr: "not an image reference"},
		{name: "file url needs an absolute path", args: []string{"--wasm-url", "file://filters.wasm"},
			wantCode: exitUsage, wantErr: "want file:///ABSOLUTE/PATH"},
		{name: "sha256 with the prefix detour package prints", args: []string{"--package", image, "--wasm-sha256", "sha256:" + digest},
			wantURL: "oci://ghcr.io/detour-mesh/filters:v0.1.0", wantSHA: digest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"compile", "-o", out, example}, tc.args...), &stdout, &stderr)
			require.Equal(t, tc.wantCode, code, stderr.String())
			if tc.wantCode != exitOK {
				assert.Contains(t, stderr.String(), tc.wantErr)
				assert.Empty(t, stdout.String())
				_, err := os.Stat(out)
				assert.True(t, os.IsNotExist(err), "nothing written")
				return
			}
			b, err := os.ReadFile(filepath.Join(out, "bookinfo/reviews/clusters/cluster-1.yaml"))
			require.NoError(t, err)
			y := string(b)
			assert.Equal(t, 1, strings.Count(y, "kind: WasmPlugin"))
			assert.Equal(t, 1, strings.Count(y, "  url: "+tc.wantURL+"\n"), y)
			assert.Equal(t, 1, strings.Count(y, `  sha256: "`+tc.wantSHA+`"`)+strings.Count(y, "  sha256: "+tc.wantSHA+"\n"), y)
		})
	}
}

// The package's reader and the digest printed by the command agree.
func TestPackageDigestMatchesLayout(t *testing.T) {
	image := filepath.Join(t.TempDir(), "image")
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run([]string{"package", writeModule(t, emptyModule), "-o", image}, &stdout, &stderr))
	pkg, err := ociwasm.ReadLayout(image)
	require.NoError(t, err)
	assert.Equal(t, pkg.Digest.String()+"\n", stdout.String())
	assert.Equal(t, emptyModule, pkg.Module)
}
