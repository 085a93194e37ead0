package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A release build (-trimpath: no path of the build machine in the binary)
// works on a machine with only the two binaries: no Go on PATH, no source
// tree beside the files. compile's default output passes policy, package
// writes the image whose digest the WasmPlugins carry and version prints,
// and simulate runs a drill with the module the binary carries.
func TestReleaseBuildWithoutToolchain(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	require.NoError(t, err, "the test builds the release binaries with the go command")
	bin := t.TempDir()
	build := exec.Command(goCmd, "build", "-trimpath", "-o", bin+string(filepath.Separator), "./cmd/detour", "./cmd/detour-simulate")
	build.Dir = "../.."
	b, err := build.CombinedOutput()
	require.NoError(t, err, "%s", b)

	work := t.TempDir()
	for _, f := range []string{"intent.yaml", "drills/clean-recovery.yaml"} {
		src, err := os.ReadFile(filepath.Join("../../examples/bookinfo", f))
		require.NoError(t, err)
		dst := filepath.Join(work, "bookinfo", f)
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		require.NoError(t, os.WriteFile(dst, src, 0o644))
	}
	detour := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, "detour"), args...)
		cmd.Dir = work
		// Only the binaries: no go, no GOROOT, no module cache to fall back on.
		cmd.Env = []string{"PATH=" + bin, "HOME=" + work, "TMPDIR=" + t.TempDir()}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), "detour %s\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
		return stdout.String()
	}

	detour("compile", "-o", "out", "bookinfo/intent.yaml")
	detour("policy", "bookinfo/intent.yaml", "out")
	digest := strings.TrimSpace(detour("package", "-o", "image"))
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, digest)

	pinned, err := os.ReadFile(filepath.Join(work, "out/bookinfo/reviews/clusters/cluster-1.yaml"))
	require.NoError(t, err)
	shas := regexp.MustCompile(`(?m)^\s+sha256: "?([0-9a-f]+)"?$`).FindAllStringSubmatch(string(pinned), -1)
	require.NotEmpty(t, shas, "compile pins the module by default")
	for _, m := range shas {
		assert.Equal(t, digest, "sha256:"+m[1], "the compiled WasmPlugins carry the digest package writes")
	}
	assert.Contains(t, detour("version"), strings.TrimPrefix(digest, "sha256:"), "version names the module digest")

	report := detour("simulate", "bookinfo/drills/clean-recovery.yaml")
	assert.Contains(t, report, "detour", "the report has the filters' run")
}
