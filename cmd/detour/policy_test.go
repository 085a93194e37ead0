package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// Nothing to check is not a pass, and a team policy directory that adds no
// rule is an error, not silence.
func TestPolicyNothingToCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
		return p
	}
	empty := filepath.Join(dir, "emptydir")
	require.NoError(t, os.MkdirAll(empty, 0o755))
	emptyFile := write("empty.yaml", "")
	other := write("other.yaml", "foo: bar\n")
	deploy := write("deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n")
	noPolicies := filepath.Join(dir, "nopolicies")
	require.NoError(t, os.MkdirAll(noPolicies, 0o755))
	write("nopolicies/README.md", "rules go here\n")
	wrongPkg := filepath.Dir(write("wrongpkg/team.rego", "package team\n\ndeny_x contains msg if { msg := \"x\"; false }\n"))
	const safe = "../../internal/policy/testdata/safe"
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "empty directory", args: []string{empty}, wantCode: exitInvalid, wantErr: "nothing to check: 0 document(s), none a FailoverIntent or an Istio resource, in " + empty},
		{name: "empty file", args: []string{emptyFile}, wantCode: exitInvalid, wantErr: "nothing to check: 0 document(s)"},
		{name: "yaml that is not a resource", args: []string{other}, wantCode: exitInvalid, wantErr: "nothing to check: 1 document(s)"},
		{name: "kubernetes but not istio", args: []string{deploy}, wantCode: exitInvalid, wantErr: "nothing to check: 1 document(s)"},
		{name: "other documents beside an intent are fine", args: []string{deploy, safe}, wantCode: exitOK},
		{name: "policy directory without policies", args: []string{"-p", noPolicies, safe}, wantCode: exitUsage, wantErr: "policy directory " + noPolicies + ": no .rego files"},
		{name: "policy directory of another package", args: []string{"-p", wrongPkg, safe}, wantCode: exitUsage, wantErr: "no rules in package main (found package team)"},
		{name: "missing policy directory", args: []string{"-p", filepath.Join(dir, "nope"), safe}, wantCode: exitUsage, wantErr: "nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"policy"}, tc.args...), &out, &errb)
			assert.Equal(t, tc.wantCode, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
			assert.Contains(t, errb.String(), tc.wantErr)
			if tc.wantCode != exitOK {
				assert.Empty(t, out.String(), "errors print nothing on stdout")
			}
		})
	}
}
