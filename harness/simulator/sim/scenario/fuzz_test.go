package scenario

import "testing"

// FuzzParse: no input makes the scenario parser panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal + "faults:\n  - {kind: errorRate, start: 1s, end: 2s, rate: 50%, target: {cluster: c, share: 10%}, flap: {period: 1s, duty: 50%}}\n"))
	f.Add([]byte("istio: d\nservice: {name: s}\ntopology: {clusters: [{name: c, services: [{name: s, subsets: {v1: 2}}]}]}\ntraffic: {entry: edge}\n"))
	f.Add([]byte("traffic: {methods: {GET: x}}\nexpect: {maxCrossRegionShare: 101%}"))
	f.Add([]byte("a: &x [*x]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		Parse("fuzz.yaml", b)
	})
}
