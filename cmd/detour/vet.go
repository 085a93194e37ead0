package main

import (
	"fmt"
	"io"
)

// runVet is a placeholder until the vet command lands.
func runVet(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "detour vet: not built yet")
	return exitUsage
}
