package ociwasm

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPin(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	pkg := &Package{Digest: v1.Hash{Algorithm: "sha256", Hex: a}, ModuleSHA256: b}
	tests := []struct {
		name    string
		url     string
		sha     string
		pkg     *Package
		want    string
		wantErr string
	}{
		{name: "unpinned", url: "oci://ghcr.io/o/f:v1"},
		{name: "given sha", url: "oci://ghcr.io/o/f:v1", sha: a, want: a},
		{name: "sha256: prefix as detour package prints it", url: "oci://ghcr.io/o/f:v1", sha: "sha256:" + a, want: a},
		{name: "prefix and package agree", url: "oci://ghcr.io/o/f:v1", sha: "sha256:" + a, pkg: pkg, want: a},
		{name: "prefix without digest", url: "oci://ghcr.io/o/f:v1", sha: "sha256:", wantErr: `--wasm-sha256 "sha256:" is not 64`},
		{name: "oci takes the image digest", url: "oci://ghcr.io/o/f:v1", pkg: pkg, want: a},
		{name: "oci by digest that matches", url: "oci://ghcr.io/o/f@sha256:" + a, pkg: pkg, want: a},
		{name: "https takes the module sha", url: "https://h/f.wasm", pkg: pkg, want: b},
		{name: "http takes the module sha", url: "http://h/f.wasm", pkg: pkg, want: b},
		{name: "file takes the module sha", url: "file:///etc/f.wasm", pkg: pkg, want: b},
		{name: "url digest against sha", url: "oci://ghcr.io/o/f@sha256:" + a, sha: b, wantErr: "disagrees with the digest in --wasm-url"},
		{name: "url digest against package", url: "oci://ghcr.io/o/f@sha256:" + b, pkg: pkg, wantErr: "but --package has image digest sha256:" + a},
		{name: "sha against package", url: "https://h/f.wasm", sha: a, pkg: pkg, wantErr: "the module's SHA-256, which https:// urls pin, is " + b},
		{name: "uppercase sha", url: "oci://ghcr.io/o/f:v1", sha: strings.ToUpper(a), wantErr: "not 64 lowercase hex digits"},
		{name: "short sha", url: "oci://ghcr.io/o/f:v1", sha: "abc", wantErr: "not 64 lowercase hex digits"},
		{name: "unknown scheme", url: "ftp://h/f.wasm", wantErr: "want an oci://, https://, http:// or file:// URL"},
		{name: "no scheme", url: "ghcr.io/o/f:v1", wantErr: "want an oci://"},
		{name: "oci without repository", url: "oci://", wantErr: "not an image reference"},
		{name: "oci bad tag", url: "oci://ghcr.io/o/f:bad tag", wantErr: "--wasm-url"},
		{name: "https without host", url: "https:///f.wasm", wantErr: "no host"},
		{name: "relative file", url: "file:f.wasm", wantErr: "want file:///ABSOLUTE/PATH"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Pin(tc.url, tc.sha, tc.pkg)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
