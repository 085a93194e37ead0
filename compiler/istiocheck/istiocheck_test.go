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
	for _, f := range files {
		t.Run(strings.TrimPrefix(strings.TrimPrefix(filepath.ToSlash(f), "../../examples/"), "../"), func(t *testing.T) {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			results, err := ValidateBytes(b)
			require.NoError(t, err)
			require.NotEmpty(t, results)
			for _, r := range results {
				kinds[r.Kind]++
				for _, w := range r.Warnings {
					t.Logf("warning: %s %s: %s", r.Kind, r.Name, w)
				}
			}
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
