package main

import (
	"fmt"
	"io"
)

// runWasm is a placeholder until the wasm command lands.
func runWasm(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "detour wasm: not built yet")
	return exitUsage
}
