package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"sigs.k8s.io/yaml"
)

func TestRunPolicy(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: detour.dev/v1alpha1\nkind: FailoverIntent\nmetadata: {name: x, namespace: y}\nspec:\n  clusters: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const td = "../../internal/policy/testdata/"
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{name: "no paths", args: nil, wantCode: exitUsage, wantErr: "usage: detour policy"},
		{name: "bad format", args: []string{"-o", "xml", td + "safe"}, wantCode: exitUsage, wantErr: `unknown -o "xml"`},
		{name: "safe intent", args: []string{td + "safe"}, wantCode: exitOK, wantOut: "1 documents, 0 denials, 0 warnings, 0 exceptions"},
		{name: "denial exits 1", args: []string{td + "unsafe/resources.yaml"}, wantCode: exitInvalid, wantOut: "resources.yaml:88:3: DENY [wasm_unpinned]"},
		{name: "warning passes", args: []string{td + "warnonly"}, wantCode: exitOK, wantOut: "WARN [max_ejection_unset]"},
		{name: "fail on warn", args: []string{"--fail-on-warn", td + "warnonly"}, wantCode: exitInvalid, wantOut: "1 warnings"},
		{name: "except every denial", args: []string{"--except", "wasm_unpinned,wasm_fail_closed", "--except", "envoyfilter_unscoped", "-o", "github", td + "unsafe/resources.yaml"}, wantCode: exitInvalid, wantOut: "::error file=" + td + "unsafe/resources.yaml,line=10,col=5,title=detour policy%3A outlier_detection_missing::"},
		{name: "unknown exception", args: []string{"--except", "strict_weight", td + "safe"}, wantCode: exitUsage, wantErr: "--except strict_weight: no such rule"},
		{name: "team policy", args: []string{"-p", td + "teampolicy", "-o", "json", td + "unsafe/resources.yaml"}, wantCode: exitInvalid, wantOut: `"rule": "missing_owner"`},
		{name: "sarif", args: []string{"-o", "sarif", td + "unsafe/strict-weights.yaml"}, wantCode: exitInvalid, wantOut: `"ruleId": "strict_weights"`},
		{name: "junit", args: []string{"-o", "junit", td + "safe"}, wantCode: exitOK, wantOut: `<testsuite name="detour policy" tests="1" failures="0">`},
		{name: "invalid intent", args: []string{bad}, wantCode: exitInvalid, wantErr: bad + ":5:13: spec.clusters"},
		{name: "missing file", args: []string{td + "nope.yaml"}, wantCode: exitInvalid, wantErr: "nope.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"policy"}, tc.args...), &out, &errb)
			assert.Equal(t, tc.wantCode, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
			assert.Contains(t, out.String(), tc.wantOut)
			assert.Contains(t, errb.String(), tc.wantErr)
		})
	}
}

// TestCIExamples keeps the CI examples parseable and running the commands
// the documentation promises.
func TestCIExamples(t *testing.T) {
	for file, want := range map[string][]string{
		"../../examples/ci/detour.yaml":            {"detour vet", "detour compile", "detour policy -o github", "detour policy -o sarif", "upload-sarif"},
		"../../examples/ci/pre-commit-config.yaml": {"detour vet", "detour policy", "detour compile"},
	} {
		b, err := os.ReadFile(file)
		if !assert.NoError(t, err) {
			continue
		}
		var doc map[string]any
		assert.NoError(t, yaml.Unmarshal(b, &doc), file)
		assert.NotEmpty(t, doc, file)
		for _, w := range want {
			assert.Contains(t, string(b), w, file)
		}
	}
}
