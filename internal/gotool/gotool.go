// Package gotool finds the command-line tools pinned with `tool` directives
// (cue, opa, conftest), so tests run the very stock tools users run, at the
// versions the go.mod files pin, with nothing installed beforehand.
package gotool

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
)

var (
	mu    sync.Mutex
	paths = map[[2]string]string{}
)

// Path returns the executable of the tool name pinned in the go.mod that
// governs dir ("" for the current directory), building it on first use. The
// result is cached for the process: `go tool -n` costs a build-cache lookup.
func Path(dir, name string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	key := [2]string{dir, name}
	if p, ok := paths[key]; ok {
		return p, nil
	}
	args := []string{"tool", "-n", name}
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = strings.TrimSpace(string(ee.Stderr))
		}
		return "", fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, stderr)
	}
	p := strings.TrimSpace(string(out))
	paths[key] = p
	return p, nil
}
