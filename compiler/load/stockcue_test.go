package load

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/internal/gotool"
)

// cueVet runs the stock cue CLI pinned in go.mod (go tool cue) on one YAML
// file against #Intent, from the schema module.
func cueVet(t *testing.T, file string) (string, error) {
	t.Helper()
	cueBin, err := gotool.Path("", "cue")
	require.NoError(t, err)
	abs, err := filepath.Abs(file)
	require.NoError(t, err)
	cmd := exec.Command(cueBin, "vet", "-c", "-d", "#Intent", "./detour", abs)
	cmd.Dir = "../../schemas"
	cmd.Env = append(os.Environ(), "CUE_REGISTRY=none")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// goOnly lists the fixtures only detour vet rejects, with the reason.
var goOnly = map[string]string{
	// cue vet checks each document of a stream on its own.
	"duplicate-intent": "one service twice in a stream",
	// CUE's YAML decoder unifies a repeated key with the first.
	"duplicate-key": "a key written twice with equal values",
}

// TestStockCUEAgrees runs every fixture through the stock cue CLI: the
// schema alone, without the Go loader, accepts the valid intents and
// rejects the invalid ones, so users' `cue vet` and `detour vet` agree.
func TestStockCUEAgrees(t *testing.T) {
	valid, err := filepath.Glob("testdata/valid/*.yaml")
	require.NoError(t, err)
	invalid, err := filepath.Glob("testdata/invalid/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, valid)
	require.GreaterOrEqual(t, len(invalid), 30, "the error table's fixtures")
	for _, f := range valid {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			out, err := cueVet(t, f)
			assert.NoError(t, err, out)
		})
	}
	for _, f := range invalid {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			out, err := cueVet(t, f)
			// The content of the file spec.compose names is read by
			// detour vet only; cue vet checks the path.
			if _, ok := goOnly[name]; ok || strings.HasPrefix(name, "compose-file-") {
				assert.NoError(t, err, "cue vet now rejects %s; remove it from goOnly:\n%s", name, out)
				return
			}
			require.Error(t, err, "cue vet accepts %s", f)
			// And for the same reason: the first problem detour vet
			// reports is in cue's output too (in cue's words where the
			// loader rephrases).
			_, lerr := Paths(f)
			require.Error(t, lerr)
			// Stock cue lists missing fields only for otherwise valid
			// values; compare the first other problem.
			errs := asErrors(lerr)
			msg := errs[0].Msg
			for _, e := range errs {
				if e.Msg != requiredMsg {
					msg = e.Msg
					break
				}
			}
			switch {
			case strings.HasPrefix(msg, "unknown field"):
				msg = "field not allowed"
			case strings.HasPrefix(msg, "invalid YAML: "):
				msg = strings.TrimPrefix(msg, "invalid YAML: ")
			case strings.HasPrefix(msg, "not a failover intent"):
				msg = "field not allowed"
			case strings.HasPrefix(msg, `must be "FailoverIntent", not`):
				msg = `must be "FailoverIntent"`
			case strings.HasPrefix(msg, "expected a FailoverIntent object"),
				strings.HasPrefix(msg, "must be a list"), strings.HasPrefix(msg, "must be an object"):
				msg = "mismatched types"
			}
			assert.Contains(t, out, msg)
		})
	}
}
