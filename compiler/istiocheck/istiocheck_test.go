package istiocheck

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// compiledFiles are every YAML file of every example's golden output.
func compiledFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir("../../examples", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("../../examples", p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if !d.IsDir() && len(parts) > 2 && parts[1] == "out" && strings.HasSuffix(p, ".yaml") {
			files = append(files, p)
		}
		return nil
	})
	require.NoError(t, err)
	// The compiled valid set of the loader's error table, longest names
	// included (compiler/validset_test.go writes it).
	err = filepath.WalkDir("../testdata/validset", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			files = append(files, p)
		}
		return err
	})
	require.NoError(t, err)
	sort.Strings(files)
	return files
}

// TestExamplesPassIstioValidation is the `istioctl validate` gate: every
// resource compiled from every example is accepted by Istio's own code.
func TestExamplesPassIstioValidation(t *testing.T) {
	files := compiledFiles(t)
	require.NotEmpty(t, files, "no compiled examples found under ../../examples/*/out")
	kinds := map[string]int{}
	seen := map[int]bool{}
	for _, f := range files {
		t.Run(strings.TrimPrefix(strings.TrimPrefix(filepath.ToSlash(f), "../../examples/"), "../"), func(t *testing.T) {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			results, err := ValidateBytes(b)
			require.NoError(t, err)
			require.NotEmpty(t, results)
			for _, r := range results {
				kinds[r.Kind]++
			}
			assert.Empty(t, unexpectedWarnings(results, seen), "Istio warns about compiled output; fix the compiler or list the warning in expectedWarnings with why")
		})
	}
	// The examples exercise every kind the compiler emits.
	for _, k := range []string{
		"networking.istio.io/v1/Gateway", "networking.istio.io/v1/DestinationRule",
		"networking.istio.io/v1/VirtualService", "networking.istio.io/v1/WorkloadEntry",
		"networking.istio.io/v1/ServiceEntry", "networking.istio.io/v1alpha3/EnvoyFilter",
		"extensions.istio.io/v1alpha1/WasmPlugin", "detour.dev/v1alpha1/FailoverIntent",
	} {
		assert.Positive(t, kinds[k], "no %s in the compiled examples", k)
	}
	for i, w := range expectedWarnings {
		assert.True(t, seen[i], "expected warning no longer seen, drop it from expectedWarnings: %s %q", w.kind, w.contains)
	}
}

// expectedWarnings are the Istio validation warnings compiled output may
// carry, each with why it is accepted. Any other warning fails the gate.
var expectedWarnings = []struct {
	kind, contains, why string
}{
	{
		kind: "networking.istio.io/v1alpha3/EnvoyFilter", contains: "EnvoyFilter exposes internal implementation details",
		why: "Istio warns on every EnvoyFilter; the compiler emits one only for knobs the Istio API lacks",
	},
	{
		kind: "networking.istio.io/v1/WorkloadEntry", contains: "address is unset with network",
		why: "a remote cluster whose east-west gateway is a host name: istiod puts the network's resolved gateway there (docs/intent.md, Host-name gateways)",
	},
}

// unexpectedWarnings returns "kind name: warning" for each warning of
// results that expectedWarnings does not list, and marks in seen the
// expectations that matched.
func unexpectedWarnings(results []Result, seen map[int]bool) []string {
	var out []string
	for _, r := range results {
	next:
		for _, w := range r.Warnings {
			for i, e := range expectedWarnings {
				if r.Kind == e.kind && strings.Contains(w, e.contains) {
					seen[i] = true
					continue next
				}
			}
			out = append(out, r.Kind+" "+r.Name+": "+w)
		}
	}
	return out
}

// TestUnexpectedWarningFails proves the warning gate can fail: Istio's
// warning for failover without outlier detection is not on the list.
func TestUnexpectedWarningFails(t *testing.T) {
	doc := "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: a, namespace: b}\n" +
		"spec: {host: a.b.svc.cluster.local, trafficPolicy: {loadBalancer: {localityLbSetting: {failover: [{from: r, to: r2}]}}}}\n"
	results, err := ValidateBytes([]byte(doc))
	require.NoError(t, err, "a warning, not an error")
	got := unexpectedWarnings(results, map[int]bool{})
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "networking.istio.io/v1/DestinationRule a: ")
	assert.Contains(t, got[0], "outlier detection policy must be provided for failover")
}

// TestValidateRejects proves the gate can fail.
func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{
			name: "unknown kind",
			doc:  "apiVersion: networking.istio.io/v1\nkind: VirtualServce\nmetadata: {name: a, namespace: b}\nspec: {}\n",
			want: "not an Istio resource",
		},
		{
			name: "misspelt field",
			doc:  "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: a, namespace: b}\nspec: {host: a.b.svc.cluster.local, trafficPolicy: {outlierDetecton: {}}}\n",
			want: "cannot parse spec",
		},
		{
			name: "semantic error",
			doc: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: a, namespace: b}\n" +
				"spec: {host: a.b.svc.cluster.local, trafficPolicy: {loadBalancer: {localityLbSetting: {distribute: [{from: 'r/z/*', to: {'r2/*': 100}}], failover: [{from: r, to: r2}]}}}}\n",
			want: "can not simultaneously specify 'distribute' and 'failover'",
		},
		{
			name: "bad wasm digest",
			doc:  "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: a, namespace: b}\nspec: {url: 'oci://x/y:1', sha256: abc}\n",
			want: "sha256",
		},
		{
			name: "unknown top-level field",
			doc:  "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: a, namespace: b}\nspec: {}\nspecs: {}\n",
			want: `unknown top-level field "specs"`,
		},
		{
			name: "second document bad",
			doc:  "apiVersion: detour.dev/v1alpha1\nkind: FailoverIntent\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: b}\n",
			want: "document 1 (v1/ConfigMap a)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ValidateBytes([]byte(tc.doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
