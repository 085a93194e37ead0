package xdsgen_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/xdsgen"
)

// TestClosedIstiodIsReleased: a simulation generates for many proxies in
// one process; a closed Istiod must leave nothing reachable behind (Istio's
// krt debug handler kept about 2 MB per start before Start replaced it).
func TestClosedIstiodIsReleased(t *testing.T) {
	in := xdsgen.Input{
		ControlPlane: xdsgen.ControlPlane{Config: reviewsDR, Clusters: []xdsgen.Cluster{reviews("c1")}},
		Proxy:        xdsgen.Proxy{Cluster: "c1", Namespace: "bookinfo"},
	}
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	_, err := xdsgen.Generate(context.Background(), in)
	require.NoError(t, err)
	before := heap()
	const n = 10
	for range n {
		_, err := xdsgen.Generate(context.Background(), in)
		require.NoError(t, err)
	}
	grown := int64(heap()) - int64(before)
	assert.Less(t, grown, int64(n*512<<10), "heap grew by %d KiB over %d generations", grown>>10, n)
}
