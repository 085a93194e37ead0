package main

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A new user installs the binary the way the README says, and every
// document calls it by the one name it gets: detour.
func TestInstallDocs(t *testing.T) {
	read := func(p string) string {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		return string(b)
	}
	makefile := read("../../Makefile")
	assert.Regexp(t, `(?m)^build:.*\n\t\$\(GO\) build -o bin/ \./cmd/detour \./cmd/detour-simulate$`, makefile, "make build builds both binaries")
	assert.Regexp(t, `(?m)^install: build .*\n.*\n\tcp \$\(BIN\) \$\(SIM\) \$\(INSTALL_DIR\)/$`, makefile, "make install copies both onto PATH")

	readme := read("../../README.md")
	assert.Contains(t, readme, "make install")
	assert.Contains(t, readme, "go install ./cmd/detour ./cmd/detour-simulate")

	// Other spellings of the binary a reader could copy and fail with.
	other := regexp.MustCompile(`(?m)(bin/detour|\./detour\b|go run \./cmd/detour|\bdetourctl\b)`)
	for _, p := range []string{"../../README.md", "../../examples/ci/README.md", "../../examples/ci/detour.yaml", "../../examples/ci/pre-commit-config.yaml", "../../docs/package.md"} {
		assert.NotRegexp(t, other, read(p), p)
	}

	// The workflow installs a pinned version, not whatever @latest resolves
	// to (nothing, before a first release), and shows which.
	ci := read("../../examples/ci/detour.yaml")
	assert.NotContains(t, ci, "@latest")
	assert.Contains(t, ci, "cmd/detour@${{ vars.DETOUR_VERSION")
	assert.Contains(t, ci, "cmd/detour-simulate@${{ vars.DETOUR_VERSION")
	assert.Contains(t, ci, "detour --version")
}
