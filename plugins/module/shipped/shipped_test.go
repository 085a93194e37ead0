package shipped_test

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/internal/ociwasm"
	"github.com/detour-mesh/detour/plugins/module"
	"github.com/detour-mesh/detour/plugins/module/shipped"
)

// The embedded module is the one a fresh reproducible build of this source
// gives, the one the filter tests (plugins/module) exercise.
func TestShippedIsFresh(t *testing.T) {
	fresh, err := module.Bytes()
	require.NoError(t, err)
	if !bytes.Equal(fresh, shipped.Module()) {
		t.Fatalf("plugins/module/shipped/detour-filters.wasm (sha256 %x, %d bytes) is not the module this source builds (sha256 %x, %d bytes): run %q and commit the result",
			sha256.Sum256(shipped.Module()), len(shipped.Module()), sha256.Sum256(fresh), len(fresh), shipped.Regenerate)
	}
}

func TestDigest(t *testing.T) {
	d := shipped.Digest()
	img, err := ociwasm.Image(shipped.Module())
	require.NoError(t, err)
	want, err := img.Digest()
	require.NoError(t, err)
	require.Equal(t, want, d, "digest.go is stale: run %q", shipped.Regenerate)
	require.Equal(t, "sha256", d.Algorithm)
}
