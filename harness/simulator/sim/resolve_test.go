package sim

import (
	"os"
	"path/filepath"
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

// --istio DIR: each target's file is the first of DIR/<target>.yaml,
// DIR/clusters/<target>.yaml and DIR/<ns>/<name>/clusters/<target>.yaml
// (the edge: DIR/edge.yaml, then DIR/<ns>/<name>/edge.yaml); the run's
// errors name the file read.
func TestReadIstioLayouts(t *testing.T) {
	sc := scenarioFile(t, "traffic: {entry: cluster-1}\n")
	write := func(dir, rel, body string) string {
		p := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	dir := t.TempDir()
	nested := write(dir, "bookinfo/reviews/clusters/cluster-1.yaml", "kind: Nested\n")
	write(dir, "bookinfo/reviews/clusters/cluster-2.yaml", "kind: Nested\n")
	nestedEdge := write(dir, "bookinfo/reviews/edge.yaml", "kind: NestedEdge\n")
	s, err := resolve(sc, dir)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"cluster-1": nested, "cluster-2": filepath.Join(dir, "bookinfo/reviews/clusters/cluster-2.yaml"), EdgeTarget: nestedEdge}, s.configPath)
	assert.Equal(t, "kind: Nested\n", s.config["cluster-1"])
	assert.Equal(t, "istio "+dir, s.source)
	assert.Equal(t, nested, s.configName("cluster-1"))

	clusters := write(dir, "clusters/cluster-1.yaml", "kind: Clusters\n")
	s, err = resolve(sc, dir)
	require.NoError(t, err)
	assert.Equal(t, clusters, s.configPath["cluster-1"], "clusters/ before <ns>/<name>/clusters/")
	assert.Equal(t, "kind: Clusters\n", s.config["cluster-1"])

	top := write(dir, "cluster-1.yaml", "kind: Top\n")
	edge := write(dir, "edge.yaml", "kind: Edge\n")
	s, err = resolve(sc, dir)
	require.NoError(t, err)
	assert.Equal(t, top, s.configPath["cluster-1"], "the directory's own file first")
	assert.Equal(t, edge, s.configPath[EdgeTarget])

	_, err = resolve(sc, t.TempDir())
	assert.ErrorContains(t, err, "drill.yaml: istio: no <cluster>.yaml or edge.yaml in ")
	odd := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(odd, "cluster-1.yaml"), 0o755))
	_, err = resolve(sc, odd)
	assert.ErrorContains(t, err, "is a directory", "an unreadable file is an error, not a missing one")

	// Compiled: the names the generator's errors give.
	s, err = resolve(sc, "")
	require.NoError(t, err)
	assert.Equal(t, "compiled "+sc.Intent, s.source)
	assert.Equal(t, "cluster-1.yaml (compiled)", s.configName("cluster-1"))
	assert.Equal(t, "edge.yaml (compiled)", s.configName(EdgeTarget))
}
