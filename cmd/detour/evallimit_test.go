package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEvaluationBombCLI: vet and policy answer a CUE evaluation bomb with
// file:1:1: evaluation exceeded … and exit 1. Each runs in a child process:
// the abandoned evaluation runs until its process exits, as the CLI's does.
func TestEvaluationBombCLI(t *testing.T) {
	dir := t.TempDir()
	bomb := filepath.Join(dir, "bomb.cue")
	require.NoError(t, os.WriteFile(bomb, []byte("import \"list\"\n\nx: [for i in list.Range(0, 100000000, 1) {i}]\n"), 0o644))
	for _, args := range [][]string{
		{"vet", "--timeout", "1s", bomb},
		{"policy", "--timeout", "1s", bomb},
	} {
		t.Run(args[0], func(t *testing.T) {
			// A backstop only: the child's own --timeout ends it.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestEvaluationBombCLIChild$")
			cmd.Env = append(os.Environ(), "DETOUR_CLI_ARGS="+strings.Join(args, "\x1f"))
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee), "exit status: %v; stderr: %s", err, stderr.String())
			assert.Equal(t, exitInvalid, ee.ExitCode(), stderr.String())
			assert.Contains(t, stderr.String(), bomb+":1:1: evaluation exceeded the time limit of 1s (--timeout raises it)")
			assert.NotContains(t, stdout.String(), "PASS")
		})
	}
	t.Run("bad timeout", func(t *testing.T) {
		var out, errb strings.Builder
		assert.Equal(t, exitUsage, run([]string{"vet", "--timeout", "0s", bomb}, &out, &errb))
		assert.Contains(t, errb.String(), "--timeout: expected a positive duration")
	})
}

func TestEvaluationBombCLIChild(t *testing.T) {
	args := os.Getenv("DETOUR_CLI_ARGS")
	if args == "" {
		return // run only as TestEvaluationBombCLI's child
	}
	os.Exit(run(strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
}
