package main

import (
	"fmt"
	"io"
)

// runCompile is a placeholder until the compile command lands.
func runCompile(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "detour compile: not built yet")
	return exitUsage
}
