package main

import (
	"fmt"
	"io"
)

// runExplain is a placeholder until the explain command lands.
func runExplain(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "detour explain: not built yet")
	return exitUsage
}
