package load

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPathsValid(t *testing.T) {
	srcs, err := Paths("testdata/valid/minimal.yaml", "testdata/valid/stream.yaml", "testdata/valid/package.cue")
	require.NoError(t, err)
	require.Len(t, srcs, 4)

	m := srcs[0]
	assert.Equal(t, "testdata/valid/minimal.yaml", m.File)
	assert.Equal(t, [2]int{1, 1}, [2]int{m.Line, m.Column})
	assert.Equal(t, "reviews", m.Intent.Spec.Service.Host, "host defaults to metadata.name")
	assert.Equal(t, "ISTIO_MUTUAL", m.Intent.Spec.Exposure.MTLS, "mtls defaults to ISTIO_MUTUAL")
	assert.Equal(t, uint32(15443), m.Intent.Spec.Clusters[0].EastWestGateway.Port)
	assert.Equal(t, "auto", m.Intent.Spec.Failover.Mode)

	assert.Equal(t, "ratings", srcs[1].Intent.Metadata.Name)
	assert.Equal(t, 11, srcs[2].Line, "second document of the stream")
	assert.Equal(t, "details", srcs[2].Intent.Metadata.Name)
	assert.True(t, srcs[2].Intent.Spec.Failover.HealthAware)

	assert.Equal(t, "testdata/valid/package.cue", srcs[3].File)
	assert.Equal(t, 7, srcs[3].Line)
	assert.Equal(t, "named", srcs[3].Intent.Spec.Failover.Mode)
	assert.Equal(t, []string{"west", "east"}, srcs[3].Intent.Spec.Failover.Order)
	assert.Nil(t, m.Intent.Spec.Detection.Latency, "latency failover is opt-in")

	lat, err := Paths("testdata/valid/latency.yaml")
	require.NoError(t, err)
	l := lat[0].Intent.Spec.Detection.Latency
	require.NotNil(t, l)
	assert.Equal(t, "300ms", l.P99.String())
	assert.Equal(t, "10s", l.Window.String(), "window defaults to 10s")
	assert.Equal(t, uint32(20), l.MinRequests, "minRequests defaults to 20")
	require.NotNil(t, l.CrossRegion)
	assert.Equal(t, "40ms", l.CrossRegion.String())
}

// invalidCases lists every fixture in testdata/invalid/ with the exact
// problems detour vet reports: "line:col: path: message".
var invalidCases = []struct {
	name string
	want []string
}{
	{"active-standby-no-standby", []string{
		"11:5: spec.clusters: mode activeStandby needs at least one standby cluster (weight 0)",
	}},
	{"active-standby-role-weight", []string{
		"23:13: spec.clusters[1].role: a standby has weight 0",
	}},
	{"latency-min-requests", []string{
		"10:40: spec.detection.latency.minRequests: must be a whole number from 1 to 1000000",
	}},
	{"latency-window-short", []string{
		"12:15: spec.detection.latency.window: must be at least p99 (2s): a window shorter than the budget ends before a request that breaches it has answered",
	}},
	{"api-version", []string{
		"2:13: apiVersion: must be \"detour.dev/v1alpha1\"",
	}},
	{"attempts-too-many", []string{
		"21:23: spec.retries.attempts: must be a whole number from 0 to 10",
	}},
	{"backoff-inverted", []string{
		"22:30: spec.retries.backoff.max: must be 10 x backoff.base (10s): Istio sets the base only and Envoy caps the back-off at 10 x base; leave max out",
	}},
	{"backoff-max-ignored", []string{
		"22:32: spec.retries.backoff.max: must be 10 x backoff.base (250ms): Istio sets the base only and Envoy caps the back-off at 10 x base; leave max out",
	}},
	{"budget-zero", []string{
		"22:23: spec.retries.budget.percent: must be a percentage > 0 and <= 100",
	}},
	{"capacity-negative", []string{
		"20:17: spec.clusters[1].capacity: must be a number of requests per second from 0 to 1000000000",
	}},
	{"capacity-huge", []string{
		"20:17: spec.clusters[1].capacity: must be a number of requests per second from 0 to 1000000000",
	}},
	{"capacity-overflow", []string{
		"20:17: spec.clusters[1].capacity: must be a number of requests per second from 0 to 1000000000",
	}},
	{"clients-missing", []string{
		"8:3: spec.entry.clients: must select the client pods (matchLabels): detection.failurePercentage, or alwaysEjectOne with maxEjectionPercent below 100, needs an EnvoyFilter, which without a selector would patch every sidecar of the namespace",
	}},
	{"cluster-duplicate", []string{
		"16:13: spec.clusters[1].name: duplicate cluster name \"east\"",
	}},
	{"cluster-missing-network", []string{
		"16:7: spec.clusters[1].network: field is required but not present",
	}},
	{"cluster-unknown-field", []string{
		"16:7: spec.clusters[1].region: field is required but not present",
		"17:7: spec.clusters[1].regoin: unknown field; expected one of name, region, zone, subZone, network, eastWestGateway, capacity, load, endpoints, weight, role",
	}},
	{"budget-not-an-object", []string{
		"11:21: spec.retries.budget: must be an object with fields percent, minConcurrency",
	}},
	{"clusters-not-a-list", []string{
		"8:5: spec.clusters: must be a list",
	}},
	{"compose-file-catch-all-first", []string{
		"compose/catch-all-first.yaml:8:7: spec.http[0]: has no match, so the routes after it would never be reached; put it last",
	}},
	{"compose-file-control-header", []string{
		"compose/control-header.yaml:11:31: spec.http[0].match[0].headers.x-detour-cluster: is a Detour control header: the router filter strips it from clients and sets it; a route cannot match on it",
		"compose/control-header.yaml:13:28: spec.http[0].match[1].withoutHeaders.x-detour-cell: is a Detour control header: the router filter strips it from clients and sets it; a route cannot match on it",
	}},
	{"compose-file-duplicate-key", []string{
		"compose/duplicate-key.yaml:11:7: spec.http[0].name: duplicate key \"name\" (first at line 8, column 7); YAML keys are unique in a mapping",
	}},
	{"compose-file-empty", []string{
		"compose/empty.yaml:1:1: empty file; expected a VirtualService",
	}},
	{"compose-file-fault", []string{
		"compose/fault.yaml:9:7: spec.http[0].fault: not supported in a composed route: injected aborts would count towards outlier ejection",
	}},
	{"compose-file-gateways", []string{
		"compose/gateways.yaml:7:3: spec.gateways: Detour binds the compiled VirtualService (the mesh, or spec.entry.edge's gateway); leave it out",
	}},
	{"compose-file-header-missing", []string{
		"compose/header-missing.yaml:1:1: apiVersion: field is required but not present",
		"compose/header-missing.yaml:1:1: kind: field is required but not present",
		"compose/header-missing.yaml:1:1: spec: field is required but not present",
	}},
	{"compose-file-kind", []string{
		"compose/kind.yaml:1:13: apiVersion: must be \"networking.istio.io/v1\" (or v1beta1, v1alpha3)",
		"compose/kind.yaml:2:7: kind: must be \"VirtualService\"",
	}},
	{"compose-file-method", []string{
		"compose/method.yaml:10:11: spec.http[0].match[0].method: Detour splits each route by method (only spec.retries.methods are retried); a composed route cannot match on it",
	}},
	{"compose-file-missing", []string{
		"25:21: spec.compose.virtualService: no file \"compose/nope.yaml\" in the intent's directory",
	}},
	{"compose-file-namespace", []string{
		"compose/namespace.yaml:5:14: metadata.namespace: must be the intent's namespace \"bookinfo\" (or left out)",
	}},
	{"compose-file-no-destination", []string{
		"compose/no-destination.yaml:11:14: spec.http[0].route: must list at least one destination (the service, with a subset or none)",
	}},
	{"compose-file-no-routes", []string{
		"compose/no-routes.yaml:6:10: spec.hosts: must name the intent's service (reviews.bookinfo.svc.cluster.local)",
		"compose/no-routes.yaml:7:9: spec.http: must list at least one route to compose",
	}},
	{"compose-file-not-an-object", []string{
		"compose/not-an-object.yaml:1:1: expected a VirtualService object (apiVersion, kind, metadata, spec)",
	}},
	{"compose-file-other-host", []string{
		"compose/other-host.yaml:6:20: spec.hosts[1]: \"ratings\": must be the intent's service (reviews or reviews.bookinfo.svc.cluster.local); one VirtualService composes one service",
		"compose/other-host.yaml:10:31: spec.http[0].route[0].destination.host: \"ratings.bookinfo.svc.cluster.local\": must be the intent's service (reviews or reviews.bookinfo.svc.cluster.local); Detour composes routes to its own service only",
	}},
	{"compose-file-port", []string{
		"compose/port.yaml:10:67: spec.http[0].route[0].destination.port.number: must be the service's port 9080 (or left out)",
	}},
	{"compose-file-redirect", []string{
		"compose/redirect.yaml:9:7: spec.http[0].redirect: a composed route routes to the service itself",
	}},
	{"compose-file-retries", []string{
		"compose/retries.yaml:11:7: spec.http[0].retries: Detour sets every route's retries from spec.retries (the failover retry policy); leave it out",
		"compose/retries.yaml:12:7: spec.http[0].timeout: Detour sets every route's timeout from spec.retries.timeout; leave it out",
	}},
	{"compose-file-route-names", []string{
		"compose/route-names.yaml:8:13: spec.http[0].name: \"default\" is a name Detour's own routes use (default, cluster-*, *-retry); choose another",
		"compose/route-names.yaml:18:13: spec.http[2].name: duplicate route name \"canary\" (also spec.http[1])",
		"compose/route-names.yaml:23:13: spec.http[3].name: \"canary-retry\" is a name Detour's own routes use (default, cluster-*, *-retry); choose another",
		"compose/route-names.yaml:33:7: spec.http[5]: an unnamed route is compiled as \"team-5\", the name of spec.http[4]; name it",
	}},
	{"compose-file-syntax", []string{
		"compose/syntax.yaml:8:14: invalid YAML: did not find expected node content",
	}},
	{"compose-file-tcp", []string{
		"compose/tcp.yaml:7:3: spec.tcp: only HTTP routes are composed",
	}},
	{"compose-file-two-documents", []string{
		"compose/two-documents.yaml:11:1: a second document; the file holds one VirtualService",
	}},
	{"compose-file-unknown-field", []string{
		"compose/unknown-field.yaml:9:7: spec.http[0].rout: unknown field; expected one of name, match, route, rewrite, corsPolicy, headers",
	}},
	{"compose-file-unknown-subset", []string{
		"compose/unknown-subset.yaml:10:48: spec.http[0].route[0].destination.subset: unknown subset \"v3\"; spec.subsets defines v1, v2",
	}},
	{"compose-file-unknown-top-level", []string{
		"compose/unknown-top-level.yaml:10:1: status: unknown field; expected one of apiVersion, kind, metadata, spec",
	}},
	{"compose-file-weights", []string{
		"compose/weights.yaml:10:9: spec.http[0].route: the weights sum to 110; a split over several destinations needs exactly 100",
	}},
	{"compose-file-wrong-types", []string{
		"compose/wrong-types.yaml:9:14: spec.http[0].match: must be a list",
		"compose/wrong-types.yaml:11:48: spec.http[0].route[0].destination.subset: must be a string",
		"compose/wrong-types.yaml:12:19: spec.http[0].route[0].weight: must be a number",
	}},
	{"compose-path-absolute", []string{
		"25:21: spec.compose.virtualService: must be a relative path to a .yaml, .yml or .json file inside the intent's directory (no \"..\", no leading \"/\")",
	}},
	{"compose-path-missing", []string{
		"25:5: spec.compose.virtualService: field is required but not present",
	}},
	{"compose-path-not-yaml", []string{
		"25:21: spec.compose.virtualService: must be a relative path to a .yaml, .yml or .json file inside the intent's directory (no \"..\", no leading \"/\")",
	}},
	{"compose-path-parent", []string{
		"25:21: spec.compose.virtualService: must be a relative path to a .yaml, .yml or .json file inside the intent's directory (no \"..\", no leading \"/\")",
	}},
	{"duration-words", []string{
		"21:25: spec.detection.interval: must be a duration such as \"250ms\", \"5s\" or \"1m30s\"",
	}},
	{"duplicate-key", []string{
		"20:7: spec.clusters[1].region: duplicate key \"region\" (first at line 17, column 7); YAML keys are unique in a mapping",
	}},
	{"duration-too-long", []string{
		"21:28: spec.failback.stepInterval: must be at most 1193h (the filters count milliseconds in 32 bits)",
	}},
	{"duplicate-intent", []string{
		"22:1: duplicate intent bookinfo/reviews (also at testdata/invalid/duplicate-intent.yaml:2:1)",
	}},
	{"edge-missing", []string{
		"21:10: spec.entry.edge: field is required but not present",
	}},
	{"edge-unused", []string{
		"22:11: spec.entry.edge: is only used when entry.kind is \"edge\"",
	}},
	{"entry-kind", []string{
		"21:17: spec.entry.kind: must be \"eastWest\" or \"edge\"",
	}},
	{"exposure-empty-selector", []string{
		"21:24: spec.exposure.selector: is not enforced: Istio's east-west Gateway exports services by host name, never by label; remove it (the east-west gateways export exactly this intent's service, spec.service.host; write an intent for each other service to export)",
	}},
	{"exposure-selector", []string{
		"22:15: spec.exposure.selector: is not enforced: Istio's east-west Gateway exports services by host name, never by label; remove it (the east-west gateways export exactly this intent's service, spec.service.host; write an intent for each other service to export)",
	}},
	{"gateway-errors-off", []string{
		"21:41: spec.detection.consecutiveGatewayErrors: must be >= 1: gateway errors always count towards ejection",
	}},
	{"gateway-address-badname", []string{
		"20:34: spec.clusters[1].eastWestGateway.address: \"a1b2_123.elb.us-west-1.amazonaws.com\" is neither an IPv4 or IPv6 address nor a DNS host name (labels of letters, digits and '-', each at most 63 characters, 253 in all)",
	}},
	{"gateway-address-octet", []string{
		"20:34: spec.clusters[1].eastWestGateway.address: \"10.0.1.300\" is neither an IPv4 or IPv6 address nor a DNS host name (labels of letters, digits and '-', each at most 63 characters, 253 in all)",
	}},
	{"gateway-address-port", []string{
		"20:34: spec.clusters[1].eastWestGateway.address: \"10.0.1.10:15443\" includes a port; write the address alone and the port in eastWestGateway.port",
	}},
	{"gateway-port", []string{
		"20:51: spec.clusters[1].eastWestGateway.port: must be a port number from 1 to 65535",
	}},
	{"health-aware-in-named", []string{
		"21:61: spec.failover.healthAware: is only used in mode weighted",
	}},
	{"holddown-zero", []string{
		"21:24: spec.failback.holdDown: must be at least 1ms",
	}},
	{"host-other-namespace", []string{
		"9:11: spec.service.host: must be the service's short name (a DNS label, no dots): an intent never spans namespaces",
	}},
	{"interval-zero", []string{
		"21:25: spec.detection.interval: must be at least 1ms",
	}},
	{"kind", []string{
		"3:7: kind: must be \"FailoverIntent\", not \"Intent\": this file holds failover intents only",
	}},
	{"max-ejection-zero", []string{
		"21:35: spec.detection.maxEjectionPercent: must be a percentage from 1 to 100",
	}},
	{"method-lowercase", []string{
		"22:20: spec.retries.methods[1]: must be an HTTP method in upper case",
	}},
	{"missing-and-unknown", []string{
		"23:9: spec.failover.rules[0].from: field is required but not present",
		"24:16: spec.failover.rules[1].from.regoin: unknown field; expected one of cluster, region, zone",
	}},
	{"mode-unknown", []string{
		"21:20: spec.failover.mode: must be one of \"auto\", \"named\", \"weighted\", \"activeStandby\"",
	}},
	{"mtls-disabled", []string{
		"21:20: spec.exposure.mtls: must be \"ISTIO_MUTUAL\": traffic between clusters is always mutual TLS",
	}},
	{"name-uppercase", []string{
		"5:9: metadata.name: must be a lower-case DNS label (a-z, 0-9, '-', at most 63 characters)",
	}},
	{"named-no-order", []string{
		"21:13: spec.failover.order: field is required but not present",
	}},
	{"named-order-missing", []string{
		"23:12: spec.failover.order: does not list cluster \"west\"; mode named lists every cluster once",
	}},
	{"named-order-twice", []string{
		"23:25: spec.failover.order[2]: cluster \"east\" is listed twice",
	}},
	{"named-order-unknown", []string{
		"23:25: spec.failover.order[2]: unknown cluster \"north\"",
	}},
	{"namespace-missing", []string{
		"5:3: metadata.namespace: field is required but not present",
	}},
	{"not-an-object", []string{
		"2:1: expected a FailoverIntent object (apiVersion, kind, metadata, spec)",
	}},
	{"one-cluster", []string{
		"11:5: spec.clusters: needs at least two clusters to fail over between",
	}},
	{"order-in-auto", []string{
		"22:12: spec.failover.order: is only used in mode named",
	}},
	{"plugins-yes", []string{
		"21:22: spec.plugins.enabled: must be true or false",
	}},
	{"port-range", []string{
		"9:11: spec.service.port: must be a port number from 1 to 65535",
	}},
	{"port-string", []string{
		"9:11: spec.service.port: must be a port number from 1 to 65535",
	}},
	{"protocol", []string{
		"10:15: spec.service.protocol: must be one of \"HTTP\", \"HTTP2\", \"GRPC\"",
	}},
	{"ramp-decreasing", []string{
		"21:29: spec.failback.ramp[2]: steps must increase (60 then 50)",
	}},
	{"ramp-not-full", []string{
		"21:20: spec.failback.ramp: the last step must be 100 (all traffic back)",
	}},
	{"required-missing", []string{
		"2:1: apiVersion: field is required but not present",
		"5:3: spec.clusters: field is required but not present",
	}},
	{"ramp-empty", []string{
		"21:20: spec.failback.ramp: needs at least one step, the last being 100",
	}},
	{"retry-on-unknown", []string{
		"22:30: spec.retries.retryOn[1]: must be an Envoy retry condition such as \"gateway-error\", \"connect-failure\" or a status code",
	}},
	{"retry-on-grpc-http", []string{
		"22:32: spec.retries.retryOn[1]: \"unavailable\" is a gRPC status condition and retries nothing unless service.protocol is GRPC",
	}},
	{"retry-post-no-optin", []string{
		"22:20: spec.retries.methods[1]: POST is not idempotent: a retry can apply it twice; retrying it needs retries.nonIdempotent: true (a reviewed opt-in)",
	}},
	{"retry-on-no-codes", []string{
		"22:30: spec.retries.retryOn[1]: \"retriable-status-codes\" retries nothing without codes; list the status codes themselves (\"503\")",
	}},
	{"role-in-weighted", []string{
		"23:13: spec.clusters[1].role: is only used in mode activeStandby",
	}},
	{"rule-any-false", []string{
		"24:14: spec.failover.rules[0].any: must be true when set",
	}},
	{"rule-empty-only", []string{
		"24:15: spec.failover.rules[0].only: must list at least one locality (none: true forbids failover)",
	}},
	{"rule-no-action", []string{
		"23:9: spec.failover.rules[0]: needs exactly one of only, any, anyExcept, none (has 0)",
	}},
	{"rule-two-actions", []string{
		"23:9: spec.failover.rules[0]: needs exactly one of only, any, anyExcept, none (has 2)",
	}},
	{"rule-unknown-cluster", []string{
		"24:31: spec.failover.rules[0].anyExcept[0].cluster: unknown cluster \"north\"",
	}},
	{"rule-unknown-region", []string{
		"23:24: spec.failover.rules[0].from.region: no cluster is in region \"eu-west1\"",
		"24:25: spec.failover.rules[0].only[0].region: no cluster is in region \"eu-west1\"",
		"24:45: spec.failover.rules[0].only[1].region: no cluster is in region \"eu-central1\"",
	}},
	{"slo-rps-zero", []string{
		"22:34: spec.detection.slo.rps: must be a number of requests per second above 0 and at most 1000000000",
	}},
	{"stream-second", []string{
		"29:11: spec.service.port: must be a port number from 1 to 65535",
	}},
	{"subset-duplicate", []string{
		"23:14: spec.subsets[1].name: duplicate subset name \"v2\"",
	}},
	{"subset-unknown-cluster", []string{
		"23:58: spec.subsets[1].clusters[1]: unknown cluster \"north\"",
	}},
	{"subset-no-labels", []string{
		"22:26: spec.subsets[0].labels: must have at least one label selecting the subset's pods",
	}},
	{"syntax", []string{
		"6:14: invalid YAML: did not find expected ',' or ']'",
	}},
	{"syntax-reserved", []string{
		"19:16: invalid YAML: found character that cannot start any token",
	}},
	{"top-level-unknown", []string{
		"4:1: status: unknown field; expected one of apiVersion, kind, metadata, spec",
	}},
	{"no-kind", []string{
		"2:1: not a failover intent: expected apiVersion: detour.dev/v1alpha1 and kind: FailoverIntent",
	}},
	{"other-kind", []string{
		"3:7: kind: must be \"FailoverIntent\", not \"Deployment\": this file holds failover intents only",
	}},
	{"weight-in-auto", []string{
		"16:15: spec.clusters[0].weight: is only used in modes weighted and activeStandby",
		"22:15: spec.clusters[1].weight: is only used in modes weighted and activeStandby",
	}},
	{"weight-over-100", []string{
		"22:15: spec.clusters[1].weight: must be a whole percentage from 0 to 100",
	}},
	{"weighted-missing-weight", []string{
		"17:7: spec.clusters[1].weight: field is required but not present",
	}},
	{"weighted-sum", []string{
		"11:5: spec.clusters: the weights sum to 90; mode weighted needs exactly 100",
	}},
}

func TestPathsInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	require.NoError(t, err)
	require.Len(t, files, len(invalidCases), "every fixture has a case and every case a fixture")
	for _, tc := range invalidCases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join("testdata", "invalid", tc.name+".yaml")
			srcs, err := Paths(file)
			require.Error(t, err)
			assert.Empty(t, srcs, "nothing is returned on failure")
			var errs Errors
			require.ErrorAs(t, err, &errs)
			var got []string
			for _, e := range errs {
				if e.File != file {
					// A problem in the file spec.compose names is
					// reported in that file.
					assert.True(t, strings.HasPrefix(e.File, filepath.Join("testdata", "invalid", "compose")+string(filepath.Separator)),
						"errors point at the user's files: %s", e.File)
					got = append(got, strings.TrimPrefix(e.Error(), filepath.Join("testdata", "invalid")+string(filepath.Separator)))
					continue
				}
				got = append(got, strings.TrimPrefix(e.Error(), file+":"))
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestPathsDirectory(t *testing.T) {
	// Only top-level intent files are read: out/ holds golden output and
	// README.md is not an intent file.
	srcs, err := Paths("testdata/dir")
	require.NoError(t, err)
	require.Len(t, srcs, 1)
	assert.Equal(t, filepath.Join("testdata", "dir", "intent.yaml"), srcs[0].File)

	// The .cue files of a directory form one package.
	// The same service in separate arguments is fine (examples of one
	// service in several scenarios).
	srcs, err = Paths("testdata/dir", "testdata/valid/minimal.yaml")
	require.NoError(t, err)
	assert.Len(t, srcs, 2)

	srcs, err = Paths("testdata/cuepkg")
	require.NoError(t, err)
	require.Len(t, srcs, 2)
	assert.Equal(t, "cart", srcs[0].Intent.Metadata.Name)
	assert.Equal(t, filepath.Join("testdata", "cuepkg", "intents.cue"), srcs[0].File)
	assert.Equal(t, [2]int{5, 1}, [2]int{srcs[0].Line, srcs[0].Column})
	co := srcs[1].Intent
	assert.Equal(t, "activeStandby", co.Spec.Failover.Mode)
	assert.Equal(t, "active", co.Spec.Clusters[0].Role, "role derived from weight 100")
	assert.Equal(t, "standby", co.Spec.Clusters[1].Role, "role derived from weight 0")
	assert.Equal(t, []uint32{25, 100}, co.Spec.Failback.Ramp)
}

func TestPathsErrors(t *testing.T) {
	tests := []struct {
		name  string
		paths []string
		want  string
	}{
		{"missing file", []string{"testdata/nope.yaml"}, "testdata/nope.yaml: no such file or directory"},
		{"unsupported extension", []string{"testdata/dir/README.md"}, "testdata/dir/README.md: unsupported file type; expected .yaml, .yml, .json or .cue"},
		{"empty directory", []string{"testdata/dir/out/.."}, ""}, // placeholder replaced below
		{"duplicate intent in a directory", []string{"testdata/dupdir"},
			"testdata/dupdir/b.yaml:1:1: duplicate intent bookinfo/reviews (also at testdata/dupdir/a.yaml:1:1)"},
		{"errors of every file, sorted", []string{"testdata/invalid/port-range.yaml", "testdata/invalid/kind.yaml"},
			"testdata/invalid/kind.yaml:3:7: kind: must be \"FailoverIntent\", not \"Intent\": this file holds failover intents only\n" +
				"testdata/invalid/port-range.yaml:9:11: spec.service.port: must be a port number from 1 to 65535"},
	}
	empty := t.TempDir()
	tests[2] = struct {
		name  string
		paths []string
		want  string
	}{"directory without intents", []string{empty}, empty + ": no intents in directory or below (no .yaml, .yml or .json document of kind FailoverIntent, no .cue file mentioning FailoverIntent or #Intent; hidden directories, cue.mod and compiled output are skipped)"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srcs, err := Paths(tc.paths...)
			assert.Empty(t, srcs)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestBytesCUE(t *testing.T) {
	const head = "package x\n\nimport \"detour.dev/schemas/detour\"\n\n"
	tests := []struct {
		name string
		src  string
		want string
	}{
		{
			name: "unknown package",
			src:  "package x\n\nimport \"detour.dev/schemas/nope\"\n\nx: nope.#Intent\n",
			want: `in.cue:3:8: cannot find package "detour.dev/schemas/nope"; an intent can import detour.dev/schemas/... and CUE's standard library`,
		},
		{
			name: "syntax error",
			src:  "package x\n\nx: {\n\tkind: \"FailoverIntent\"\n",
			want: "in.cue:4:25: expected '}', found 'EOF'",
		},
		{
			name: "misspelt definition",
			src:  head + "r: detour.#Intentt & {}\n",
			want: "in.cue:5:4: r: undefined field: #Intentt",
		},
		{
			name: "unused import",
			src:  "package x\n\nimport \"strings\"\n\nr: {kind: \"FailoverIntent\"}\n",
			want: `in.cue:3:8: imported and not used: "strings"`,
		},
		{
			name: "no intent",
			src:  "package x\n\nhelper: {a: 1}\n",
			want: `in.cue:1:1: no intent in file; expected a value with kind: "FailoverIntent" at the top level or in a top-level field`,
		},
		{
			name: "whole file is one intent",
			src: "apiVersion: \"detour.dev/v1alpha1\"\nkind: \"FailoverIntent\"\nmetadata: {name: \"a\", namespace: \"b\"}\n" +
				"spec: {\n\tservice: port: 80\n\tclusters: [{name: \"a\", region: \"r\", zone: \"z\", network: \"n\", eastWestGateway: address: \"10.0.0.1\"}]\n}\n",
			want: "in.cue:6:12: spec.clusters: needs at least two clusters to fail over between",
		},
		{
			name: "field path includes the top-level field",
			src: head + "r: detour.#Intent & {\n\tapiVersion: \"detour.dev/v1alpha1\"\n\tkind: \"FailoverIntent\"\n" +
				"\tmetadata: {name: \"a\", namespace: \"b\"}\n\tspec: {\n\t\tservice: {port: 80, protocol: \"UDP\"}\n" +
				"\t\tclusters: [for n in [\"a\", \"b\"] {name: n, region: \"r\", zone: \"z\", network: \"n\", eastWestGateway: address: \"10.0.0.1\"}]\n\t}\n}\n",
			want: `in.cue:10:33: r.spec.service.protocol: must be one of "HTTP", "HTTP2", "GRPC"`,
		},
		{
			name: "unknown field",
			src: head + "r: detour.#Intent & {\n\tapiVersion: \"detour.dev/v1alpha1\"\n\tkind: \"FailoverIntent\"\n" +
				"\tmetadata: {name: \"a\", namespace: \"b\", owner: {}}\n}\n",
			want: "in.cue:8:40: r.metadata.owner: unknown field; expected one of name, namespace, labels, annotations",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srcs, err := Bytes("in.cue", []byte(tc.src))
			assert.Empty(t, srcs)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

// TestConcurrentLoads: callers may load from many goroutines (the compiler
// does); the shared CUE engine serialises evaluation. Run with -race.
func TestConcurrentLoads(t *testing.T) {
	stream := manyIntents(t, 4)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	counts := make([]int, 8)
	for i := range errs {
		wg.Go(func() {
			var srcs []Source
			if i%2 == 0 {
				srcs, errs[i] = Bytes("stream.yaml", stream)
			} else {
				srcs, errs[i] = Paths("testdata/cuepkg")
			}
			counts[i] = len(srcs)
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err)
		assert.Equal(t, []int{4, 2}[i%2], counts[i])
	}
}
