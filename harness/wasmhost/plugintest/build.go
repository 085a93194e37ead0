// Package plugintest builds the harness's test plugins (harness/wasmhost/testdata/*)
// for tests, once per test binary, with the Go toolchain running the tests.
package plugintest

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	// The test plugins (testdata, which go mod tidy does not see) are built
	// against the SDK; this keeps it in go.mod.
	_ "github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

var (
	mu    sync.Mutex
	built = map[string]string{}
)

// repoRoot finds the module root from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// goCommand is the go command on PATH (the one running the tests), or the
// toolchain's own when PATH has none.
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// Build compiles harness/wasmhost/testdata/<name> with GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared and returns the .wasm path. The Go build cache makes
// repeated builds across test binaries cheap. Modules land in one shared
// directory named by their content, so test binaries running side by side
// share files instead of each leaving its own copy behind.
func Build(name string) (string, error) {
	return BuildPackage("./harness/wasmhost/testdata/"+name, name)
}

// BuildPackage is Build for any plugin package of this module (a path
// such as ./harness/wasmhost/example/plugin); name names the output file.
func BuildPackage(pkg, name string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[pkg]; ok {
		// Another process prunes what no build placed for a day.
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	cache := filepath.Join(os.TempDir(), "detour-plugins")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(cache, ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, name+".wasm")
	// -trimpath and no VCS stamp: the bytes `make plugins` and the module
	// detour ships (plugins/module/shipped) have.
	cmd := exec.Command(goCommand(), "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", out, pkg)
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build plugin %s: %v\n%s", name, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	final := filepath.Join(cache, fmt.Sprintf("%s-%x.wasm", name, sum[:8]))
	// Same name, same bytes: a rename over a file another test binary
	// placed is harmless, and readers never see a partial file. Its
	// time is when a build last placed it (prune).
	now := time.Now()
	if err := os.Chtimes(out, now, now); err != nil {
		return "", err
	}
	if err := os.Rename(out, final); err != nil {
		return "", err
	}
	built[pkg] = final
	prune(cache, now)
	return final, nil
}

// keep is how long a module stays in the shared directory after a build
// last placed it: every edit of a plugin leaves a file of a few MB, and a
// run of tests lasts far less.
const keep = 24 * time.Hour

// prune removes the modules no build has placed for keep, and the build
// directories of builds killed part way (their deferred removal never
// ran). A file another test binary still reads stays readable on Unix.
func prune(cache string, now time.Time) {
	entries, err := os.ReadDir(cache)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".wasm") && !strings.HasPrefix(name, ".build-") {
			continue
		}
		if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > keep {
			os.RemoveAll(filepath.Join(cache, name))
		}
	}
}

// MustRead builds name and returns its bytes, or panics (for TestMain and
// benchmarks).
func MustRead(name string) []byte {
	return MustReadPackage("./harness/wasmhost/testdata/"+name, name)
}

// MustReadPackage is MustRead for BuildPackage.
func MustReadPackage(pkg, name string) []byte {
	p, err := BuildPackage(pkg, name)
	if err != nil {
		panic(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		panic(err)
	}
	return b
}
