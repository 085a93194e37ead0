package scenario

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWarmUpParse(t *testing.T) {
	sc, err := Parse("s.yaml", []byte(minimal+"faults:\n  - kind: serviceScaledToZero\n    start: 10s\n    end: 20s\n    target: {cluster: c}\n    warmUp: {duration: 30s, capacity: 30%, latency: 200ms}\n"))
	require.NoError(t, err)
	assert.Equal(t, &WarmUp{Duration: 30 * time.Second, Capacity: 0.3, Latency: 200 * time.Millisecond}, sc.Faults[0].WarmUp)
	// Latency alone keeps the capacity whole.
	sc, err = Parse("s.yaml", []byte(minimal+"faults:\n  - {kind: clusterOutage, start: 10s, end: 20s, target: {cluster: c}, warmUp: {duration: 5s, latency: 1s}}\n"))
	require.NoError(t, err)
	assert.Equal(t, &WarmUp{Duration: 5 * time.Second, Capacity: 1, Latency: time.Second}, sc.Faults[0].WarmUp)
}

func TestWarmUpErrors(t *testing.T) {
	f := func(s string) string { return minimal + "faults:\n  - " + s + "\n" }
	tests := []struct{ name, yaml, want string }{
		{"unknown field", f("{kind: clusterOutage, start: 1s, end: 2s, target: {cluster: c}, warmUp: {duration: 5s, capacty: 30%}}"),
			"s.yaml:4:92: faults[0].warmUp.capacty: unknown field (expected one of capacity, duration, latency)"},
		{"no end", f("{kind: clusterOutage, start: 1s, target: {cluster: c}, warmUp: {duration: 5s, capacity: 30%}}"),
			"s.yaml:4:68: faults[0].warmUp: warmUp needs the fault's end"},
		{"wrong kind", f("{kind: errorRate, start: 1s, end: 2s, target: {cluster: c}, warmUp: {duration: 5s, capacity: 30%}}"),
			"faults[0].warmUp: warmUp applies to faults whose pods come back (serviceScaledToZero, clusterOutage, regionOutage), not errorRate"},
		{"flapping", f("{kind: clusterOutage, start: 1s, end: 30s, target: {cluster: c}, flap: {period: 10s, duty: 50%}, warmUp: {duration: 5s, capacity: 30%}}"),
			"faults[0].warmUp: warmUp starts at the fault's end; a flapping fault has no single return"},
		{"no duration", f("{kind: clusterOutage, start: 1s, end: 2s, target: {cluster: c}, warmUp: {capacity: 30%}}"),
			"faults[0].warmUp.duration: expected a positive duration such as 30s"},
		{"bad duration", f("{kind: clusterOutage, start: 1s, end: 2s, target: {cluster: c}, warmUp: {duration: soon, capacity: 30%}}"),
			`s.yaml:4:88: faults[0].warmUp.duration: expected a non-negative duration such as 250ms or 30s, got "soon"`},
		{"zero capacity", f("{kind: clusterOutage, start: 1s, end: 2s, target: {cluster: c}, warmUp: {duration: 5s, capacity: 0%}}"),
			"s.yaml:4:102: faults[0].warmUp.capacity: expected a capacity above 0%"},
		{"capacity over 100", f("{kind: clusterOutage, start: 1s, end: 2s, target: {cluster: c}, warmUp: {duration: 5s, capacity: 130%}}"),
			"faults[0].warmUp.capacity: expected a percentage from 0% to 100%"},
		{"nothing to warm", f("{kind: clusterOutage, start: 1s, end: 2s, target: {cluster: c}, warmUp: {duration: 5s}}"),
			"faults[0].warmUp: expected capacity (such as 30%) and/or latency (such as 200ms)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(tc.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestWarming(t *testing.T) {
	s := time.Second
	f := Fault{Start: 10 * s, End: 20 * s, WarmUp: &WarmUp{Duration: 30 * s, Capacity: 0.3, Latency: 200 * time.Millisecond}}
	for _, c := range []struct {
		at       time.Duration
		capacity float64
		latency  time.Duration
		ok       bool
	}{
		{15 * s, 1, 0, false}, // during the fault: the fault decides
		{20 * s, 0.3, 200 * time.Millisecond, true},
		{35 * s, 0.65, 100 * time.Millisecond, true},
		{50 * s, 1, 0, false},
	} {
		capacity, latency, ok := f.Warming(c.at)
		assert.InDelta(t, c.capacity, capacity, 1e-9, c.at)
		assert.Equal(t, c.latency, latency, c.at)
		assert.Equal(t, c.ok, ok, c.at)
	}
	_, _, ok := (&Fault{End: 20 * s}).Warming(25 * s)
	assert.False(t, ok, "no warm-up configured")
}

func TestFleetParse(t *testing.T) {
	sc, err := Parse("s.yaml", []byte("intent: a\ntraffic: {entry: cluster-1, sources: {cluster-2: 300, cluster-3: 0}}\n"))
	require.NoError(t, err)
	assert.True(t, sc.Traffic.Fleet)
	assert.False(t, sc.Traffic.RateSet)
	assert.Equal(t, []Weighted{{"cluster-2", 300}, {"cluster-3", 0}}, sc.Traffic.Sources)
	r, ok := sc.Traffic.Source("cluster-2")
	assert.True(t, ok)
	assert.Equal(t, 300.0, r)
	sc, err = Parse("s.yaml", []byte("intent: a\ntraffic: {entry: cluster-1, rate: 5, fleet: true}\n"))
	require.NoError(t, err)
	assert.True(t, sc.Traffic.Fleet)
	assert.True(t, sc.Traffic.RateSet)
	for _, c := range []struct{ yaml, want string }{
		{"intent: a\ntraffic: {entry: c, fleet: yes}\n", `s.yaml:2:28: traffic.fleet: expected true or false, got "yes"`},
		{"intent: a\ntraffic: {entry: c, sources: {c2: lots}}\n", `s.yaml:2:35: traffic.sources.c2: expected a number from 0 to 1e+06, got "lots"`},
		{"intent: a\ntraffic: {entry: c, sources: {C2: 1}}\n", `traffic.sources.C2: expected a DNS label`},
		{"intent: a\ntraffic: {entry: c, duration: 24h, sources: {c2: 1000}}\n", `traffic.sources: the sources' rate × duration is 86400000 requests; expected at most 50 million`},
	} {
		_, err := Parse("s.yaml", []byte(c.yaml))
		require.Error(t, err, c.yaml)
		assert.Contains(t, err.Error(), c.want)
	}
}
