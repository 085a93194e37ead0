package config

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func valid() Config {
	return Config{
		Version: Version,
		Service: Service{Host: "reviews.bookinfo.svc.cluster.local", Port: 9080},
		Local:   "east",
		Mode:    ModeAuto,
		Targets: []Target{
			{Cluster: "east", Priority: 0, Weight: 100, Region: "r1", Zone: "z1"},
			{Cluster: "west", Priority: 1, Weight: 100, Region: "r2", Zone: "z2"},
		},
		Headers:   Headers{Cluster: HeaderCluster, Cell: HeaderCell},
		Detection: Detection{Consecutive5xx: 5, IntervalMs: 5000, BaseEjectionMs: 30000, MaxEjectionPercent: 100},
		Retry:     Retry{Attempts: 2, PerTryTimeoutMs: 1000, RetryOn: []string{"reset"}, Methods: []string{"GET"}, BudgetPercent: 20},
		Failback:  Failback{HoldDownMs: 60000, MinHealthyShare: 50, Ramp: []uint32{10, 50, 100}, StepIntervalMs: 30000},
	}
}

func TestParseRoundTrip(t *testing.T) {
	data, err := json.Marshal(valid())
	require.NoError(t, err)
	got, err := Parse(data)
	require.NoError(t, err)
	assert.Equal(t, valid(), got)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		raw    string
		want   string
	}{
		{name: "unknown field", raw: `{"version":"v1","bogus":1}`, want: `unknown field "bogus"`},
		{name: "trailing data", raw: `{"version":"v1"} {}`, want: "trailing data"},
		{name: "not json", raw: `version: v1`, want: "plugin config: invalid character"},
		{name: "wrong version", mutate: func(c *Config) { c.Version = "v0" }, want: `version: got "v0", want "v1"`},
		{name: "no host", mutate: func(c *Config) { c.Service.Host = "" }, want: "service.host"},
		{name: "bad port", mutate: func(c *Config) { c.Service.Port = 70000 }, want: "service.port: 70000"},
		{name: "no headers", mutate: func(c *Config) { c.Headers.Cell = "" }, want: "headers"},
		{name: "bad header", mutate: func(c *Config) { c.Headers.Cluster = "X-Detour" }, want: "lower-case header names"},
		{name: "no targets", mutate: func(c *Config) { c.Targets = nil }, want: "targets: at least one"},
		{name: "bad mode", mutate: func(c *Config) { c.Mode = "random" }, want: `mode: "random"`},
		{name: "empty target", mutate: func(c *Config) { c.Targets[1].Cluster = "" }, want: "targets[1].cluster: must not be empty"},
		{name: "duplicate target", mutate: func(c *Config) { c.Targets[1].Cluster = "east" }, want: `targets[1].cluster: "east" is listed twice`},
		{name: "priority order", mutate: func(c *Config) { c.Targets[0].Priority = 2 }, want: "targets[1].priority: 1 after 2"},
		{name: "weight", mutate: func(c *Config) { c.Targets[0].Weight = 101 }, want: "targets[0].weight"},
		{name: "ejection", mutate: func(c *Config) { c.Detection.MaxEjectionPercent = 150 }, want: "detection.maxEjectionPercent"},
		{name: "budget", mutate: func(c *Config) { c.Retry.BudgetPercent = -1 }, want: "retry.budgetPercent"},
		{name: "ramp order", mutate: func(c *Config) { c.Failback.Ramp = []uint32{50, 10, 100} }, want: "failback.ramp[1]"},
		{name: "ramp end", mutate: func(c *Config) { c.Failback.Ramp = []uint32{10, 50} }, want: "last step must be 100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(tc.raw)
			if tc.mutate != nil {
				c := valid()
				tc.mutate(&c)
				var err error
				raw, err = json.Marshal(c)
				require.NoError(t, err)
			}
			_, err := Parse(raw)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// FuzzParse checks that no input makes Parse panic and that whatever it
// accepts survives a round trip unchanged.
func FuzzParse(f *testing.F) {
	seed, _ := json.Marshal(valid())
	f.Add(seed)
	f.Add([]byte(`{"version":"v1"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(c)
		require.NoError(t, err)
		c2, err := Parse(again)
		require.NoError(t, err)
		assert.Equal(t, c, c2)
	})
}
