package drills

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/compiler/explain"
	"github.com/detour-mesh/detour/compiler/load"
	"github.com/detour-mesh/detour/harness/simulator/sim"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen"
)

// Explain and simulate agree: every row of detour explain's what-if table,
// for every example intent, becomes a short fleet drill (every cluster's
// sidecars at their load, or the edge with all of it for a weighted edge
// intent; the row's clusters down from 3 s), and the simulation's verdict matches explain's: absorbed, no overflow error once
// the fleet settled; overloaded, overflow; traffic dropped, user-visible
// errors.
func TestExplainAgreesWithFleetDrills(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../../examples/*/intent.yaml")
	require.NoError(t, err)
	cues, err := filepath.Glob("../../../examples/*/intent.cue")
	require.NoError(t, err)
	files = append(files, cues...)
	require.NotEmpty(t, files)
	for _, file := range files {
		abs, err := filepath.Abs(file)
		require.NoError(t, err)
		srcs, err := load.Paths(abs)
		require.NoError(t, err)
		in := srcs[0].Intent
		entry := in.Spec.Clusters[0].Name
		for _, c := range in.Spec.Clusters {
			if c.Load != nil {
				entry = c.Name
				break
			}
		}
		if in.Spec.Entry.Edge != nil && in.Spec.Failover.Mode == "weighted" {
			// A weighted split is compiled for the edge gateway alone (the
			// sidecars keep Istio's locality ladder), so explain's ladders
			// are the edge's: the intent's loads arrive there. With the
			// sidecars sending instead, losing cluster-1 of
			// canary-health-aware drops its callers' traffic where explain
			// says the canary is OVERLOADED: the drill, not explain, was
			// wrong.
			entry = "edge"
		}
		example := filepath.Base(filepath.Dir(file))
		for _, loss := range explain.Analyze(in).WhatIf {
			t.Run(example+"/"+loss.Lost.Kind+"-"+loss.Lost.Name, func(t *testing.T) {
				t.Parallel()
				var y strings.Builder
				fmt.Fprintf(&y, "intent: %s\ntraffic: {entry: %s, fleet: true, duration: 15s, seed: 1}\n", abs, entry)
				y.WriteString(topologies[example])
				y.WriteString("faults:\n")
				for _, c := range loss.Lost.Clusters {
					fmt.Fprintf(&y, "  - {name: lost-%s, kind: clusterOutage, start: 3s, target: {cluster: %s}}\n", c, c)
				}
				sc, err := sim.Parse(filepath.Join(filepath.Dir(abs), "agree.yaml"), []byte(y.String()))
				require.NoError(t, err)
				rep, err := sim.Run(context.Background(), sc, sim.Options{Generate: xdsgen.Generate})
				require.NoError(t, err)
				fl := rep.Runs[0].Fleet
				require.NotNil(t, fl)
				got := fl.Faults[0]
				switch {
				case len(loss.Stranded) > 0:
					require.Positive(t, got.UserVisibleErrors, "explain: traffic of %v dropped; the drill shows no errors (%+v)", loss.Stranded, got)
				case len(loss.Overloaded) > 0:
					require.Positive(t, got.OverflowErrors, "explain: %v OVERLOADED; the drill shows no overflow (%+v)", loss.Overloaded, got)
				default:
					require.Zero(t, got.OverflowErrors, "explain: absorbed (%+v); the drill overflows (%+v)", loss.Load, got)
				}
			})
		}
	}
}

// topologies give examples the pods their routes need. The simulator
// spreads an intent's pods evenly over its subsets; canary-team-routes
// sends 90 % of its traffic to v1, so with 2 of 4 pods per cluster on v1
// the survivor's v1 pods got 495 rps against 300 and overflowed, where
// explain (cluster capacity 600, 550 after the loss) says absorbed. The
// capacity in the intent is for the cluster's traffic mix, so the drill
// was wrong: sized as the routes need (7 of 8 pods on v1) it agrees.
var topologies = map[string]string{
	"canary-team-routes": "topology:\n  clusters:\n" +
		"    - {name: cluster-1, services: [{name: reviews, subsets: {v1: 7, v2: 1}}]}\n" +
		"    - {name: cluster-2, services: [{name: reviews, subsets: {v1: 7, v2: 1}}]}\n",
}
