package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/compiler"
)

// TestMain lets a test run this binary as the detour command, so a real
// process can be signalled.
func TestMain(m *testing.M) {
	if os.Getenv("DETOUR_TEST_AS_DETOUR") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// A compile signalled while it writes leaves the previous output as it was
// and nothing beside it. The signal is sent once the temporary directory
// exists (the moment that used to leave debris), so the outcome is either
// interrupted (exit 130, old output) or, if the write won the race, done
// (exit 0, new output); never a half-written directory.
func TestCompileSignalledMidWrite(t *testing.T) {
	src, err := os.ReadFile("../../examples/bookinfo/intent.yaml")
	require.NoError(t, err)
	in := t.TempDir()
	for i := range 150 { // enough files that the write takes a while
		b := strings.Replace(string(src), "name: reviews", fmt.Sprintf("name: reviews-%d", i), 1)
		require.NoError(t, os.WriteFile(filepath.Join(in, fmt.Sprintf("i%03d.yaml", i)), []byte(b), 0o644))
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			parent := t.TempDir()
			out := filepath.Join(parent, "out")
			require.NoError(t, os.MkdirAll(out, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(out, compiler.Marker), nil, 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(out, "old"), []byte("old"), 0o644))

			cmd := exec.Command(os.Args[0], "compile", "-o", out, in)
			cmd.Env = append(os.Environ(), "DETOUR_TEST_AS_DETOUR=1")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			require.NoError(t, cmd.Start())
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var werr error
		wait:
			for {
				select {
				case werr = <-done:
					break wait
				default:
				}
				if tmps, _ := filepath.Glob(filepath.Join(parent, ".out.tmp-*")); len(tmps) > 0 {
					require.NoError(t, cmd.Process.Signal(sig))
					werr = <-done
					break
				}
				time.Sleep(100 * time.Microsecond) // polling for the temporary directory, not a timing assertion
			}

			var exit *exec.ExitError
			switch {
			case werr == nil:
				t.Log("the write finished before the signal")
				_, err := os.Stat(filepath.Join(out, "bookinfo/reviews-0/intent.yaml"))
				assert.NoError(t, err)
			case errors.As(werr, &exit) && exit.ExitCode() == exitInterrupted:
				assert.Contains(t, stderr.String(), "interrupted; nothing written")
				b, err := os.ReadFile(filepath.Join(out, "old"))
				require.NoError(t, err, "the previous output is untouched")
				assert.Equal(t, "old", string(b))
			default:
				t.Fatalf("compile: %v\n%s", werr, stderr.String())
			}
			assert.Equal(t, []string{"out"}, dirNames(t, parent), "nothing left beside the output")
		})
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}
