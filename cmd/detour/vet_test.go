package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVet(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{name: "valid", args: []string{"testdata/vet/valid.yaml"}, wantCode: exitOK,
			wantOut: "testdata/vet/valid.yaml:1:1: bookinfo/reviews ok\n"},
		{name: "invalid", args: []string{"testdata/vet/invalid.yaml"}, wantCode: exitInvalid,
			wantErr: "testdata/vet/invalid.yaml:22:19: spec.failover.order[1]: unknown cluster \"north\"\n"},
		{name: "valid and invalid", args: []string{"testdata/vet/valid.yaml", "testdata/vet/invalid.yaml"}, wantCode: exitInvalid,
			wantErr: "testdata/vet/invalid.yaml:"},
		{name: "flags after paths", args: []string{"testdata/vet/valid.yaml", "--format", "json"}, wantCode: exitOK,
			wantOut: "{\n  \"valid\": true,"},
		{name: "missing file", args: []string{"testdata/vet/nope.yaml"}, wantCode: exitInvalid,
			wantErr: "testdata/vet/nope.yaml: no such file or directory\n"},
		{name: "no paths", args: nil, wantCode: exitUsage, wantErr: "usage: detour vet"},
		{name: "unknown flag", args: []string{"--frob", "x"}, wantCode: exitUsage, wantErr: "flag provided but not defined"},
		{name: "unknown format", args: []string{"--format", "xml", "x"}, wantCode: exitUsage, wantErr: `unknown --format "xml"`},
		{name: "help", args: []string{"-h"}, wantCode: exitOK, wantOut: "usage: detour vet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"vet"}, tc.args...), &out, &errb)
			assert.Equal(t, tc.wantCode, code, "stderr: %s", errb.String())
			if tc.wantOut != "" {
				assert.True(t, strings.HasPrefix(out.String(), tc.wantOut), "stdout: %s", out.String())
			}
			if tc.wantErr != "" {
				assert.Contains(t, errb.String(), tc.wantErr)
			}
		})
	}
}

func TestVetInvalidSorted(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"vet", "testdata/vet/invalid.yaml"}, &out, &errb)
	require.Equal(t, exitInvalid, code)
	assert.Empty(t, out.String())
	assert.Equal(t,
		"testdata/vet/invalid.yaml:22:12: spec.failover.order: does not list cluster \"west\"; mode named lists every cluster once\n"+
			"testdata/vet/invalid.yaml:22:19: spec.failover.order[1]: unknown cluster \"north\"\n"+
			"testdata/vet/invalid.yaml:23:20: spec.exposure.mtls: must be \"ISTIO_MUTUAL\": traffic between clusters is always mutual TLS\n",
		errb.String())
}

func TestVetJSON(t *testing.T) {
	t.Run("valid prints the normalised intents", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := run([]string{"vet", "--format", "json", "testdata/vet/valid.yaml"}, &out, &errb)
		require.Equal(t, exitOK, code, errb.String())
		var res vetResult
		require.NoError(t, json.Unmarshal(out.Bytes(), &res))
		assert.True(t, res.Valid)
		require.Len(t, res.Intents, 1)
		assert.Equal(t, "testdata/vet/valid.yaml", res.Intents[0].File)
		assert.Equal(t, "reviews", res.Intents[0].Intent.Spec.Service.Host, "defaults are filled in")
		assert.Equal(t, "ISTIO_MUTUAL", res.Intents[0].Intent.Spec.Exposure.MTLS)
		assert.Empty(t, res.Errors)
	})
	t.Run("invalid prints the errors as objects", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := run([]string{"vet", "--format", "json", "testdata/vet/invalid.yaml"}, &out, &errb)
		require.Equal(t, exitInvalid, code)
		var res struct {
			Valid   bool
			Intents []json.RawMessage
			Errors  []map[string]any
		}
		require.NoError(t, json.Unmarshal(out.Bytes(), &res))
		assert.False(t, res.Valid)
		assert.Empty(t, res.Intents, "nothing is printed for an invalid run")
		require.Len(t, res.Errors, 3)
		assert.Equal(t, map[string]any{
			"file": "testdata/vet/invalid.yaml", "line": 22.0, "column": 19.0,
			"path": "spec.failover.order[1]", "message": `unknown cluster "north"`,
		}, res.Errors[1])
	})
}

// One intent in two arguments: compile refuses it, so vet does too, with the
// very same message; the same name in another namespace is a different
// intent.
func TestVetDuplicatesAcrossArguments(t *testing.T) {
	valid, err := os.ReadFile("testdata/vet/valid.yaml")
	require.NoError(t, err)
	dir := t.TempDir()
	a, b, other := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml"), filepath.Join(dir, "other.yaml")
	require.NoError(t, os.WriteFile(a, valid, 0o644))
	require.NoError(t, os.WriteFile(b, valid, 0o644))
	require.NoError(t, os.WriteFile(other, bytes.Replace(valid, []byte("namespace: bookinfo"), []byte("namespace: shop"), 1), 0o644))

	var vout, verr, cout, cerr bytes.Buffer
	assert.Equal(t, exitInvalid, run([]string{"vet", a, b}, &vout, &verr))
	assert.Equal(t, exitInvalid, run([]string{"compile", "-o", filepath.Join(dir, "out"), a, b}, &cout, &cerr))
	// vet reports as it goes: a's intent was valid when it was read.
	assert.Equal(t, a+":1:1: bookinfo/reviews ok\n", vout.String())
	want := b + ":1:1: metadata.name: intent bookinfo/reviews is already defined at " + a + ":1:1\n"
	assert.Equal(t, want, verr.String())
	assert.Equal(t, want, cerr.String(), "compile says the same")

	var jout, jerr bytes.Buffer
	assert.Equal(t, exitInvalid, run([]string{"vet", "--format", "json", a, b}, &jout, &jerr))
	assert.Contains(t, jout.String(), `"valid": false`)
	assert.Contains(t, jout.String(), `"path": "metadata.name"`)
	assert.NotContains(t, jout.String(), `"intents"`)

	var oout, oerr bytes.Buffer
	assert.Equal(t, exitOK, run([]string{"vet", a, other}, &oout, &oerr), oerr.String())
	assert.Equal(t, 2, strings.Count(oout.String(), " ok\n"))
}
