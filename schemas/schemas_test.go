package schemas

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/internal/gotool"
)

// cueCLI returns the stock cue CLI pinned in go.mod (go tool cue).
func cueCLI(t *testing.T) string {
	t.Helper()
	p, err := gotool.Path("", "cue")
	require.NoError(t, err)
	return p
}

// runCUE runs the cue CLI in dir and returns its combined output.
func runCUE(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(cueCLI(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CUE_REGISTRY=none") // never reach a registry
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var intentRE = regexp.MustCompile(`(?m)^kind:\s*FailoverIntent\s*$`)

func TestStockCUEOnSchemas(t *testing.T) {
	for _, args := range [][]string{
		{"vet", "-c", "./..."},
		{"fmt", "--check", "./detour/..."},
		{"export", "./detour"},
	} {
		out, err := runCUE(t, ".", args...)
		assert.NoError(t, err, "cue %s:\n%s", strings.Join(args, " "), out)
	}
}

// TestStockCUEOnExamples vets and exports every example with the stock CLI
// from the repository root, whose cue.mod replaces detour.dev/schemas with
// ./schemas: YAML intents against #Intent, CUE intents as packages.
func TestStockCUEOnExamples(t *testing.T) {
	dirs, err := filepath.Glob("../examples/*")
	require.NoError(t, err)
	checked := 0
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		rel := filepath.ToSlash(strings.TrimPrefix(dir, "../"))
		yamls, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, y := range yamls {
			// Examples also hold CI configuration; only intents are vetted.
			if b, err := os.ReadFile(y); err != nil || !intentRE.Match(b) {
				continue
			}
			f := filepath.ToSlash(strings.TrimPrefix(y, "../"))
			for _, args := range [][]string{
				{"vet", "-c", "-d", "#Intent", IntentPackage, f},
				{"export", "-d", "#Intent", IntentPackage, f},
			} {
				out, err := runCUE(t, "..", args...)
				assert.NoError(t, err, "cue %s:\n%s", strings.Join(args, " "), out)
			}
			checked++
		}
		if cues, _ := filepath.Glob(filepath.Join(dir, "*.cue")); len(cues) > 0 {
			for _, args := range [][]string{{"vet", "-c", "./" + rel}, {"export", "./" + rel}} {
				out, err := runCUE(t, "..", args...)
				assert.NoError(t, err, "cue %s:\n%s", strings.Join(args, " "), out)
			}
			checked++
		}
	}
	// Every example folder holds an intent (YAML or CUE): a glob that
	// matches nothing must not pass silently.
	require.GreaterOrEqual(t, checked, 6, "example intents checked")
}

// TestIstioDefinitionsUpToDate regenerates the Istio definitions the way
// `make schemas` does and fails if the committed files differ.
func TestIstioDefinitionsUpToDate(t *testing.T) {
	cueCLI(t) // build the pinned CLI before the script asks for it
	out := t.TempDir()
	cmd := exec.Command("sh", "istio/generate.sh", out)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "istio/generate.sh:\n%s", b)

	want := cueFiles(t, out)
	got := cueFiles(t, "istio")
	require.NotEmpty(t, want)
	for name, w := range want {
		g, ok := got[name]
		if !assert.True(t, ok, "istio/%s is missing; run make schemas", name) {
			continue
		}
		assert.True(t, w == g, "istio/%s differs from cue get crd output; run make schemas", name)
	}
	for name := range got {
		_, ok := want[name]
		assert.True(t, ok, "istio/%s is not generated any more; run make schemas", name)
	}
}

func cueFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".cue" {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	require.NoError(t, err)
	return files
}

// TestEmbedded checks the binary embeds the module the CLI validates.
func TestEmbedded(t *testing.T) {
	for _, p := range []string{"cue.mod/module.cue", "detour/intent.cue", "istio/networking/v1/destinationrule.cue"} {
		want, err := os.ReadFile(p)
		require.NoError(t, err)
		got, err := fs.ReadFile(FS, p)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), p)
	}
}
