package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withStdin runs f with s as standard input.
func withStdin(t *testing.T, s string, f func()) {
	t.Helper()
	old := stdin
	stdin = strings.NewReader(s)
	defer func() { stdin = old }()
	f()
}

func TestStdin(t *testing.T) {
	read := func(p string) string {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		return string(b)
	}
	valid, invalid := read("testdata/vet/valid.yaml"), read("testdata/vet/invalid.yaml")
	tests := []struct {
		name     string
		args     []string
		in       string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{name: "vet valid", args: []string{"vet", "-"}, in: valid, wantCode: exitOK, wantOut: "<stdin>:1:1: bookinfo/reviews ok\n"},
		{name: "vet invalid", args: []string{"vet", "-"}, in: invalid, wantCode: exitInvalid,
			wantErr: "<stdin>:22:19: spec.failover.order[1]: unknown cluster \"north\"\n"},
		{name: "vet a stream of two", args: []string{"vet", "-"}, in: valid + "---\n" + strings.Replace(valid, "namespace: bookinfo", "namespace: shop", 1),
			wantCode: exitOK, wantOut: "<stdin>:1:1: bookinfo/reviews ok\n<stdin>:"},
		{name: "vet empty stdin", args: []string{"vet", "-"}, in: "", wantCode: exitInvalid, wantErr: "<stdin>:1:1: expected a FailoverIntent"},
		{name: "vet stdin and a file", args: []string{"vet", "-", "testdata/vet/invalid.yaml"}, in: valid, wantCode: exitInvalid,
			wantErr: "testdata/vet/invalid.yaml:22:19:"},
		{name: "vet stdin duplicating a file", args: []string{"vet", "testdata/vet/valid.yaml", "-"}, in: valid, wantCode: exitInvalid,
			wantErr: "<stdin>:1:1: metadata.name: intent bookinfo/reviews is already defined at testdata/vet/valid.yaml:1:1\n"},
		{name: "vet stdin twice", args: []string{"vet", "-", "-"}, in: valid, wantCode: exitUsage, wantErr: `"-" (stdin) given twice`},
		{name: "policy intent", args: []string{"policy", "-"}, in: read("../../internal/policy/testdata/safe/intent.yaml"), wantCode: exitOK,
			wantOut: "1 documents, 0 denials"},
		{name: "policy denial", args: []string{"policy", "-"}, in: read("../../internal/policy/testdata/unsafe/resources.yaml"), wantCode: exitInvalid,
			wantOut: "<stdin>:88:3: DENY [wasm_unpinned]"},
		{name: "policy invalid intent", args: []string{"policy", "-"}, in: "apiVersion: detour.dev/v1alpha1\nkind: FailoverIntent\nmetadata: {name: x, namespace: y}\nspec:\n  clusters: 3\n",
			wantCode: exitInvalid, wantErr: "<stdin>:5:13: spec.clusters"},
		{name: "policy stdin twice", args: []string{"policy", "-", "-"}, in: "", wantCode: exitUsage, wantErr: `"-" (stdin) given twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			var code int
			withStdin(t, tc.in, func() { code = run(tc.args, &out, &errb) })
			assert.Equal(t, tc.wantCode, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
			assert.Contains(t, out.String(), tc.wantOut)
			assert.Contains(t, errb.String(), tc.wantErr)
		})
	}
}
