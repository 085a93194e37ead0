package ociwasm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/detour-mesh/detour/internal/golden"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
)

// module is a small valid Wasm module: the header and a custom section
// carrying payload, so different payloads give different modules.
func module(t *testing.T, payload string) []byte {
	t.Helper()
	name := "detour"
	body := append([]byte{byte(len(name))}, name...)
	body = append(body, payload...)
	require.Less(t, len(body), 128, "one-byte LEB128 size")
	b := append([]byte{}, wasmHeader...)
	b = append(b, 0x00, byte(len(body)))
	b = append(b, body...)
	// A real runtime accepts it: the fixture is a module, not just a header.
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	_, err := r.CompileModule(ctx, b)
	require.NoError(t, err)
	return b
}

// istioFetch extracts the module as Istio's image fetcher does
// (istio/istio pkg/wasm/imagefetcher.go, PrepareFetch's binaryFetcher and
// pkg/wasm/cache.go): a manifest that is not Docker's is read as the compat
// variant first: its last layer must be an OCI tar+gzip layer, read with
// Compressed(), gunzipped, and searched for an entry whose base name is
// plugin.wasm; the result must start with the Wasm magic number. It is kept
// apart from Extract on purpose: it models the consumer, not our reader.
func istioFetch(img v1.Image) ([]byte, string, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, "", err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, "", err
	}
	if m.MediaType == types.DockerManifestSchema2 {
		return nil, "", errors.New("docker variant")
	}
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		return nil, "", fmt.Errorf("layers: %v", err)
	}
	l := layers[len(layers)-1]
	if mt, _ := l.MediaType(); mt != types.OCILayer {
		return nil, "", fmt.Errorf("media type %s", mt)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return nil, "", err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, "", err
		}
		if filepath.Base(h.Name) != "plugin.wasm" {
			continue
		}
		b := make([]byte, h.Size)
		if _, err := io.ReadFull(tr, b); err != nil {
			return nil, "", err
		}
		if len(b) < 8 || !bytes.Equal(b[:4], []byte{0x00, 0x61, 0x73, 0x6d}) {
			return nil, "", errors.New("invalid wasm binary")
		}
		return b, d.Hex, nil
	}
}

func TestLayoutIstioFetch(t *testing.T) {
	mod := module(t, "filters")
	dir := filepath.Join(t.TempDir(), "image")
	d, err := WriteLayout(context.Background(), dir, mod)
	require.NoError(t, err)

	// Read the layout with the library, as a push to a registry would.
	p, err := layout.FromPath(dir)
	require.NoError(t, err)
	idx, err := p.ImageIndex()
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 1)
	assert.Equal(t, d, im.Manifests[0].Digest)
	img, err := p.Image(d)
	require.NoError(t, err)

	got, digest, err := istioFetch(img)
	require.NoError(t, err)
	assert.Equal(t, mod, got, "Istio extracts the very bytes packaged")
	assert.Equal(t, d.Hex, digest, "Istio compares WasmPlugin.sha256 with this digest")

	m, err := img.Manifest()
	require.NoError(t, err)
	assert.Equal(t, types.OCIManifestSchema1, m.MediaType)
	assert.Equal(t, types.OCIConfigJSON, m.Config.MediaType)
	assert.Equal(t, map[string]string{"module.wasm.image/variant": "compat"}, m.Annotations)
	require.Len(t, m.Layers, 1, "compat variant: exactly one layer")
	assert.Equal(t, types.OCILayer, m.Layers[0].MediaType)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "wasm", cf.Architecture)
	assert.Equal(t, "wasip1", cf.OS)

	// Our own reader agrees with the fetcher model.
	pkg, err := ReadLayout(dir)
	require.NoError(t, err)
	assert.Equal(t, d, pkg.Digest)
	assert.Equal(t, mod, pkg.Module)
	assert.Regexp(t, `^[0-9a-f]{64}$`, pkg.ModuleSHA256)
	assert.NotEqual(t, d.Hex, pkg.ModuleSHA256)
	_, err = os.Stat(filepath.Join(dir, Marker))
	assert.NoError(t, err, "the layout carries the marker")
}

// The same module gives the same digest and the same files, every time and
// in any directory; this pins the digest so a format change is noticed.
func TestDigestStable(t *testing.T) {
	mod := module(t, "filters")
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	da, err := WriteLayout(context.Background(), a, mod)
	require.NoError(t, err)
	db, err := WriteLayout(context.Background(), b, mod)
	require.NoError(t, err)
	assert.Equal(t, da, db)
	assert.Equal(t, golden.ReadTree(t, a), golden.ReadTree(t, b))
	// Rewriting over its own earlier output is allowed and changes nothing.
	again, err := WriteLayout(context.Background(), a, mod)
	require.NoError(t, err)
	assert.Equal(t, da, again)

	other, err := WriteLayout(context.Background(), filepath.Join(t.TempDir(), "c"), module(t, "other"))
	require.NoError(t, err)
	assert.NotEqual(t, da, other, "a different module gives a different digest")

	assert.Equal(t, "sha256:b0d10d82e432d9275bc5df2cba986179cbdc4865b3bf0f49fbba808dc7b35dd6", da.String(),
		"the digest of this fixture changed: the image format is no longer what earlier releases produced")
}

func TestCheckModule(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		wantErr string
	}{
		{"empty module", wasmHeader, ""},
		{"nothing", nil, "no \\0asm magic number"},
		{"short", []byte("\x00asm"), "no \\0asm magic number"},
		{"text format", []byte("(module)\n"), "no \\0asm magic number"},
		{"native binary", []byte("\x7fELF\x02\x01\x01\x00"), "no \\0asm magic number"},
		{"component model", []byte("\x00asm\x0d\x00\x01\x00"), "unsupported WebAssembly binary version 0d000100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckModule(tc.in)
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestWriteLayoutErrors(t *testing.T) {
	t.Run("not a module writes nothing", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "out")
		_, err := WriteLayout(context.Background(), dir, []byte("(module)"))
		require.ErrorContains(t, err, "not a WebAssembly binary module")
		_, err = os.Stat(dir)
		assert.True(t, os.IsNotExist(err))
	})
	t.Run("refuses a directory it did not write", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644))
		_, err := WriteLayout(context.Background(), dir, module(t, "x"))
		require.ErrorContains(t, err, "not written by detour package")
		assert.Equal(t, map[string]string{"notes.txt": "mine"}, golden.ReadTree(t, dir))
	})
	t.Run("interrupted writes nothing", func(t *testing.T) {
		parent := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := WriteLayout(ctx, filepath.Join(parent, "out"), module(t, "x"))
		require.ErrorContains(t, err, "interrupted")
		entries, err := os.ReadDir(parent)
		require.NoError(t, err)
		assert.Empty(t, entries)
	})
}

// writeImage writes img as the only image of a layout in a new directory.
func writeImage(t *testing.T, img v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	require.NoError(t, err)
	require.NoError(t, p.AppendImage(img))
	return dir
}

func tarGz(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o444, Size: int64(len(data)), Typeflag: tar.TypeReg}))
	_, err := tw.Write(data)
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestReadLayoutErrors(t *testing.T) {
	good := module(t, "x")
	withLayer := func(l v1.Layer) v1.Image {
		img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{Layer: l})
		require.NoError(t, err)
		return img
	}
	img, err := Image(good)
	require.NoError(t, err)
	tests := []struct {
		name    string
		dir     func(t *testing.T) string
		wantErr string
	}{
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, "no such file or directory"},
		{"not a layout", func(t *testing.T) string { return t.TempDir() }, "not an OCI image layout"},
		{"two images", func(t *testing.T) string {
			dir := writeImage(t, img)
			p, err := layout.FromPath(dir)
			require.NoError(t, err)
			other, err := Image(module(t, "y"))
			require.NoError(t, err)
			require.NoError(t, p.AppendImage(other))
			return dir
		}, "lists 2 manifests, want exactly 1"},
		{"oci artifact variant", func(t *testing.T) string {
			return writeImage(t, withLayer(static.NewLayer(good, "application/vnd.module.wasm.content.layer.v1+wasm")))
		}, "want application/vnd.oci.image.layer.v1.tar+gzip"},
		{"no plugin.wasm", func(t *testing.T) string {
			return writeImage(t, withLayer(static.NewLayer(tarGz(t, "module.wasm", good), types.OCILayer)))
		}, "layer has no plugin.wasm"},
		{"plugin.wasm is not wasm", func(t *testing.T) string {
			return writeImage(t, withLayer(static.NewLayer(tarGz(t, "plugin.wasm", []byte("#!/bin/sh\n")), types.OCILayer)))
		}, "plugin.wasm: not a WebAssembly binary module"},
		{"layer not gzip", func(t *testing.T) string {
			return writeImage(t, withLayer(static.NewLayer([]byte("plain"), types.OCILayer)))
		}, "layer is not gzip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			_, err := ReadLayout(dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
	// A plugin.wasm under a directory is found by base name, as Istio does.
	dir := writeImage(t, withLayer(static.NewLayer(tarGz(t, "./dist/plugin.wasm", good), types.OCILayer)))
	pkg, err := ReadLayout(dir)
	require.NoError(t, err)
	assert.Equal(t, good, pkg.Module)
}
