package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSimulateUsageAndInvalid(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	assert.NoError(t, os.WriteFile(bad, []byte("intent: x.yaml\ntraffic: {entry: cluster-1}\nfualts: []\n"), 0o644))
	syntax := filepath.Join(dir, "syntax.yaml")
	assert.NoError(t, os.WriteFile(syntax, []byte("intent: x.yaml\ntraffic: {entry: [\n"), 0o644))
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no scenario", []string{"simulate"}, exitUsage, "expected one SCENARIO"},
		{"two scenarios", []string{"simulate", "a", "b"}, exitUsage, "expected one SCENARIO"},
		{"bad flag", []string{"simulate", "--nope", "a"}, exitUsage, "flag provided but not defined"},
		{"unknown field", []string{"simulate", bad}, exitInvalid, bad + ":3:1: fualts: unknown field"},
		{"syntax error", []string{"simulate", syntax}, exitInvalid, syntax + ":2:1: invalid YAML"},
		{"missing file", []string{"simulate", filepath.Join(dir, "none.yaml")}, exitInvalid, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			assert.Equal(t, tc.code, run(tc.args, &out, &errb))
			assert.Contains(t, errb.String(), tc.stderr)
		})
	}
}
