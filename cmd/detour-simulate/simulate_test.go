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
		{"no scenario", []string{}, exitUsage, "expected one SCENARIO"},
		{"two scenarios", []string{"a", "b"}, exitUsage, "expected one SCENARIO"},
		{"bad flag", []string{"--nope", "a"}, exitUsage, "flag provided but not defined"},
		{"unknown field", []string{bad}, exitInvalid, bad + ":3:1: fualts: unknown field"},
		{"syntax error", []string{syntax}, exitInvalid, syntax + ":2:18: sequence end token ']' not found"},
		{"missing file", []string{filepath.Join(dir, "none.yaml")}, exitInvalid, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			assert.Equal(t, tc.code, run(tc.args, &out, &errb))
			assert.Contains(t, errb.String(), tc.stderr)
		})
	}
}

func TestSimulateDrill(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	code := run([]string{"--json", out, "../../examples/bookinfo/drills/local-scaled-to-zero.yaml"}, &stdout, &stderr)
	assert.Equal(t, exitOK, code, stderr.String())
	assert.Contains(t, stdout.String(), "bookinfo-reviews-local-scaled-to-zero")
	assert.Contains(t, stdout.String(), "traffic share (cluster-1 / cluster-2 / none)")
	b, err := os.ReadFile(out)
	assert.NoError(t, err)
	assert.Contains(t, string(b), `"runs": [`)
}

func TestSimulateFailedExpectation(t *testing.T) {
	intent, err := filepath.Abs("../../examples/bookinfo/intent.yaml")
	assert.NoError(t, err)
	sc := filepath.Join(t.TempDir(), "broken.yaml")
	assert.NoError(t, os.WriteFile(sc, []byte("intent: "+intent+`
traffic: {entry: cluster-1, rate: 20, duration: 10s}
faults:
  - {kind: errorRate, start: 2s, target: {region: us-east1, service: reviews}}
  - {kind: errorRate, start: 2s, target: {region: us-west1, service: reviews}}
expect: {maxUserVisibleErrors: 0, maxTimeToFailOver: 1s}
`), 0o644))
	var stdout, stderr bytes.Buffer
	assert.Equal(t, exitInvalid, run([]string{sc}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "detour run: expectation maxUserVisibleErrors <= 0 requests failed: measured ")
	assert.Contains(t, stderr.String(), "detour run: expectation maxTimeToFailOver <= 1 s failed: measured never")
}
