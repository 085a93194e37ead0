package scenario

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const minimal = "intent: intent.yaml\ntraffic: {entry: cluster-1}\n"

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"syntax error", "intent: x\ntraffic: {entry: [\n", "s.yaml:2:18: sequence end token ']' not found"},
		{"tab indentation", "intent: x\ntraffic:\n\tentry: a\n", "s.yaml:3:1: found character '\t' that cannot start any token"},
		{"empty", "", "s.yaml:1:1: empty scenario"},
		{"unknown top-level field", minimal + "fualts: []\n", "s.yaml:3:1: fualts: unknown field (expected one of description, expect, expectBaseline, faults, intent, istio, name, service, topology, traffic)"},
		{"unknown nested field", minimal + "faults:\n  - kind: errorRate\n    target: {cluster: c, zones: z}\n", "s.yaml:5:26: faults[0].target.zones: unknown field"},
		{"field twice", "intent: a\nintent: b\ntraffic: {entry: c}\n", "s.yaml:2:1: intent: field given twice"},
		{"no config", "traffic: {entry: c}\n", "s.yaml: expected intent (an intent file to compile) or istio"},
		{"istio without service", "istio: dir\ntraffic: {entry: c}\n", "s.yaml:1:8: istio: without an intent, expected service.name"},
		{"no entry", "intent: a\n", `traffic.entry: expected "edge"`},
		{"wrong shape", minimal + "faults: {kind: x}\n", "s.yaml:3:9: faults: expected a list"},
		{"bad rate", "intent: a\ntraffic: {entry: c, rate: fast}\n", `s.yaml:2:27: traffic.rate: expected a number from 0.001 to 1e+06, got "fast"`},
		{"bad duration", "intent: a\ntraffic: {entry: c, duration: 10}\n", `s.yaml:2:31: traffic.duration: expected a non-negative duration such as 250ms or 30s, got "10"`},
		{"bad method", "intent: a\ntraffic: {entry: c, methods: {get: 1}}\n", `s.yaml:2:36: traffic.methods.get: expected an HTTP method in capitals`},
		{"bad path", "intent: a\ntraffic: {entry: c, paths: [x]}\n", `s.yaml:2:29: traffic.paths[0]: expected a path starting with /`},
		{"unknown kind", minimal + "faults:\n  - {kind: meteor, target: {cluster: c}}\n", `s.yaml:4:12: faults[0].kind: unknown fault kind "meteor" (expected one of gatewayResourceDeleted, gatewayScaledToZero, serviceScaledToZero, errorRate, latency, clusterOutage, regionOutage, partition)`},
		{"end before start", minimal + "faults:\n  - {kind: clusterOutage, start: 20s, end: 10s, target: {cluster: c}}\n", `s.yaml:4:44: faults[0].end: expected an end after the start (20s)`},
		{"start after traffic", minimal + "faults:\n  - {kind: clusterOutage, start: 2h, target: {cluster: c}}\n", `faults[0].start: expected a start within the traffic's duration (1m0s)`},
		{"missing target", minimal + "faults:\n  - {kind: regionOutage, target: {cluster: c}}\n", `s.yaml:4:34: faults[0].target: a regionOutage fault needs target.region`},
		{"partition one region", minimal + "faults:\n  - {kind: partition, target: {regions: [a, a]}}\n", `faults[0].target: a partition fault needs target.regions: two different regions`},
		{"bad gateway", minimal + "faults:\n  - {kind: gatewayScaledToZero, target: {cluster: c, gateway: egress}}\n", `faults[0].target.gateway: expected ingress or eastWest, got "egress"`},
		{"bad share", minimal + "faults:\n  - {kind: errorRate, target: {cluster: c, share: 150%}}\n", `faults[0].target.share: expected a percentage from 0% to 100%`},
		{"status on outage", minimal + "faults:\n  - {kind: clusterOutage, status: 500, target: {cluster: c}}\n", `faults[0]: status and rate apply to errorRate faults only`},
		{"grpcStatus with status", minimal + "faults:\n  - {kind: errorRate, status: 500, grpcStatus: 14, target: {cluster: c}}\n", `faults[0]: status and grpcStatus exclude each other`},
		{"grpcStatus out of range", minimal + "faults:\n  - {kind: errorRate, grpcStatus: 17, target: {cluster: c}}\n", `faults[0].grpcStatus: expected an integer from 1 to 16, got "17"`},
		{"grpcStatus on latency", minimal + "faults:\n  - {kind: latency, delay: 1s, grpcStatus: 14, target: {cluster: c}}\n", `faults[0].grpcStatus: grpcStatus applies to errorRate faults only`},
		{"latency without delay", minimal + "faults:\n  - {kind: latency, target: {cluster: c}}\n", `faults[0].delay: a latency fault needs a positive delay`},
		{"flap duty", minimal + "faults:\n  - {kind: clusterOutage, target: {cluster: c}, flap: {period: 10s, duty: 100%}}\n", `faults[0].flap.duty: expected a duty cycle strictly between 0% and 100%`},
		{"bad address", minimal + "topology:\n  clusters:\n    - {name: c, eastWestGateway: {address: gw.example}}\n", `s.yaml:5:44: topology.clusters[0].eastWestGateway.address: expected an IPv4 address, got "gw.example"`},
		{"bad cluster name", minimal + "topology:\n  clusters:\n    - {name: C_1}\n", `topology.clusters[0].name: expected a DNS label`},
		{"duplicate cluster", minimal + "topology:\n  clusters:\n    - {name: c}\n    - {name: c}\n", `s.yaml:6:14: topology.clusters[1].name: cluster "c" given twice`},
		{"endpoints and subsets", minimal + "topology:\n  clusters:\n    - {name: c, services: [{name: s, endpoints: 2, subsets: {v1: 1}}]}\n", `topology.clusters[0].services[0].endpoints: expected endpoints or subsets, not both`},
		{"p99 below p50", minimal + "topology:\n  clusters:\n    - {name: c, services: [{name: s, latency: {p50: 10ms, p99: 1ms}}]}\n", `topology.clusters[0].services[0].latency.p99: expected p99 >= p50 (10ms)`},
		{"bad expectation", minimal + "expect: {maxTimeToDetect: soon}\n", `s.yaml:3:27: expect.maxTimeToDetect: expected a non-negative duration`},
		{"amplification below 1", minimal + "expect: {maxRetryAmplification: 0.5}\n", `expect.maxRetryAmplification: expected a number from 1 to 1000, got "0.5"`},
		{"p99 not a duration", minimal + "expect: {maxLatencyP99: fast}\n", `s.yaml:3:25: expect.maxLatencyP99: expected a non-negative duration`},
		{"bool for int", minimal + "expect: {maxUserVisibleErrors: [1]}\n", `s.yaml:3:32: expect.maxUserVisibleErrors: expected a scalar`},
		{"negative factor", minimal + "expect: {maxErrorsVsBaseline: -1}\n", `s.yaml:3:31: expect.maxErrorsVsBaseline: expected a number from 0 to 1000, got "-1"`},
		{"factor as percent", minimal + "expect: {maxLatencyP99VsBaseline: 110%}\n", `expect.maxLatencyP99VsBaseline: expected a number from 0 to 1000, got "110%"`},
		{"zone on a gateway fault", minimal + "faults:\n  - {kind: gatewayScaledToZero, target: {cluster: c, zone: z}}\n", `s.yaml:4:60: faults[0].target.zone: a gatewayScaledToZero fault cannot target a zone (expected target.zone on serviceScaledToZero, errorRate, latency or clusterOutage faults)`},
		{"outage without cluster or zone", minimal + "faults:\n  - {kind: clusterOutage, target: {region: r}}\n", `faults[0].target: a clusterOutage fault needs target.cluster or target.zone`},
		{"residency without regions", minimal + "expect:\n  maxShareOutside: {max: 0%}\n", `s.yaml:4:20: expect.maxShareOutside: expected regions: the regions the requests may reach, such as {regions: [eu-west1], max: 0%}`},
		{"residency without max", minimal + "expect:\n  maxShareOutside: {regions: [eu-west1]}\n", `s.yaml:4:20: expect.maxShareOutside: expected max: the share of requests that may leave the regions, such as 0% (none)`},
		{"residency region twice", minimal + "expect:\n  maxShareOutside: {regions: [eu-west1, eu-west1], max: 0}\n", `s.yaml:4:41: expect.maxShareOutside.regions[1]: region "eu-west1" listed twice`},
		{"residency bad max", minimal + "expect:\n  maxShareOutside: {regions: [eu-west1], max: none}\n", `s.yaml:4:47: expect.maxShareOutside.max: expected a percentage from 0% to 100% such as 50%, got "none"`},
		{"residency unknown field", minimal + "expect:\n  maxShareOutside: {region: eu-west1, max: 0}\n", `s.yaml:4:21: expect.maxShareOutside.region: unknown field (expected one of max, regions)`},
		{"relative on the baseline", minimal + "expectBaseline: {maxLatencyP50VsBaseline: 1.1}\n", `s.yaml:3:43: expectBaseline.maxLatencyP50VsBaseline: relative expectations apply to expect (the run with the filters) only`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(tc.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// The relative expectations read as factors.
func TestParseRelative(t *testing.T) {
	sc, err := Parse("s.yaml", []byte(minimal+"expect: {maxLatencyP50VsBaseline: 1.1, maxLatencyP99VsBaseline: 1.25, maxErrorsVsBaseline: 0.5}\n"))
	require.NoError(t, err)
	require.NotNil(t, sc.Expect.MaxLatencyP50VsBaseline)
	assert.Equal(t, 1.1, *sc.Expect.MaxLatencyP50VsBaseline)
	assert.Equal(t, 1.25, *sc.Expect.MaxLatencyP99VsBaseline)
	assert.Equal(t, 0.5, *sc.Expect.MaxErrorsVsBaseline)
	assert.Nil(t, sc.ExpectBaseline.MaxErrorsVsBaseline)
}

func TestParseFull(t *testing.T) {
	sc, err := Parse("drills/x.yaml", []byte(`
name: drill
intent: ../intent.yaml
topology:
  controlPlaneDelay: 2s
  clusters:
    - name: cluster-1
      region: r1
      eastWestGateway: {address: 10.0.0.1}
      services:
        - name: reviews
          subsets: {v2: 2, v1: 1}
          latency: {p50: 3ms, p99: 30ms}
          capacity: 100
traffic:
  entry: cluster-1
  rate: 50
  duration: 2m
  seed: 7
  methods: {POST: 1, GET: 3}
  paths: [/a, /b]
  headers: {x-user: alice}
faults:
  - {name: down, kind: serviceScaledToZero, start: 30s, end: 90s, target: {cluster: cluster-1, service: reviews, subset: v2, share: 50%}}
  - {kind: errorRate, start: 10s, rate: 20%, target: {region: r1}, flap: {period: 20s, duty: 25%}}
expect:
  maxUserVisibleErrors: 0
  maxTimeToDetect: 1s
  maxCrossRegionShare: 1%
  maxLatencyP99: 100ms
`))
	require.NoError(t, err)
	assert.Equal(t, 100*time.Millisecond, *sc.Expect.MaxLatencyP99)
	assert.Equal(t, filepath.Join("drills", "../intent.yaml"), sc.Intent)
	assert.Equal(t, 2*time.Second, sc.Topology.ControlPlaneDelay)
	assert.Equal(t, DefaultCrossRegion, sc.Topology.CrossRegion)
	svc := sc.Topology.Clusters[0].Services[0]
	assert.Equal(t, []Subset{{"v1", 1}, {"v2", 2}}, svc.Subsets)
	assert.Equal(t, 3*time.Millisecond, svc.P50)
	assert.Equal(t, 100.0, svc.Capacity)
	assert.Equal(t, Traffic{Entry: "cluster-1", Rate: 50, Duration: 2 * time.Minute, Workers: DefaultWorkers, Seed: 7,
		Methods: []Weighted{{"GET", 3}, {"POST", 1}}, Paths: []string{"/a", "/b"}, Headers: [][2]string{{"x-user", "alice"}}, RateSet: true}, sc.Traffic)
	require.Len(t, sc.Faults, 2)
	assert.Equal(t, Fault{Name: "down", Kind: ServiceScaledToZero, Start: 30 * time.Second, End: 90 * time.Second,
		Target: Target{Cluster: "cluster-1", Service: "reviews", Subset: "v2", Share: 0.5}}, sc.Faults[0])
	assert.Equal(t, "fault-2", sc.Faults[1].Name)
	assert.Equal(t, 503, sc.Faults[1].Status)
	assert.InDelta(t, 0.2, sc.Faults[1].Rate, 1e-9)
	assert.InDelta(t, 0.25, sc.Faults[1].FlapDuty, 1e-9)
	require.NotNil(t, sc.Expect.MaxUserVisibleErrors)
	assert.Equal(t, 0, *sc.Expect.MaxUserVisibleErrors)
	assert.Equal(t, time.Second, *sc.Expect.MaxTimeToDetect)
	assert.InDelta(t, 0.01, *sc.Expect.MaxCrossRegionShare, 1e-9)
	assert.Nil(t, sc.Expect.MaxTimeToFailBack)
}

// Every seed drill is expressible: the drills under harness/simulator/sim/testdata/seeds parse.
func TestSeedDrillsParse(t *testing.T) {
	files, err := filepath.Glob("../testdata/seeds/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		_, err := Load(f)
		assert.NoError(t, err, f)
	}
}

func TestFaultActive(t *testing.T) {
	f := Fault{Start: 10 * time.Second, End: 50 * time.Second, FlapPeriod: 10 * time.Second, FlapDuty: 0.3}
	for _, c := range []struct {
		at   time.Duration
		want bool
	}{{9 * time.Second, false}, {10 * time.Second, true}, {12 * time.Second, true}, {13 * time.Second, false}, {20 * time.Second, true}, {49 * time.Second, false}, {50 * time.Second, false}} {
		assert.Equal(t, c.want, f.Active(c.at), c.at)
	}
	s := func(x ...float64) []time.Duration {
		var out []time.Duration
		for _, v := range x {
			out = append(out, time.Duration(v*float64(time.Second)))
		}
		return out
	}
	assert.Equal(t, s(10, 13, 20, 23, 30, 33, 40, 43, 50), f.Edges(time.Minute))
	g := Fault{Start: time.Second}
	assert.Equal(t, s(1), g.Edges(time.Minute))
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.yaml"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// A zone target and a residency expectation, as a drill writes them.
func TestZoneAndResidency(t *testing.T) {
	sc, err := Parse("s.yaml", []byte(minimal+`faults:
  - {name: zone-down, kind: clusterOutage, start: 10s, end: 20s, target: {zone: eu-west1-b}}
expect:
  maxShareOutside: {regions: [eu-west1, eu-north1], max: 0.5%}
`))
	require.NoError(t, err)
	tg := sc.Faults[0].Target
	assert.Equal(t, "zone eu-west1-b", tg.String())
	assert.True(t, tg.Hits("c1", "eu-west1", "eu-west1-b"))
	assert.False(t, tg.Hits("c2", "eu-west1", "eu-west1-a"), "another zone of the region")
	require.NotNil(t, sc.Expect.MaxShareOutside)
	assert.Equal(t, []string{"eu-north1", "eu-west1"}, sc.Expect.MaxShareOutside.Regions)
	assert.InDelta(t, 0.005, sc.Expect.MaxShareOutside.Max, 1e-12)
}

// Errors found after parsing (a reference to the intent's topology) get
// the line and column of the field they name.
func TestPositionOfLaterErrors(t *testing.T) {
	sc, err := Parse("s.yaml", []byte(minimal+"faults:\n  - {kind: clusterOutage, target: {cluster: nowhere}}\n"))
	require.NoError(t, err)
	got := sc.Position(&Error{File: "s.yaml", Path: "faults[0].target.cluster", Msg: `no cluster "nowhere"`})
	assert.EqualError(t, got, `s.yaml:4:45: faults[0].target.cluster: no cluster "nowhere"`)
	other := assert.AnError
	assert.Equal(t, other, sc.Position(other), "other errors pass through")
	assert.EqualError(t, (&Scenario{}).Position(&Error{File: "s.yaml", Path: "traffic.entry", Msg: "x"}), "s.yaml: traffic.entry: x",
		"a scenario built in code has no positions")
}
