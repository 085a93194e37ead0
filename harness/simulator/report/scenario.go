package report

import "github.com/detour-mesh/detour/harness/simulator/sim/scenario"

// The scenario's types the report reads: the fault timeline and the
// expectations (package scenario reads and validates them).
type (
	Fault  = scenario.Fault
	Target = scenario.Target
	Expect = scenario.Expect
)
