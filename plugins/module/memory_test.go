package module_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
)

// initialPagesGoal bounds the module's initial linear memory (64 KiB
// pages). Go 1.26.0 started every module at ~550 pages (golang/go#78321, a
// 32 MiB BSS array); every worker VM pays it, so a regression must fail.
const initialPagesGoal = 64

func initialPages(t testing.TB) uint32 {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, wasm)
	require.NoError(t, err)
	m, ok := cm.ExportedMemories()["memory"]
	require.True(t, ok, "the module exports its memory")
	return m.Min()
}

func TestInitialMemoryWithinGoal(t *testing.T) {
	p := initialPages(t)
	t.Logf("initial memory: %d pages (%d KiB)", p, p*64)
	require.LessOrEqual(t, p, uint32(initialPagesGoal))
}
