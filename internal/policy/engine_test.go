package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/internal/golden"
)

func check(t *testing.T, opts Options, paths ...string) Report {
	t.Helper()
	docs, err := Collect(paths...)
	require.NoError(t, err)
	eng, err := New(context.Background(), opts)
	require.NoError(t, err)
	rep, err := eng.Check(context.Background(), docs)
	require.NoError(t, err)
	return rep
}

// TestUnsafeSamples is the catalogue of unsafe patterns: every rule id
// fires on the samples, and the full report is reviewed as a golden file.
func TestUnsafeSamples(t *testing.T) {
	rep := check(t, Options{}, "testdata/unsafe")
	fired := map[string]bool{}
	for _, f := range rep.Findings {
		fired[f.Rule] = true
		assert.NotZero(t, f.Line, "finding without a line: %+v", f)
		assert.Contains(t, f.Message, "fix: ", "finding without a fix: %+v", f)
	}
	eng, err := New(context.Background(), Options{})
	require.NoError(t, err)
	for id := range eng.Catalog() {
		if id == "single_region" || id == "retry_last_try_cut" || id == "max_ejection_partial" {
			continue // warnings shown by TestWarnings and the Rego tests
		}
		assert.True(t, fired[id], "rule %s fires on no sample", id)
	}
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, "text", rep))
	golden.Check(t, filepath.Join("testdata", "golden", "unsafe.txt"), buf.Bytes())
}

func TestSafeSample(t *testing.T) {
	rep := check(t, Options{}, "testdata/safe/intent.yaml")
	assert.Equal(t, 1, rep.Documents)
	assert.Empty(t, rep.Findings)
}

func TestWarnings(t *testing.T) {
	rep := check(t, Options{}, "testdata/warnonly")
	require.Len(t, rep.Findings, 1)
	assert.Equal(t, Warn, rep.Findings[0].Severity)
	assert.Equal(t, "max_ejection_unset", rep.Findings[0].Rule)
	assert.Equal(t, 0, rep.Denials())
}

func TestExceptions(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		wantRules []string // rules reported for the WasmPlugin
		wantExc   []Exception
	}{
		{name: "none", wantRules: []string{"wasm_fail_closed", "wasm_unpinned"}, wantExc: []Exception{}},
		{
			name:      "flag",
			opts:      Options{Except: []string{"wasm_fail_closed"}},
			wantRules: []string{"wasm_unpinned"},
			wantExc:   []Exception{{File: "testdata/unsafe/resources.yaml", Line: 88, Rule: "wasm_fail_closed", By: "flag"}},
		},
		{
			name:      "full rule name",
			opts:      Options{Except: []string{"deny_wasm_fail_closed"}},
			wantRules: []string{"wasm_unpinned"},
			wantExc:   []Exception{{File: "testdata/unsafe/resources.yaml", Line: 88, Rule: "wasm_fail_closed", By: "flag"}},
		},
		{
			name:      "team policy with exception and own rule",
			opts:      Options{PolicyDirs: []string{"testdata/teampolicy"}},
			wantRules: []string{"missing_owner", "wasm_fail_closed"},
			wantExc:   []Exception{{File: "testdata/unsafe/resources.yaml", Line: 88, Rule: "wasm_unpinned", By: "policy"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := check(t, tc.opts, "testdata/unsafe/resources.yaml")
			var got []string
			for _, f := range rep.Findings {
				if f.Line >= 80 { // the WasmPlugin document
					got = append(got, f.Rule)
				}
			}
			assert.Equal(t, tc.wantRules, got)
			// Where and what; the reasons are TestAnnotationExceptions'.
			for i := range rep.Exceptions {
				x := &rep.Exceptions[i]
				assert.NotEmpty(t, x.Reason)
				assert.NotEmpty(t, x.Message)
				x.Reason, x.Message, x.Severity, x.Column = "", "", "", 0
			}
			assert.Equal(t, tc.wantExc, rep.Exceptions)
		})
	}
}

// TestAnnotationExceptions: a finding a resource's annotation excepts is
// tallied with its reason and reported to SARIF as a suppressed result,
// never silently dropped.
func TestAnnotationExceptions(t *testing.T) {
	rep := check(t, Options{}, "testdata/annotated/wasm.yaml")
	for _, f := range rep.Findings {
		assert.NotEqual(t, "wasm_fail_closed", f.Rule, "the annotation excepts it")
	}
	require.Len(t, rep.Exceptions, 1)
	x := rep.Exceptions[0]
	assert.Equal(t, "wasm_fail_closed", x.Rule)
	assert.Equal(t, "annotation", x.By)
	assert.Equal(t, "payments must fail closed (reviewed in SEC-142)", x.Reason)
	assert.Equal(t, "testdata/annotated/wasm.yaml", x.File)
	assert.Positive(t, x.Line)

	var text bytes.Buffer
	require.NoError(t, Write(&text, "text", rep))
	assert.Contains(t, text.String(), "1 exceptions")

	var buf bytes.Buffer
	require.NoError(t, Write(&buf, "sarif", rep))
	var got struct {
		Runs []struct {
			Results []struct {
				RuleID       string `json:"ruleId"`
				Suppressions []struct {
					Kind          string `json:"kind"`
					Status        string `json:"status"`
					Justification string `json:"justification"`
				} `json:"suppressions"`
			} `json:"results"`
		} `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
	require.Len(t, got.Runs, 1)
	var suppressed int
	for _, r := range got.Runs[0].Results {
		if len(r.Suppressions) == 0 {
			continue
		}
		suppressed++
		assert.Equal(t, "wasm_fail_closed", r.RuleID)
		assert.Equal(t, "inSource", r.Suppressions[0].Kind)
		assert.Equal(t, "accepted", r.Suppressions[0].Status)
		assert.Equal(t, "payments must fail closed (reviewed in SEC-142)", r.Suppressions[0].Justification)
	}
	assert.Equal(t, 1, suppressed)
}

func TestTeamPolicyErrors(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.rego"), []byte("package main\n\ndeny contains msg if {\n"), 0o644))
	_, err := New(context.Background(), Options{PolicyDirs: []string{dir}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bad.rego:")
}

func TestPosition(t *testing.T) {
	docs, err := Collect("testdata/unsafe/resources.yaml")
	require.NoError(t, err)
	require.Len(t, docs, 6)
	tests := []struct {
		doc       int
		path      string
		line, col int
	}{
		{doc: 0, path: "", line: 2, col: 1},
		{doc: 0, path: "spec.host", line: 8, col: 9},
		{doc: 0, path: "spec.subsets[0].labels", line: 18, col: 15},
		{doc: 0, path: "spec.trafficPolicy.outlierDetection", line: 10, col: 5}, // nearest written ancestor
		{doc: 2, path: "spec.http[0].retries.perTryTimeout", line: 50, col: 24},
		{doc: 2, path: "spec.http[7]", line: 45, col: 5},
	}
	for _, tc := range tests {
		line, col := docs[tc.doc].Position(tc.path)
		assert.Equal(t, []int{tc.line, tc.col}, []int{line, col}, "doc %d path %q", tc.doc, tc.path)
	}
}

func TestSplitPath(t *testing.T) {
	assert.Equal(t, []string{"spec", "http", "[0]", "route", "[1]", "destination"}, splitPath("spec.http[0].route[1].destination"))
	assert.Equal(t, []string{"a"}, splitPath("a"))
	assert.Equal(t, []string{"a", "[1]", "[2]"}, splitPath("a[1][2]"))
}

func TestCollectErrors(t *testing.T) {
	_, err := Collect("testdata/does-not-exist")
	require.Error(t, err)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("kind: Gateway\n---\nspec: [unclosed\n"), 0o644))
	_, err = Collect(bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), bad+":3")
}

func TestOutputs(t *testing.T) {
	rep := check(t, Options{}, "testdata/unsafe/resources.yaml")
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, Write(&buf, format, rep))
			out := buf.Bytes()
			switch format {
			case "json":
				var got Report
				require.NoError(t, json.Unmarshal(out, &got))
				assert.Equal(t, rep.Findings, got.Findings)
			case "sarif":
				var got struct {
					Version string `json:"version"`
					Runs    []struct {
						Tool struct {
							Driver struct {
								Rules []struct {
									ID string `json:"id"`
								} `json:"rules"`
							} `json:"driver"`
						} `json:"tool"`
						Results []struct {
							RuleID    string `json:"ruleId"`
							Level     string `json:"level"`
							Locations []struct {
								PhysicalLocation struct {
									ArtifactLocation struct {
										URI string `json:"uri"`
									} `json:"artifactLocation"`
									Region struct {
										StartLine int `json:"startLine"`
									} `json:"region"`
								} `json:"physicalLocation"`
							} `json:"locations"`
						} `json:"results"`
					} `json:"runs"`
				}
				require.NoError(t, json.Unmarshal(out, &got))
				assert.Equal(t, "2.1.0", got.Version)
				require.Len(t, got.Runs, 1)
				assert.Len(t, got.Runs[0].Results, len(rep.Findings))
				assert.GreaterOrEqual(t, len(got.Runs[0].Tool.Driver.Rules), 20)
				r := got.Runs[0].Results[0]
				assert.Equal(t, rep.Findings[0].Rule, r.RuleID)
				assert.Equal(t, "testdata/unsafe/resources.yaml", r.Locations[0].PhysicalLocation.ArtifactLocation.URI)
				assert.Equal(t, rep.Findings[0].Line, r.Locations[0].PhysicalLocation.Region.StartLine)
			case "junit":
				var got junitSuites
				require.NoError(t, xml.Unmarshal(out, &got))
				require.Len(t, got.Suites, 1)
				assert.Equal(t, rep.Denials(), got.Suites[0].Failures)
				assert.Equal(t, len(rep.Findings), got.Suites[0].Tests)
			}
		})
	}
	var buf bytes.Buffer
	require.Error(t, Write(&buf, "yaml", rep))
}

func TestGitHubEscaping(t *testing.T) {
	rep := Report{Documents: 1, Findings: []Finding{{File: "a,b:c.yaml", Line: 3, Column: 2, Rule: "x", Severity: Warn, Message: "100% bad\nreally"}}}
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, "github", rep))
	assert.Equal(t, "::warning file=a%2Cb%3Ac.yaml,line=3,col=2,title=detour policy%3A x::100%25 bad%0Areally\n1 documents, 0 denials, 1 warnings, 0 exceptions\n", buf.String())
}

func TestArtifactURI(t *testing.T) {
	assert.Equal(t, "out/a.yaml", artifactURI("/repo", "/repo/out/a.yaml"))
	assert.Equal(t, "/elsewhere/a.yaml", artifactURI("/repo", "/elsewhere/a.yaml"))
	assert.Equal(t, "out/a.yaml", artifactURI("/repo", "out/a.yaml"))
}

func TestChecked(t *testing.T) {
	tests := []struct {
		value any
		want  bool
	}{
		{map[string]any{"apiVersion": "detour.dev/v1alpha1", "kind": "FailoverIntent"}, true},
		{map[string]any{"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule"}, true},
		{map[string]any{"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin"}, true},
		{map[string]any{"apiVersion": "networking.istio.io/v1"}, false},
		{map[string]any{"apiVersion": "detour.dev/v1alpha1", "kind": "Other"}, false},
		{map[string]any{"apiVersion": "apps/v1", "kind": "Deployment"}, false},
		{map[string]any{"apiVersion": "evil-istio.io/v1", "kind": "X"}, false},
		{map[string]any{"foo": "bar"}, false},
		{[]any{"x"}, false},
		{nil, false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, Document{Value: tc.value}.Checked(), "%v", tc.value)
	}
}

func TestTeamPolicyDirAddsNothing(t *testing.T) {
	empty := t.TempDir()
	_, err := New(context.Background(), Options{PolicyDirs: []string{empty}})
	require.ErrorContains(t, err, "policy directory "+empty+": no .rego files")

	other := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(other, "a.rego"), []byte("package team.rules\n\nwarn_x contains \"x\" if { false }\n"), 0o644))
	_, err = New(context.Background(), Options{PolicyDirs: []string{other}})
	require.ErrorContains(t, err, "no rules in package main (found package team.rules)")

	// One good directory does not excuse an empty one.
	_, err = New(context.Background(), Options{PolicyDirs: []string{"testdata/teampolicy", empty}})
	require.ErrorContains(t, err, "no .rego files")
	_, err = New(context.Background(), Options{PolicyDirs: []string{"testdata/teampolicy"}})
	require.NoError(t, err)
}

// TestCompiledOutputKeepsTheIntentsExceptions: a reviewed exception on an
// intent (a gRPC service retried on the opt-in) covers the resources
// compiled from it, which carry the annotation, and every suppressed
// finding is tallied with the reason.
func TestCompiledOutputKeepsTheIntentsExceptions(t *testing.T) {
	rep := check(t, Options{}, "../../compiler/testdata/validset/grpc-retry")
	assert.Zero(t, rep.Denials(), "%v", rep.Findings)
	require.NotEmpty(t, rep.Exceptions)
	kinds := map[string]bool{}
	for _, x := range rep.Exceptions {
		assert.Equal(t, "retry_non_idempotent", x.Rule)
		assert.Equal(t, "annotation", x.By)
		assert.Equal(t, "every method of the payments API carries an idempotency key", x.Reason)
		kinds[strings.Fields(x.Message)[1]] = true
	}
	assert.True(t, kinds["FailoverIntent"] && kinds["VirtualService"], "both the intent and its VirtualServices: %v", kinds)
}
