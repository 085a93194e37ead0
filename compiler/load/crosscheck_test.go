package load

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/encoding/yaml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crossBase is a valid intent whose spec each case of TestCrossCheckAgrees
// changes: three clusters in two regions.
const crossBase = `apiVersion: detour.dev/v1alpha1
kind: FailoverIntent
metadata: {name: reviews, namespace: bookinfo}
spec:
  service: {port: 9080%s}
  clusters:
    - {name: a, region: r1, zone: z1, network: n1, eastWestGateway: {address: %s}%s}
    - {name: b, region: r1, zone: z2, network: n2, eastWestGateway: {address: 10.0.0.2}%s}
    - {name: c, region: r2, zone: z3, network: n3, eastWestGateway: {address: 10.0.0.3}%s}
%s
`

// TestCrossCheckAgrees runs each cross-field check of the schema (the
// _check block) on both sides of its line: the full schema and the fast
// path (crossCheckOK) must accept and reject the same intents. The
// fixtures cover the messages; these cover the edges.
func TestCrossCheckAgrees(t *testing.T) {
	type intentCase struct {
		name          string
		service, addr string
		a, b, c       string // added to each cluster
		rest          string // more of spec
	}
	cases := []intentCase{
		{name: "valid"},
		{name: "duplicate cluster", b: ", zone: z1", rest: "", a: ""},
		{name: "weighted 100", a: ", weight: 50", b: ", weight: 25", c: ", weight: 25", rest: "  failover: {mode: weighted}"},
		{name: "weighted 90", a: ", weight: 50", b: ", weight: 20", c: ", weight: 20", rest: "  failover: {mode: weighted}"},
		{name: "activeStandby", a: ", weight: 100", b: ", weight: 0", c: ", weight: 0", rest: "  failover: {mode: activeStandby}"},
		{name: "activeStandby no standby", a: ", weight: 100", b: ", weight: 1", c: ", weight: 5", rest: "  failover: {mode: activeStandby}"},
		{name: "activeStandby no active", a: ", weight: 0", b: ", weight: 0", c: ", weight: 0", rest: "  failover: {mode: activeStandby}"},
		{name: "activeStandby role against weight", a: ", weight: 100", b: ", weight: 0, role: active", c: ", weight: 0", rest: "  failover: {mode: activeStandby}"},
		{name: "activeStandby explicit roles", a: ", role: active", b: ", role: standby", c: ", role: standby", rest: "  failover: {mode: activeStandby}"},
		{name: "named", rest: "  failover: {mode: named, order: [c, a, b]}"},
		{name: "named unknown", rest: "  failover: {mode: named, order: [c, a, x]}"},
		{name: "named twice", rest: "  failover: {mode: named, order: [c, a, a, b]}"},
		{name: "named incomplete", rest: "  failover: {mode: named, order: [c, a]}"},
		{name: "named empty", rest: "  failover: {mode: named, order: []}"},
		{name: "rule ok", rest: "  failover: {rules: [{from: {region: r1}, only: [{cluster: c}, {zone: z2}]}]}"},
		{name: "rule two actions", rest: "  failover: {rules: [{from: {region: r1}, only: [{cluster: c}], any: true}]}"},
		{name: "rule no action", rest: "  failover: {rules: [{from: {region: r1}}]}"},
		{name: "rule none", rest: "  failover: {rules: [{from: {zone: z1}, none: true}]}"},
		{name: "rule unknown region", rest: "  failover: {rules: [{from: {region: r9}, any: true}]}"},
		{name: "rule unknown zone", rest: "  failover: {rules: [{from: {region: r1}, anyExcept: [{zone: z9}]}]}"},
		{name: "rule unknown cluster", rest: "  failover: {rules: [{from: {cluster: x}, any: true}]}"},
		{name: "subsets", rest: "  subsets: [{name: v1, labels: {v: '1'}, clusters: [a, b]}, {name: v2, labels: {v: '2'}}]"},
		{name: "subset twice", rest: "  subsets: [{name: v1, labels: {v: '1'}}, {name: v1, labels: {v: '2'}}]"},
		{name: "subset unknown cluster", rest: "  subsets: [{name: v1, labels: {v: '1'}, clusters: [a, x]}]"},
		{name: "subset cluster twice", rest: "  subsets: [{name: v1, labels: {v: '1'}, clusters: [a, a]}]"},
		{name: "ipv6", addr: "'fd00::1'"},
		{name: "ipv6 zone", addr: "'fe80::1%eth0'"},
		{name: "address with port", addr: "'10.0.0.1:15443'"},
		{name: "ipv6 with port", addr: "'[fd00::1]:15443'"},
		{name: "host name", addr: "gw.example.com"},
		{name: "ELB host name", addr: "a1b2-123.elb.us-west-1.amazonaws.com"},
		{name: "host name with underscore", addr: "gw_1.example.com"},
		{name: "host name with port", addr: "'gw.example.com:15443'"},
		{name: "host name label too long", addr: "a234567890123456789012345678901234567890123456789012345678901234.example.com"},
		{name: "not an address", addr: "'10.0.0'"},
		{name: "many colons and a port", addr: "'1:2:3:4:5:6:7:8:9'"},
		{name: "ramp", rest: "  failback: {ramp: [10, 50, 100]}"},
		{name: "ramp not increasing", rest: "  failback: {ramp: [10, 10, 100]}"},
		{name: "ramp not ending at 100", rest: "  failback: {ramp: [10, 50]}"},
		{name: "ramp empty", rest: "  failback: {ramp: []}"},
		{name: "backoff cap", rest: "  retries: {backoff: {base: 25ms, max: 250ms}}"},
		{name: "backoff cap wrong", rest: "  retries: {backoff: {base: 25ms, max: 200ms}}"},
		{name: "clients needed", rest: "  detection: {failurePercentage: {threshold: 50}}"},
		{name: "clients given", rest: "  detection: {failurePercentage: {threshold: 50}}\n  entry: {kind: eastWest, clients: {app: web}}"},
		{name: "always eject one", rest: "  detection: {alwaysEjectOne: true, maxEjectionPercent: 50}"},
		{name: "POST", rest: "  retries: {methods: [GET, POST]}"},
		{name: "POST opted in", rest: "  retries: {methods: [GET, POST], nonIdempotent: true}"},
		{name: "gRPC condition on HTTP", rest: "  retries: {retryOn: [unavailable]}"},
		{name: "gRPC condition on GRPC", service: ", protocol: GRPC", rest: "  retries: {retryOn: [unavailable]}"},
		{name: "retriable-status-codes", rest: "  retries: {retryOn: [retriable-status-codes]}"},
		{name: "retriable-headers", rest: "  retries: {retryOn: [retriable-headers]}"},
		{name: "interval under 1ms", rest: "  detection: {interval: 500us}"},
		{name: "interval 1ms", rest: "  detection: {interval: 1ms}"},
		{name: "backoff base under 1ms", rest: "  retries: {backoff: {base: 100us, max: 1ms}}"},
		{name: "hold-down too long", rest: "  failback: {holdDown: 1194h}"},
		{name: "hold-down 1193h", rest: "  failback: {holdDown: 1193h}"},
		{name: "one cluster", b: "", rest: "", c: ""},
		{name: "latency", rest: "  detection: {latency: {p99: 300ms, window: 10s, minRequests: 20, crossRegion: 40ms}}"},
		{name: "latency defaults", rest: "  detection: {latency: {p99: 300ms}}"},
		{name: "latency p99 under 1ms", rest: "  detection: {latency: {p99: 500us}}"},
		{name: "latency p99 1ms", rest: "  detection: {latency: {p99: 1ms}}"},
		{name: "latency window under 1ms", rest: "  detection: {latency: {p99: 1ms, window: 999us}}"},
		{name: "latency window below p99", rest: "  detection: {latency: {p99: 2s, window: 1999ms}}"},
		{name: "latency window equal p99", rest: "  detection: {latency: {p99: 2s, window: 2s}}"},
		{name: "latency window too long", rest: "  detection: {latency: {p99: 1s, window: 1194h}}"},
		{name: "latency crossRegion too long", rest: "  detection: {latency: {p99: 1s, crossRegion: 1194h}}"},
		{name: "latency crossRegion 0", rest: "  detection: {latency: {p99: 1s, crossRegion: 0s}}"},
	}
	e, err := getEngine()
	require.NoError(t, err)
	e.mu.Lock()
	defer e.mu.Unlock()
	accepted, rejected := 0, 0
	for _, tc := range cases {
		addr := tc.addr
		if addr == "" {
			addr = "10.0.0.1"
		}
		doc := fmt.Sprintf(crossBase, tc.service, addr, tc.a, tc.b, tc.c, tc.rest)
		switch tc.name {
		case "duplicate cluster":
			doc = strings.Replace(doc, "{name: b,", "{name: a,", 1)
		case "one cluster":
			doc = strings.Replace(strings.Replace(doc, "    - {name: b, region: r1, zone: z2, network: n2, eastWestGateway: {address: 10.0.0.2}}\n", "", 1),
				"    - {name: c, region: r2, zone: z3, network: n3, eastWestGateway: {address: 10.0.0.3}}\n", "", 1)
		}
		t.Run(tc.name, func(t *testing.T) {
			v := buildYAML(t, e, doc)
			assertAgree(t, e, tc.name, v)
			if e.intent.Unify(v).Validate(cue.Concrete(true)) == nil {
				accepted++
			} else {
				rejected++
			}
		})
	}
	// Both sides of the line are exercised.
	assert.Greater(t, accepted, 15)
	assert.Greater(t, rejected, 25)
}

// buildYAML builds the one document of src as the loader does.
func buildYAML(t *testing.T, e *engine, src string) cue.Value {
	t.Helper()
	expr, err := yaml.NewDecoder("case.yaml", bytes.NewReader([]byte(src))).Extract()
	require.NoError(t, err, src)
	return e.ctx.BuildExpr(expr)
}
