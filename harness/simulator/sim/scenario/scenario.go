// Package scenario reads failure-drill scenario files (harness/simulator/sim runs
// them): strict YAML, every error as file:line:col, field path and what
// was expected. It does not link Istio, so it is cheap to test and fuzz.
package scenario

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/detour-mesh/detour/internal/strictyaml"
	"go.yaml.in/yaml/v3"
)

// Scenario is a validated scenario, with defaults applied where the file
// can give them without the intent (the rest is filled in by Run).
type Scenario struct {
	// Path is the scenario file (errors and relative paths use it).
	Path        string
	Name        string
	Description string
	Intent      string // absolute or relative to the working directory
	Istio       string
	Service     ServiceRef
	Topology    Topology
	Traffic     Traffic
	Faults      []Fault
	// Expect is checked on the run with the filters (or, with no such run,
	// on the run without); ExpectBaseline on the run without the filters.
	Expect         Expect
	ExpectBaseline Expect
	// doc is the parsed file, so that errors found later (references to
	// the intent's topology) point at their line and column.
	doc *yaml.Node
}

// Position gives err, a scenario error found after parsing that names a
// field path but no position, the line and column of that field in the
// file; other errors pass through.
func (s *Scenario) Position(err error) error {
	return strictyaml.Position(s.doc, err)
}

// Topology is the simulated world.
type Topology struct {
	Edge              EdgeFile
	Clusters          []Cluster
	ControlPlaneDelay time.Duration
	CrossRegion       time.Duration
	GatewayLatency    time.Duration
}

// Cluster is one workload cluster.
type Cluster struct {
	Name, Region, Zone, SubZone, Network string
	EastWest, Ingress                    Gateway
	Services                             []Service
}

// Gateway is a gateway's address; Port 0 means the default. Name is the
// host name the intent gives for it, if any: the name resolves to Address
// (what the topology writes, or the default address), as istiod and Envoy
// resolve a load balancer's name in a real mesh.
type Gateway struct {
	Address string
	Port    int
	Name    string
}

// Service is a service's deployment in one cluster.
type Service struct {
	Name string
	// Subsets in name order; a service without subsets has one subset "".
	Subsets  []Subset
	P50, P99 time.Duration
	Capacity float64 // requests per second; 0 = unlimited
	MaxQueue time.Duration
	// EndpointsSet and CapacitySet record which fields the file gave (the
	// intent fills the rest).
	EndpointsSet, CapacitySet bool
}

// Subset is a group of endpoints with a version label.
type Subset struct {
	Name      string
	Endpoints int
}

// Traffic is the load.
type Traffic struct {
	Entry    string
	Host     string
	Port     int
	Rate     float64
	Duration time.Duration
	Workers  int
	Seed     uint64
	Methods  []Weighted // in name order
	Paths    []string
	Headers  [][2]string // in name order
	// RateSet: the file gave the rate (in a fleet, the entry cluster then
	// sends it instead of its load).
	RateSet bool
	// Fleet: every cluster with a load (the intent's, or Sources) sends it
	// through its own sidecar.
	Fleet   bool
	Sources []Weighted // requests/s per cluster, in name order
}

// Weighted is a method and its weight.
type Weighted struct {
	Name   string
	Weight float64
}

// Fault is one validated fault.
type Fault struct {
	Name       string
	Kind       string
	Start, End time.Duration // End 0 = never recovers
	Target     Target
	Status     int
	Rate       float64 // 0..1
	// GrpcStatus (1..16) answers the errorRate's share with :status 200
	// and this grpc-status; 0: Status answers it.
	GrpcStatus int
	Delay      time.Duration
	FlapPeriod time.Duration
	FlapDuty   float64 // 0..1
	// WarmUp is set when the pods return cold at End.
	WarmUp *WarmUp
}

// WarmUp is a validated warm-up: from a fault's end, for Duration, the
// returning pods serve Capacity (0..1) of their capacity and add Latency,
// both moving linearly to normal.
type WarmUp struct {
	Duration time.Duration
	Capacity float64
	Latency  time.Duration
}

// Target is what a fault hits.
type Target struct {
	Cluster, Region string
	// Zone: every endpoint of the zone's clusters.
	Zone            string
	Regions         []string
	Gateway         string
	Service, Subset string
	Share           float64 // 0..1 of the endpoints (1 if not given)
}

// Expect holds the expectations; nil means not checked.
type Expect struct {
	MaxUserVisibleErrors *int
	// MinUserVisibleErrors: at least this many (a baseline that must show
	// the failure).
	MinUserVisibleErrors *int
	// MaxIdempotentErrors counts user-visible errors of idempotent
	// requests (GET, HEAD, OPTIONS, PUT, DELETE, TRACE).
	MaxIdempotentErrors   *int
	MaxTimeToDetect       *time.Duration
	MaxTimeToFailOver     *time.Duration
	MaxTimeToFailBack     *time.Duration
	MaxRetryAmplification *float64
	// MaxLatencyP99 bounds the run's p99 latency, errors included: a run
	// that fails fast where it must fail at all (a total outage).
	MaxLatencyP99       *time.Duration
	MaxCrossRegionShare *float64 // 0..1
	// MaxShareOutside: data residency over the whole run, faults included.
	MaxShareOutside *ShareOutside
	// Factors relative to each run without the filters in the same report
	// (harness/simulator/sim/README.md, "Never worse than the baseline").
	MaxLatencyP50VsBaseline *float64
	MaxLatencyP99VsBaseline *float64
	MaxErrorsVsBaseline     *float64
}

// Defaults.
const (
	DefaultRate              = 100
	DefaultDuration          = 60 * time.Second
	DefaultWorkers           = 2
	DefaultControlPlaneDelay = time.Second
	DefaultCrossRegion       = 40 * time.Millisecond
	DefaultGatewayLatency    = time.Millisecond
	DefaultP50               = 5 * time.Millisecond
	DefaultP99               = 25 * time.Millisecond
	DefaultMaxQueue          = time.Second
	DefaultEastWestPort      = 15443
	DefaultIngressPort       = 80
)

// Load reads and validates a scenario file.
func Load(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse validates a scenario's bytes; path names it in errors and anchors
// its relative paths.
func Parse(path string, b []byte) (*Scenario, error) {
	doc, err := strictyaml.Root(path, b, "scenario")
	if err != nil {
		return nil, err
	}
	var f File
	if err := strictyaml.Decode(path, doc, &f); err != nil {
		return nil, err
	}
	v := &validator{path: path}
	sc := v.scenario(&f)
	if v.err != nil {
		return nil, strictyaml.Position(doc, v.err)
	}
	sc.doc = doc
	return sc, nil
}

// validator keeps the first error; every check after it is a no-op.
func (f *Fault) Active(t time.Duration) bool {
	if t < f.Start || (f.End > 0 && t >= f.End) {
		return false
	}
	if f.FlapPeriod > 0 {
		phase := (t - f.Start) % f.FlapPeriod
		return phase < time.Duration(float64(f.FlapPeriod)*f.FlapDuty)
	}
	return true
}

// Edges are the offsets at which f switches on or off, up to limit.
func (f *Fault) Edges(limit time.Duration) []time.Duration {
	var out []time.Duration
	if f.FlapPeriod <= 0 {
		out = append(out, f.Start)
		if f.End > 0 {
			out = append(out, f.End)
		}
		return out
	}
	end := limit
	if f.End > 0 && f.End < end {
		end = f.End
	}
	on := time.Duration(float64(f.FlapPeriod) * f.FlapDuty)
	for t := f.Start; t < end; t += f.FlapPeriod {
		out = append(out, t)
		if t+on < end {
			out = append(out, t+on)
		}
	}
	if f.End > 0 && f.End <= limit {
		out = append(out, f.End)
	}
	return out
}

// String is the target as people read it ("cluster-1 reviews/v2 50%").
func (t Target) String() string {
	var parts []string
	switch {
	case len(t.Regions) == 2:
		parts = append(parts, "regions "+t.Regions[0]+" | "+t.Regions[1])
	case t.Cluster != "":
		parts = append(parts, t.Cluster)
	case t.Region != "":
		parts = append(parts, "region "+t.Region)
	}
	if t.Zone != "" {
		parts = append(parts, "zone "+t.Zone)
	}
	if t.Gateway != "" {
		parts = append(parts, t.Gateway+" gateway")
	}
	if t.Service != "" || t.Subset != "" {
		s := t.Service
		if t.Subset != "" {
			s += "/" + t.Subset
		}
		parts = append(parts, s)
	}
	if t.Share > 0 && t.Share < 1 {
		parts = append(parts, fmt.Sprintf("%g%% of endpoints", 100*t.Share))
	}
	return strings.Join(parts, " ")
}

// Hits reports whether the target names a cluster so placed (or names no
// cluster, region nor zone, and so hits them all).
func (t Target) Hits(cluster, region, zone string) bool {
	return (t.Cluster == "" || t.Cluster == cluster) && (t.Region == "" || t.Region == region) && (t.Zone == "" || t.Zone == zone)
}
