// Package module gives tests and tools the built Detour filter module
// (plugins/filters), compiled for GOOS=wasip1 GOARCH=wasm with
// -buildmode=c-shared by the Go toolchain on PATH. Builds are cached by
// the Go build cache and the output is content-addressed in the system
// temporary directory (see harness/wasmhost/plugintest), so calling Path from many
// tests and test binaries is cheap after the first build.
package module

import (
	"os"

	"github.com/detour-mesh/detour/harness/wasmhost/plugintest"
)

// Name is the module's file name without extension (`make plugins` writes
// build/plugins/Name.wasm).
const Name = "detour-filters"

// Package is the main package the module is built from.
const Package = "./plugins/filters"

// Path builds the module if needed and returns the .wasm file's path.
func Path() (string, error) { return plugintest.BuildPackage(Package, Name) }

// Bytes builds the module if needed and returns its bytes.
func Bytes() ([]byte, error) {
	p, err := Path()
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}
