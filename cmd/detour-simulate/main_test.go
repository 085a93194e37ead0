package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/internal/ociwasm"
	"github.com/detour-mesh/detour/plugins/module/shipped"
)

// detour simulate -h (which detour hands here) prints the usage on stdout
// when detour passes stdout as both writers, listing every flag.
func TestHelp(t *testing.T) {
	var out bytes.Buffer
	assert.Equal(t, exitOK, run([]string{"-h"}, &out, &out))
	for _, f := range []string{"-json", "-svg", "-istio", "-baseline", "-only", "-plugins"} {
		assert.Contains(t, out.String(), "\n  "+f)
	}
	assert.Contains(t, out.String(), "usage: detour simulate")
}

// The module a drill runs by default is the one detour ships, whose image
// digest compile pins (cmd/detour TestModuleIdentity checks that side); the
// layout detour package writes runs the same module.
func TestFiltersAreTheShippedModule(t *testing.T) {
	ctx := context.Background()
	f, err := loadFilters(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, "detour-filters "+shipped.Digest().String()+" (built in)", f.Source)

	dir := filepath.Join(t.TempDir(), "image")
	d, err := ociwasm.WriteLayout(ctx, dir, shipped.Module())
	require.NoError(t, err)
	assert.Equal(t, shipped.Digest(), d)
	f, err = loadFilters(ctx, dir)
	require.NoError(t, err)
	assert.Equal(t, dir+" ("+shipped.Digest().String()+")", f.Source)

	_, err = loadFilters(ctx, t.TempDir())
	assert.ErrorContains(t, err, "--plugins: ")
}
