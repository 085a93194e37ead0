package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSimulator writes a detour-simulate into dir that prints its arguments
// and exits with code.
func fakeSimulator(t *testing.T, dir, code string) string {
	t.Helper()
	p := filepath.Join(dir, simulator)
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\necho \"args: $*\"\necho oops >&2\nexit "+code+"\n"), 0o755))
	return p
}

// detour simulate runs detour-simulate from PATH with its arguments, and
// reports its output and exit code as its own.
func TestSimulateHandsOff(t *testing.T) {
	dir := t.TempDir()
	fakeSimulator(t, dir, "3")
	t.Setenv("PATH", dir)
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 3, run([]string{"simulate", "--json", "-", "drill.yaml"}, &stdout, &stderr))
	assert.Equal(t, "args: --json - drill.yaml\n", stdout.String())
	assert.Equal(t, "oops\n", stderr.String())

	stdout.Reset()
	run([]string{"help", "simulate"}, &stdout, &stderr)
	assert.Equal(t, "args: -h\noops\n", stdout.String(), "help is the simulator's, all on stdout")
}

func TestSimulateMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var stdout, stderr bytes.Buffer
	assert.Equal(t, exitInvalid, run([]string{"simulate", "drill.yaml"}, &stdout, &stderr))
	assert.Empty(t, stdout.String())
	assert.Contains(t, stderr.String(), "detour simulate: detour-simulate not found next to ")
	assert.Contains(t, stderr.String(), "or on PATH")
}

// The copy next to the executable (followed through a symlink) wins over
// PATH's: the two binaries installed together belong together.
func TestFindSimulator(t *testing.T) {
	bin, other := t.TempDir(), t.TempDir()
	self := filepath.Join(bin, "detour")
	require.NoError(t, os.WriteFile(self, nil, 0o755))
	want := fakeSimulator(t, bin, "0")
	fakeSimulator(t, other, "0")
	t.Setenv("PATH", other)
	link := filepath.Join(t.TempDir(), "detour")
	require.NoError(t, os.Symlink(self, link))
	for _, s := range []string{self, link} {
		got, err := findSimulator(s)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	got, err := findSimulator(filepath.Join(other, "detour"))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(other, simulator), got, "then PATH")
}
