package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/detour-mesh/detour/internal/ociwasm"
	"github.com/detour-mesh/detour/plugins/module/shipped"
)

// One module identity: with no flags, the digest compile pins is the image
// digest package writes for the shipped module, whose bytes are the ones
// detour-simulate runs (cmd/detour-simulate checks its side) and a fresh
// reproducible build gives (plugins/module/shipped); and policy passes
// compile's default output.
func TestModuleIdentity(t *testing.T) {
	dir := t.TempDir()
	out, image := filepath.Join(dir, "out"), filepath.Join(dir, "image")
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run([]string{"compile", "-o", out, "../../examples/bookinfo"}, &stdout, &stderr), stderr.String())
	assert.Empty(t, stderr.String(), "a pinned default output draws no warning")

	b, err := os.ReadFile(filepath.Join(out, "bookinfo/reviews/clusters/cluster-1.yaml"))
	require.NoError(t, err)
	var pinned []string
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var o struct {
			Kind string
			Spec struct{ URL, SHA256 string }
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &o))
		if o.Kind == "WasmPlugin" {
			assert.Regexp(t, `^oci://ghcr\.io/detour-mesh/filters:`, o.Spec.URL)
			pinned = append(pinned, o.Spec.SHA256)
		}
	}
	require.NotEmpty(t, pinned)

	stdout.Reset()
	require.Equal(t, exitOK, run([]string{"package", "-o", image}, &stdout, &stderr), stderr.String())
	pkgDigest := strings.TrimSpace(stdout.String())
	pkg, err := ociwasm.ReadLayout(image)
	require.NoError(t, err)
	assert.Equal(t, shipped.Module(), pkg.Module, "the packaged module is the shipped one")
	for _, sha := range pinned {
		assert.Equal(t, "sha256:"+sha, pkgDigest, "compile pins the digest package writes")
	}
	assert.Equal(t, shipped.Digest().String(), pkgDigest)

	stdout.Reset()
	assert.Equal(t, exitOK, run([]string{"policy", "../../examples/bookinfo", out}, &stdout, &stderr), stdout.String()+stderr.String())
}
