package sim

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWithoutKinds(t *testing.T) {
	b, err := os.ReadFile("../../../examples/bookinfo/out/bookinfo/reviews/clusters/cluster-1.yaml")
	require.NoError(t, err)
	in := string(b)
	require.Contains(t, in, "kind: WasmPlugin")
	out := withoutKinds(in, "WasmPlugin")
	assert.NotContains(t, out, "kind: WasmPlugin")
	for _, k := range []string{"Gateway", "WorkloadEntry", "DestinationRule", "VirtualService"} {
		assert.Equal(t, strings.Count(in, "\nkind: "+k+"\n"), strings.Count(out, "\nkind: "+k+"\n"), k)
	}
	assert.Equal(t, "kind: A\n---\nkind: C\n", withoutKinds("kind: A\n---\nkind: B\n---\nkind: C\n", "B"))
}
