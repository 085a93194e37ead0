package exchange

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseErrors(t *testing.T) {
	const req = "requests:\n  - headers: {\":method\": GET, \":path\": /, \":authority\": a}\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"not yaml", "a: [", "x.yaml:1:4: sequence end token ']' not found"},
		// yaml.v3 alone reports an unclosed flow one line early, without a column.
		{"unclosed mapping", "plugin: {name: p\nrequests: []\n", "x.yaml:2:1: ',' or '}' must be specified"},
		{"unclosed sequence", "plugin:\n  name: p\nclusters: [a, b\nrequests: []\n", "x.yaml:4:1: ',' or ']' must be specified"},
		{"tab indent", "plugin:\n\tname: p\n", "x.yaml:2:1: found character"},
		{"rule without cluster", "upstreamRules: [{match: {path: /x}}]\n", "x.yaml:1:17: upstreamRules[0]: expected cluster (the cluster whose requests the rule answers)"},
		{"unknown top-level field", "plugins: {}\n" + req, "x.yaml:1:1: plugins: unknown field"},
		{"field twice", "workers: 1\nworkers: 2\n" + req, "x.yaml:2:1: workers: field given twice"},
		{"wrong shape", "workers: [1]\n" + req, "x.yaml:1:10: workers: expected an integer"},
		{"too many workers", "workers: 65\n" + req, "x.yaml:1:10: workers: expected 1 to 64 workers, got 65"},
		{"bad policy", "plugin: {failurePolicy: NEVER}\n" + req, `x.yaml:1:25: plugin.failurePolicy: unknown policy "NEVER"`},
		{"bad wasi", "plugin: {envoy: {wasi: \"999\"}}\n" + req, `x.yaml:1:24: plugin.envoy.wasi: expected 427 or 533, got "999"`},
		{"bad log level", "logLevel: loud\n" + req, `x.yaml:1:11: logLevel: expected trace, debug`},
		{"bad header list", "requests:\n  - headers: [[a]]\n", "x.yaml:2:15: expected a [name, value] pair"},
		{"bad status", req + "    upstream: {status: 42}\n", "requests[0].upstream.status: expected an HTTP status 100-599, got 42"},
		{"bad http call delay", req + "httpCalls: {auth: [{delay: -1s}]}\n", `x.yaml:3:28: httpCalls.auth[0].delay: expected a non-negative duration`},
		{"route without cluster", req + "routes: [{name: r}]\n", "x.yaml:3:10: routes[0]: expected cluster or clusterHeader"},
		{"body and chunks", "requests:\n  - {headers: {\":method\": GET, \":path\": /, \":authority\": a}, body: x, bodyChunks: [y]}\n", "requests[0]: expected body or bodyChunks, not both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tc.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseHeadersAndConfiguration(t *testing.T) {
	f, err := Parse("x.yaml", []byte(`
plugin:
  configuration: {mode: strict, limits: [1, 2]}
requests:
  - headers: [[":method", GET], [":path", /], [":authority", a], [x-dup, "1"], [x-dup, "2"]]
`))
	require.NoError(t, err)
	assert.Equal(t, Pairs{{":method", "GET"}, {":path", "/"}, {":authority", "a"}, {"x-dup", "1"}, {"x-dup", "2"}}, f.Requests[0].Headers)
	b, err := configBytes(&f.Plugin.Configuration)
	require.NoError(t, err)
	assert.JSONEq(t, `{"mode":"strict","limits":[1,2]}`, string(b))
}
