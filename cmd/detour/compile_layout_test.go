package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCompileFilterLayout: one WasmPlugin per proxy by default (the
// combined root ID), the three root IDs with --split-filters.
func TestCompileFilterLayout(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		roots []string
	}{
		{nil, []string{"detour"}},
		{[]string{"--split-filters"}, []string{"detour-outlier", "detour-retry", "detour-router"}},
	} {
		out := filepath.Join(t.TempDir(), "out")
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"compile", "-o", out, "../../examples/bookinfo"}, tc.args...), &stdout, &stderr)
		require.Equal(t, exitOK, code, stderr.String())
		b, err := os.ReadFile(filepath.Join(out, "bookinfo/reviews/clusters/cluster-1.yaml"))
		require.NoError(t, err)
		y := string(b)
		assert.Equal(t, len(tc.roots), strings.Count(y, "kind: WasmPlugin"), tc.args)
		for _, r := range tc.roots {
			assert.Contains(t, y, "  pluginName: "+r+"\n", tc.args)
		}
	}
}
