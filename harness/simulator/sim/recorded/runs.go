package recorded

import (
	"path/filepath"
	"strings"
)

// Dir is where the recordings live, from the repository's root.
const Dir = "harness/simulator/sim/testdata/xds"

// Run is a run whose generations are recorded: a scenario and the options
// that change what the generator is asked (paths from the repository's
// root). A run's recordings answer any variant of its scenario that asks
// nothing new: another seed, rate or duration, fewer faults, or a fault
// that leaves the same pods as one of the run's (the input holds the
// Kubernetes state, not the time).
type Run struct {
	Scenario string
	// Istio and Baseline are sim.Options' directories.
	Istio, Baseline string
	// Filters runs the detour run too (its configuration keeps the
	// WasmPlugins, so its input differs from the istio run's).
	Filters bool
}

// Runs are the runs harness/simulator/sim's tests replay.
var Runs = []Run{
	// The README's fleet drill: both clusters' sidecars, cluster-1's reviews
	// scaled to zero and back (EDS without and with its pods), beside Istio
	// as its documentation configures it.
	{Scenario: "examples/bookinfo/drills/local-scaled-to-zero.yaml", Filters: true, Baseline: "examples/bookinfo/baseline-istio-docs"},
	// The same over hand-written (here: compiled) Istio YAML (--istio).
	{Scenario: "examples/bookinfo/drills/local-scaled-to-zero.yaml", Istio: "examples/bookinfo/out"},
	// Pods returning cold, against Istio's slow start as a baseline column.
	{Scenario: "examples/bookinfo/drills/cold-recovery.yaml", Filters: true, Baseline: "examples/bookinfo/baseline-slow-start"},
	// The edge gateway (a router proxy), a zone's outage.
	{Scenario: "examples/edge-auto/drills/zone-down.yaml", Filters: true},
	// East-west gateways known by host name (resolved network gateways).
	{Scenario: "examples/eks-hostname/drills/east-down.yaml", Filters: true},
	// Active/standby.
	{Scenario: "examples/online-banking/drills/active-down.yaml", Filters: true},
	// A fleet at the edge whose sidecars have no WasmPlugins.
	{Scenario: "harness/simulator/sim/testdata/runs/edge-fleet.yaml", Filters: true},
	// A fleet with the service gone from every cluster (requests with no
	// upstream attempt).
	{Scenario: "harness/simulator/sim/testdata/runs/fleet-gone-everywhere.yaml"},
	// An edge gateway whose clusters' east-west gateways have host names.
	{Scenario: "harness/simulator/sim/testdata/runs/edge-hostname.yaml"},
}

// Summary is the golden file, from the repository's root, of a recorded
// drill's side-by-side summary (Options{Filters} alone): harness/simulator/sim
// replays the drill against it, harness/simulator/drills' drill table
// holds Istio's run to it, so the two agree to the byte.
func Summary(scenario string) string {
	example := filepath.Base(filepath.Dir(filepath.Dir(scenario)))
	return filepath.Join("harness/simulator/sim/testdata/golden/drills", example+"-"+strings.TrimSuffix(filepath.Base(scenario), ".yaml")+".txt")
}

// Summarised reports whether the drill table holds scenario (a path from
// the repository's root) to a Summary: an example drill run in Runs with
// the filters and the scenario's own configuration.
func Summarised(scenario string) bool {
	if !strings.HasPrefix(scenario, "examples/") {
		return false
	}
	for _, r := range Runs {
		if r.Scenario == scenario && r.Filters && r.Istio == "" {
			return true
		}
	}
	return false
}
