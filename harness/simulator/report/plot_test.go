package report

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/detour-mesh/detour/harness/simulator/timeline"
)

// The timeline is the report drawn: one panel per run, a fault without an
// end spans to the run's end (-1), the share series per cluster in the
// report's order ("none" muted), per second the errors and latency, the
// filters' transitions as marks and returns as failback lanes, and a
// fleet's other sources (not the entry, which has no seconds of its own)
// with their shares, 0 past their last second.
func TestPlotIsTheReport(t *testing.T) {
	end := 2.0
	r := &Report{Scenario: "s", Seed: 7, DurationS: 3, Entry: "edge gateway",
		Faults: []FaultReport{{Name: "f", StartS: 1, EndS: &end}, {Name: "g", StartS: 2}},
		Runs: []RunReport{
			{Name: "istio", Requests: 3, UserVisibleErrors: 1, Clusters: []string{"c1", "none"},
				Seconds: []Second{
					{T: 0, Share: []float64{1, 0}, P50Ms: 5, P99Ms: 9},
					{T: 1, Share: []float64{0.5, 0.5}, Errors: 1, P50Ms: 6, P99Ms: 20},
					{T: 2, Share: []float64{0, 1}, Errors: 3, P50Ms: 7, P99Ms: 30},
				}},
			{Name: "detour", Requests: 3, UserVisibleErrors: 2, Clusters: []string{"c1", "none"},
				Seconds: []Second{
					{T: 0, Share: []float64{1, 0}},
					{T: 1, Share: []float64{1, 0}},
					{T: 2, Share: []float64{0.25, 0.75}, Errors: 2},
				},
				Transitions: []Transition{{AtS: 1.2, To: "FAILED_OVER"}, {AtS: 2.4, To: "PRIMARY"}},
				Failbacks: []FailbackReport{{Target: "c1", StartS: 2, HoldDownEndS: 2.5, EndS: 3,
					Steps: []RampStep{{AtS: 2.5, Percent: 50}, {AtS: 2.75, Percent: 100}}}},
				Fleet: &FleetReport{Sources: []SourceReport{
					{Cluster: "c1", Rate: 10},
					{Cluster: "c2", Rate: 20, UserVisibleErrors: 1, Seconds: []SourceSecond{{T: 0, Share: []float64{0.25, 0.75}}}},
					{Cluster: "c3", Rate: 2.5, UserVisibleErrors: 4, Seconds: []SourceSecond{{T: 0, Share: []float64{1}}, {T: 1, Share: []float64{0, 1}}}},
				}}},
		}}
	spans := []timeline.Span{{Label: "f", Start: 1, End: 2}, {Label: "g", Start: 2, End: -1}}
	assert.Equal(t, timeline.Plot{Title: "s", Subtitle: "seed 7 · 3s · entry edge gateway", Step: 1, Duration: 3,
		Panels: []timeline.Panel{
			{Title: "istio", Note: "1 user-visible error of 3 requests", Faults: spans,
				Series: []timeline.Series{{Name: "c1", Share: []float64{1, 0.5, 0}}, {Name: "none", Muted: true, Share: []float64{0, 0.5, 1}}},
				Errors: []float64{0, 1, 3}, LatencyP50: []float64{5, 6, 7}, LatencyP99: []float64{9, 20, 30}},
			{Title: "detour", Note: "2 user-visible errors of 3 requests", Faults: spans,
				Series: []timeline.Series{{Name: "c1", Share: []float64{1, 1, 0.25}}, {Name: "none", Muted: true, Share: []float64{0, 0, 0.75}}},
				Errors: []float64{0, 0, 2}, LatencyP50: []float64{0, 0, 0}, LatencyP99: []float64{0, 0, 0},
				Marks: []timeline.Mark{{At: 1.2, Label: "FAILED_OVER"}, {At: 2.4, Label: "PRIMARY"}},
				Failbacks: []timeline.Failback{{Label: "c1", Start: 2, HoldEnd: 2.5, End: 3,
					Steps: []timeline.Step{{At: 2.5, Percent: 50}, {At: 2.75, Percent: 100}}}},
				Sources: []timeline.Source{
					// c2's one second: its first cluster's share, then 0.
					{Title: "from c2", Note: "20 rps · 1 user-visible error",
						Series: []timeline.Series{{Name: "c1", Share: []float64{0.25, 0, 0}}, {Name: "none", Muted: true, Share: []float64{0.75, 0, 0}}}},
					// c3's seconds name one cluster, then two: what is missing is 0.
					{Title: "from c3", Note: "2.5 rps · 4 user-visible errors",
						Series: []timeline.Series{{Name: "c1", Share: []float64{1, 0, 0}}, {Name: "none", Muted: true, Share: []float64{0, 1, 0}}}},
				}},
		}}, r.Plot())
}
