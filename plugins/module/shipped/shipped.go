// Package shipped is the filter module this binary ships: the reproducible
// build of plugins/filters (`make plugins`), embedded, so that `detour
// compile` pins its image digest, `detour package` writes that image and
// `detour simulate` runs those very bytes, with no Go toolchain and no
// source tree at run time.
//
// The .wasm file is generated and committed. Regenerate it after changing
// the filters with one command (TestShippedIsFresh fails until then):
//
//	go generate ./plugins/module/shipped
package shipped

import (
	_ "embed"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Name is the module's name (`make plugins` writes build/plugins/Name.wasm).
const Name = "detour-filters"

// Regenerate is the command that rebuilds the embedded module.
const Regenerate = "go generate ./plugins/module/shipped"

// The flags are `make plugins`'s: -trimpath and no VCS stamp make the bytes
// depend on the source and the Go version only, not on the checkout's path
// or commit.
//go:generate env GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -buildvcs=false -o detour-filters.wasm ../../filters
//go:generate go run ./gen

//go:embed detour-filters.wasm
var module []byte

// Module returns the module's bytes (shared: do not modify).
func Module() []byte { return module }

// Digest is the manifest digest of the module's compat OCI image: what
// `detour package` prints for it and an oci:// WasmPlugin pins. It is
// generated with the module (TestDigest checks it against the image).
func Digest() v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: digest[len("sha256:"):]} }
