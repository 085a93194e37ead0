package sim

import "github.com/detour-mesh/detour/harness/simulator/report"

// The report's types (package report computes the report from a run's
// records; it does not link Istio).
type (
	Report         = report.Report
	RunReport      = report.RunReport
	FaultReport    = report.FaultReport
	FaultResult    = report.FaultResult
	RequestRecord  = report.RequestRecord
	AttemptRecord  = report.AttemptRecord
	Event          = report.Event
	Transition     = report.Transition
	Expectation    = report.Expectation
	FailbackReport = report.FailbackReport
	FleetReport    = report.FleetReport
	SourceReport   = report.SourceReport
)

// Run names.
const (
	RunIstio    = report.RunIstio
	RunBaseline = report.RunBaseline
	RunDetour   = report.RunDetour
)

// IsUserVisibleError: the user got no response, or a 4xx/5xx.
func IsUserVisibleError(status int) bool { return report.IsUserVisibleError(status) }
