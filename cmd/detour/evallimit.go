package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/detour-mesh/detour/compiler/load"
)

// evalTimeoutFlag is --timeout, the wall time one CUE file or package may
// take to evaluate; apply sets it for the loader, or reports a bad value.
func evalTimeoutFlag(fs *flag.FlagSet, cmd string) (apply func(stderr io.Writer) bool) {
	d := fs.Duration("timeout", load.Limits.Timeout, "stop evaluating a CUE file or package after `DURATION` (file:1:1: evaluation exceeded …)")
	return func(stderr io.Writer) bool {
		if *d <= 0 {
			fmt.Fprintf(stderr, "detour %s: --timeout: expected a positive duration, got %s\n", cmd, *d)
			return false
		}
		load.Limits.Timeout = *d
		return true
	}
}
