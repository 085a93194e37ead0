package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
)

// simulator is the binary `detour simulate` runs. It links Istio's xDS
// generator, which the other commands do without (see RATIONALE.md).
const simulator = "detour-simulate"

// runSimulate hands the arguments to detour-simulate, as git and kubectl run
// their plugins: the user types `detour simulate` and sees its output and
// exit code.
func runSimulate(args []string, stdout, stderr io.Writer) int {
	self, _ := os.Executable()
	exe, err := findSimulator(self)
	if err != nil {
		fmt.Fprintf(stderr, "detour simulate: %v\n", err)
		return exitInvalid
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	// A terminal's Ctrl-C reaches both processes; detour-simulate decides
	// what it means, and detour reports its exit. A SIGTERM sent to detour
	// alone is passed on.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "detour simulate: %v\n", err)
		return exitInvalid
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGTERM {
					_ = cmd.Process.Signal(s)
				}
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()) // the shell's code for death by a signal
		}
		return ee.ExitCode()
	default:
		fmt.Fprintf(stderr, "detour simulate: %v\n", err)
		return exitInvalid
	}
}

// findSimulator looks for detour-simulate next to the detour executable
// self (where make install and a release archive put both), then on PATH.
func findSimulator(self string) (string, error) {
	if self != "" {
		if resolved, err := filepath.EvalSymlinks(self); err == nil {
			self = resolved
		}
		p := filepath.Join(filepath.Dir(self), simulator)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath(simulator); err == nil {
		return p, nil
	}
	where := "on PATH"
	if self != "" {
		where = "next to " + self + " or on PATH"
	}
	return "", fmt.Errorf("%s not found %s: it runs the drills and is installed with detour (make install, or go install github.com/detour-mesh/detour/cmd/detour-simulate at detour's version)", simulator, where)
}
