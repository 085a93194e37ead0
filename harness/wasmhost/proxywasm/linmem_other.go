//go:build !linux

package proxywasm

import "context"

// withLinearMemory keeps wazero's own linear memory (grown by copying)
// where the reserved mapping of linmem_linux.go is not implemented.
func withLinearMemory(ctx context.Context) context.Context { return ctx }
