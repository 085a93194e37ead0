package httpsim_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkGatewayNoopStream is one whole stream through the gateway with
// one no-op filter: the unit of work of a simulated drill.
func BenchmarkGatewayNoopStream(b *testing.B) {
	e := newEnv(b, 1, filter{name: "noop", config: "noop"})
	e.p.Trace = nil
	req := get(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := e.g.Send(req)
		e.p.Clock.RunPending()
		if !s.Complete {
			b.Fatal("stream did not complete")
		}
	}
	b.StopTimer()
	require.Empty(b, e.p.Traps())
}
