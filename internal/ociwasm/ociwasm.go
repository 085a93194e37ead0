// Package ociwasm packages a proxy-wasm module as an OCI image that Istio
// pulls, and reads such an image back.
//
// The image is the "compat" variant of the Wasm image specification
// (solo-io/wasm spec/spec-compat.md), the one Istio's fetcher
// (istio/istio pkg/wasm/imagefetcher.go, extractOCIStandardImage) reads and
// generic registries and tools accept: an OCI manifest with one
// application/vnd.oci.image.layer.v1.tar+gzip layer whose tar holds the
// module as plugin.wasm, and the manifest annotation
// module.wasm.image/variant: compat.
//
// Images are reproducible: the same module always gives the same manifest
// digest (fixed tar header, zero timestamps, nothing random), so a digest
// pinned in a WasmPlugin can be rebuilt and checked from source.
package ociwasm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/detour-mesh/detour/internal/outdir"
)

const (
	// FileName is the module's name inside the layer's tar, as the compat
	// variant requires and Istio searches for (by base name).
	FileName = "plugin.wasm"
	// VariantAnnotation marks the manifest as the compat variant.
	VariantAnnotation = "module.wasm.image/variant"
	// Variant is VariantAnnotation's value.
	Variant = "compat"
	// Marker is the file `detour package` leaves in the layout directory it
	// writes; a non-empty directory without it is never replaced.
	Marker = ".detour-package"
)

var owner = outdir.Owner{Marker: Marker, Tool: "detour package"}

// wasmHeader is the magic number and version 1 that start every binary
// WebAssembly module (WebAssembly core spec §5.5.16).
var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// CheckModule returns an error unless b starts like a binary Wasm module.
// Istio rejects a fetched module without the magic number
// (pkg/wasm/cache.go, isValidWasmBinary); this catches a wrong file (a .wat,
// a native binary) before it is shipped.
func CheckModule(b []byte) error {
	if len(b) < len(wasmHeader) || !bytes.Equal(b[:4], wasmHeader[:4]) {
		return errors.New("not a WebAssembly binary module (no \\0asm magic number)")
	}
	if !bytes.Equal(b[4:8], wasmHeader[4:]) {
		return fmt.Errorf("unsupported WebAssembly binary version %x (want 01000000)", b[4:8])
	}
	return nil
}

// Image builds the compat-variant image of module.
func Image(module []byte) (v1.Image, error) {
	if err := CheckModule(module); err != nil {
		return nil, err
	}
	tgz, err := layerTarGz(module)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tgz)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	// The platform of Go's wasip1 port, which builds the filters. No
	// Created time and no history: both would only make digests differ.
	cf.Architecture, cf.OS = "wasm", "wasip1"
	cf.History = nil
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, map[string]string{VariantAnnotation: Variant}).(v1.Image), nil
}

// layerTarGz is the layer: a tar with the one entry plugin.wasm, gzipped.
// Every header field is fixed (mode, owner, epoch timestamp) and gzip's
// header carries no name or time, so the bytes depend on the module only.
func layerTarGz(module []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     FileName,
		Size:     int64(len(module)),
		Mode:     0o444,
		ModTime:  time.Unix(0, 0),
		Format:   tar.FormatUSTAR,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(module); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteLayout writes module's image as an OCI image layout in dir
// (replacing it as a whole, and only if it is empty or `detour package`
// wrote it) and returns the manifest digest. Nothing is written on error.
func WriteLayout(ctx context.Context, dir string, module []byte) (v1.Hash, error) {
	img, err := Image(module)
	if err != nil {
		return v1.Hash{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	err = outdir.Replace(ctx, dir, owner, func(w *outdir.Writer) error {
		p, err := layout.Write(w.Dir, empty.Index)
		if err != nil {
			return err
		}
		if err := w.Err(); err != nil {
			return err
		}
		return p.AppendImage(img)
	})
	return d, err
}

// Package is what a layout written by WriteLayout pins.
type Package struct {
	// Digest is the image manifest's digest: what Istio compares a
	// WasmPlugin's sha256 with for an oci:// url.
	Digest v1.Hash
	// ModuleSHA256 is the hex SHA-256 of the module itself: what Istio
	// compares the sha256 with for an http(s):// url.
	ModuleSHA256 string
	// Module is the module's bytes.
	Module []byte
}

// ReadLayout reads the one image of the OCI image layout in dir and
// extracts its module as Istio does.
func ReadLayout(dir string) (*Package, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: not an OCI image layout: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%s: index.json: %w", dir, err)
	}
	if len(im.Manifests) != 1 {
		return nil, fmt.Errorf("%s: index.json lists %d manifests, want exactly 1 (a layout written by detour package)", dir, len(im.Manifests))
	}
	img, err := p.Image(im.Manifests[0].Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	module, err := Extract(img)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if d != im.Manifests[0].Digest {
		return nil, fmt.Errorf("%s: manifest digest is %s, index.json says %s", dir, d, im.Manifests[0].Digest)
	}
	sum := sha256.Sum256(module)
	return &Package{Digest: d, ModuleSHA256: hex.EncodeToString(sum[:]), Module: module}, nil
}

// Extract returns the module of a compat-variant image: the plugin.wasm
// entry of its last layer, which must be an OCI tar+gzip layer, checked to be
// a Wasm binary. It accepts what Istio's fetcher accepts for this variant.
func Extract(img v1.Image) ([]byte, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if len(layers) == 0 {
		return nil, errors.New("image has no layer")
	}
	l := layers[len(layers)-1]
	mt, err := l.MediaType()
	if err != nil {
		return nil, err
	}
	if mt != types.OCILayer {
		return nil, fmt.Errorf("last layer has media type %s, want %s (compat variant)", mt, types.OCILayer)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return nil, fmt.Errorf("layer is not gzip: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("layer has no %s", FileName)
		}
		if err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
		if path.Base(h.Name) != FileName {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("layer: %s: %w", FileName, err)
		}
		if err := CheckModule(b); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", FileName, err)
		}
		return b, nil
	}
}
