package main

import (
	"fmt"
	"io"
)

// runPolicy is a placeholder until the policy command lands.
func runPolicy(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "detour policy: not built yet")
	return exitUsage
}
