package ociwasm

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

var sha256Hex = regexp.MustCompile(`^[a-f0-9]{64}$`)

// Pin checks a WasmPlugin's url and sha256 and returns the sha256 to write.
//
// What the sha256 means depends on the url, as Istio checks it
// (pkg/wasm/cache.go): for oci:// it is the image manifest's digest, for
// http(s):// the SHA-256 of the module's bytes. With pkg (a layout from
// `detour package`), the matching one is taken from it; a sha256 or an
// @sha256: digest in the url that disagrees with it is an error, since Istio
// would refuse the module at pull time.
func Pin(rawURL, sha string, pkg *Package) (string, error) {
	u, err := checkURL(rawURL)
	if err != nil {
		return "", err
	}
	// "sha256:<hex>" is how detour package and registries print a digest.
	raw := sha
	sha = strings.TrimPrefix(sha, "sha256:")
	if raw != "" && !sha256Hex.MatchString(sha) {
		return "", fmt.Errorf("--wasm-sha256 %q is not 64 lowercase hex digits (a SHA-256, with or without a sha256: prefix)", raw)
	}
	var urlDigest string
	if u.Scheme == "oci" {
		if d, err := name.NewDigest(u.Host + u.Path); err == nil {
			urlDigest = strings.TrimPrefix(d.DigestStr(), "sha256:")
		}
	}
	if urlDigest != "" && sha != "" && urlDigest != sha {
		return "", fmt.Errorf("--wasm-sha256 %s disagrees with the digest in --wasm-url %q", sha, rawURL)
	}
	if pkg == nil {
		return sha, nil
	}
	want, what := pkg.ModuleSHA256, "the module's SHA-256"
	if u.Scheme == "oci" {
		want, what = pkg.Digest.Hex, "the image digest"
	}
	if urlDigest != "" && urlDigest != want {
		return "", fmt.Errorf("--wasm-url %q pins sha256:%s, but --package has image digest %s", rawURL, urlDigest, pkg.Digest)
	}
	if sha != "" && sha != want {
		return "", fmt.Errorf("--wasm-sha256 %s disagrees with --package (%s, which %s:// urls pin, is %s)", sha, what, u.Scheme, want)
	}
	return want, nil
}

// checkURL accepts the url forms Istio pulls a module from: oci://REFERENCE,
// http(s)://HOST/PATH and file:///ABSOLUTE/PATH.
func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("--wasm-url %q: %v", raw, err)
	}
	switch u.Scheme {
	case "oci":
		if _, err := name.ParseReference(u.Host + u.Path); err != nil || u.Host == "" {
			if err == nil {
				err = fmt.Errorf("no registry host")
			}
			return nil, fmt.Errorf("--wasm-url %q: not an image reference (want oci://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]): %v", raw, err)
		}
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("--wasm-url %q: no host", raw)
		}
	case "file":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return nil, fmt.Errorf("--wasm-url %q: want file:///ABSOLUTE/PATH (a path on the proxy's filesystem)", raw)
		}
	default:
		return nil, fmt.Errorf("--wasm-url %q: want an oci://, https://, http:// or file:// URL", raw)
	}
	return u, nil
}
