package explain

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/compiler/load"
	"github.com/detour-mesh/detour/internal/golden"
)

// TestTextGolden pins `detour explain`'s text for every example (both
// depths) and for hand-built intents that reach the verdicts the examples
// do not: unknown capacity and load, drops, a subset note, a ladder to
// nowhere. Regenerate with go test ./compiler/explain -run TestTextGolden -update.
func TestTextGolden(t *testing.T) {
	var b strings.Builder
	dirs, err := filepath.Glob("../../examples/*")
	require.NoError(t, err)
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "out")); err != nil {
			continue // not an example with compiled output
		}
		srcs, err := load.Paths(dir)
		require.NoError(t, err, dir)
		for _, s := range srcs {
			for depth := 1; depth <= 2; depth++ {
				b.WriteString("== " + filepath.Base(dir) + " depth " + string(rune('0'+depth)) + "\n")
				require.NoError(t, WriteText(&b, s.Intent, AnalyzeDepth(s.Intent, depth)))
			}
		}
	}

	unknown := mk(intent.ModeAuto, cl("east", "r1", "z1", 0, 0), cl("west", "r2", "z2", 500, 0), cl("south", "r3", "z3", 0, 200))
	unknown.Spec.Subsets = []intent.Subset{{Name: "v1"}, {Name: "v2", Clusters: []string{"west", "south"}}}
	strict := mk(intent.ModeWeighted, cl("stable", "r1", "z1", 1000, 200), cl("canary", "r1", "z2", 1000, 100))
	strict.Spec.Clusters[0].Weight, strict.Spec.Clusters[1].Weight = w(90), w(10)
	strict.Spec.Subsets = []intent.Subset{{Name: "v1"}} // one subset: no subset note
	nowhere := mk(intent.ModeWeighted, cl("a", "r1", "z1", 0, 0), cl("b", "r2", "z2", 0, 0))
	nowhere.Spec.Clusters[0].Weight, nowhere.Spec.Clusters[1].Weight = w(100), w(0)
	nowhere.Spec.Failover.HealthAware = true
	nowhere.Spec.Failover.Rules = []intent.Rule{{From: intent.Locality{Cluster: "b"}, None: true}}
	for _, c := range []struct {
		name string
		in   intent.Intent
	}{{"unknown capacity and load, a placed subset", unknown}, {"strict split drops", strict}, {"a ladder to nowhere", nowhere}} {
		b.WriteString("== " + c.name + "\n")
		require.NoError(t, WriteText(&b, c.in, Analyze(c.in)))
	}
	golden.Check(t, "testdata/text.golden", []byte(b.String()))
}
