// Package plugintest builds the harness's test plugins (harness/testdata/*)
// for tests, once per test binary, with the Go toolchain running the tests.
package plugintest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"

	// The test plugins (testdata, which go mod tidy does not see) are built
	// against the SDK; this keeps it in go.mod.
	_ "github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

var (
	mu    sync.Mutex
	built = map[string]string{}
	dir   string
)

// repoRoot finds the module root from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Build compiles harness/testdata/<name> with GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared and returns the .wasm path. The Go build cache makes
// repeated builds across test binaries cheap.
func Build(name string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[name]; ok {
		return p, nil
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "detour-plugins-")
		if err != nil {
			return "", err
		}
		dir = d
	}
	out := filepath.Join(dir, name+".wasm")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-o", out, "./harness/testdata/"+name)
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build plugin %s: %v\n%s", name, err, b)
	}
	built[name] = out
	return out, nil
}

// MustRead builds name and returns its bytes, or panics (for TestMain and
// benchmarks).
func MustRead(name string) []byte {
	p, err := Build(name)
	if err != nil {
		panic(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		panic(err)
	}
	return b
}
