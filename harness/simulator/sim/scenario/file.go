// The scenario file as written: every field a Scalar that remembers where
// it stands, so validation can point at it.

package scenario

import (
	"github.com/detour-mesh/detour/internal/strictyaml"
)

// Scalar is a value that remembers where it was written.
type Scalar = strictyaml.Scalar

// Error is a scenario error: file:line:col, field path, what was expected.
type Error = strictyaml.Error

// File is a scenario file as written.
type File struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Intent is the intent (YAML or CUE) the run compiles on the fly,
	// relative to the scenario file.
	Intent string `yaml:"intent"`
	// Istio is a directory of Istio YAML used instead of compiling the
	// intent: <cluster>.yaml per workload cluster (or clusters/<cluster>.yaml,
	// as detour compile writes it) and edge.yaml for the edge gateway.
	Istio    string       `yaml:"istio"`
	Service  ServiceRef   `yaml:"service"`
	Topology TopologyFile `yaml:"topology"`
	Traffic  TrafficFile  `yaml:"traffic"`
	Faults   []FaultFile  `yaml:"faults"`
	Expect   ExpectFile   `yaml:"expect"`
	// ExpectBaseline is checked on the run without the filters (istio or
	// --baseline): what the seeds say plain Istio shows.
	ExpectBaseline ExpectFile `yaml:"expectBaseline"`
}

// ServiceRef names the service under drill; the intent gives it by default.
type ServiceRef struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
	Port      int    `yaml:"port"`
	// Hosts the edge gateway serves (edge entry).
	Hosts []string `yaml:"hosts"`
}

// TopologyFile describes the clusters behind the proxies.
type TopologyFile struct {
	Edge              EdgeFile      `yaml:"edge"`
	Clusters          []ClusterFile `yaml:"clusters"`
	ControlPlaneDelay Scalar        `yaml:"controlPlaneDelay"`
	CrossRegion       Scalar        `yaml:"crossRegionLatency"`
	GatewayLatency    Scalar        `yaml:"gatewayLatency"`
}

// EdgeFile places the edge gateway (edge entry).
type EdgeFile struct {
	Cluster string `yaml:"cluster"`
	Region  string `yaml:"region"`
	Zone    string `yaml:"zone"`
	Network string `yaml:"network"`
}

// ClusterFile is one workload cluster.
type ClusterFile struct {
	Name            string        `yaml:"name"`
	Region          string        `yaml:"region"`
	Zone            string        `yaml:"zone"`
	SubZone         string        `yaml:"subZone"`
	Network         string        `yaml:"network"`
	EastWestGateway GatewayFile   `yaml:"eastWestGateway"`
	IngressGateway  GatewayFile   `yaml:"ingressGateway"`
	Services        []ServiceFile `yaml:"services"`
}

// GatewayFile is a gateway's address.
type GatewayFile struct {
	Address string `yaml:"address"`
	Port    int    `yaml:"port"`
}

// ServiceFile is one service's deployment in a cluster.
type ServiceFile struct {
	Name string `yaml:"name"`
	// Endpoints when the service has no subsets; with subsets, endpoints
	// per subset are given in Subsets.
	Endpoints Scalar            `yaml:"endpoints"`
	Subsets   map[string]Scalar `yaml:"subsets"`
	Latency   LatencyFile       `yaml:"latency"`
	// Capacity is the requests per second the service serves; above it
	// requests queue, and past MaxQueue they get 503 (overflow).
	Capacity Scalar `yaml:"capacity"`
	MaxQueue Scalar `yaml:"maxQueue"`
}

// LatencyFile is a log-normal latency given by its median and 99th percentile.
type LatencyFile struct {
	P50 Scalar `yaml:"p50"`
	P99 Scalar `yaml:"p99"`
}

// TrafficFile is the load the scenario sends.
type TrafficFile struct {
	// Entry is "edge" (the edge gateway) or a cluster name (a client
	// sidecar in that cluster).
	Entry string `yaml:"entry"`
	Host  string `yaml:"host"`
	// Port is the listener port the requests arrive on (default: the
	// intent's edge port or 80 at the edge, the service port at a sidecar).
	Port     Scalar            `yaml:"port"`
	Rate     Scalar            `yaml:"rate"`
	Duration Scalar            `yaml:"duration"`
	Workers  Scalar            `yaml:"workers"`
	Seed     Scalar            `yaml:"seed"`
	Methods  map[string]Scalar `yaml:"methods"`
	Paths    []string          `yaml:"paths"`
	Headers  map[string]string `yaml:"headers"`
	// Fleet simulates the client sidecars of every cluster with a load in
	// the intent, each sending that load (fleet.go).
	Fleet Scalar `yaml:"fleet"`
	// Sources are requests/s per source cluster (a fleet drill; they
	// override the intent's loads).
	Sources map[string]Scalar `yaml:"sources"`
}

// FaultFile is one entry of the fault timeline.
type FaultFile struct {
	Name   string     `yaml:"name"`
	Kind   Scalar     `yaml:"kind"`
	Start  Scalar     `yaml:"start"`
	End    Scalar     `yaml:"end"`
	Target TargetFile `yaml:"target"`
	// Status and Rate for errorRate: the share of requests answered with Status.
	Status Scalar `yaml:"status"`
	Rate   Scalar `yaml:"rate"`
	// GrpcStatus for errorRate, instead of Status: the share of requests
	// answered as a gRPC server fails a call, :status 200 and this
	// grpc-status in the headers (a trailers-only response).
	GrpcStatus Scalar `yaml:"grpcStatus"`
	// Delay for latency: added to every response.
	Delay Scalar `yaml:"delay"`
	// Flap makes the fault come and go: active for Duty of every Period.
	Flap *FlapFile `yaml:"flap"`
	// WarmUp: the pods come back cold at the fault's end.
	WarmUp *WarmUpFile `yaml:"warmUp"`
}

// WarmUpFile is how cold pods are when they return from a fault: for
// Duration their capacity starts at Capacity and their added latency at
// Latency, both moving linearly to normal.
type WarmUpFile struct {
	Duration Scalar `yaml:"duration"`
	Capacity Scalar `yaml:"capacity"`
	Latency  Scalar `yaml:"latency"`
}

// FlapFile is a flapping pattern.
type FlapFile struct {
	Period Scalar `yaml:"period"`
	Duty   Scalar `yaml:"duty"`
}

// TargetFile says what a fault hits.
type TargetFile struct {
	Cluster string   `yaml:"cluster"`
	Region  string   `yaml:"region"`
	Zone    string   `yaml:"zone"`
	Regions []string `yaml:"regions"`
	Gateway Scalar   `yaml:"gateway"`
	Service string   `yaml:"service"`
	Subset  string   `yaml:"subset"`
	Share   Scalar   `yaml:"share"`
}

// ExpectFile is what the run must show.
type ExpectFile struct {
	MaxUserVisibleErrors  Scalar `yaml:"maxUserVisibleErrors"`
	MinUserVisibleErrors  Scalar `yaml:"minUserVisibleErrors"`
	MaxIdempotentErrors   Scalar `yaml:"maxIdempotentErrors"`
	MaxTimeToDetect       Scalar `yaml:"maxTimeToDetect"`
	MaxTimeToFailOver     Scalar `yaml:"maxTimeToFailOver"`
	MaxTimeToFailBack     Scalar `yaml:"maxTimeToFailBack"`
	MaxRetryAmplification Scalar `yaml:"maxRetryAmplification"`
	MaxLatencyP99         Scalar `yaml:"maxLatencyP99"`
	MaxCrossRegionShare   Scalar `yaml:"maxCrossRegionShare"`
	// MaxShareOutside: at most Max of the requests reach a region not in
	// Regions, over the whole run (harness/simulator/report, residency.go).
	MaxShareOutside *ShareOutsideFile `yaml:"maxShareOutside"`
	// Relative to the run without the filters (expect: only).
	MaxLatencyP50VsBaseline Scalar `yaml:"maxLatencyP50VsBaseline"`
	MaxLatencyP99VsBaseline Scalar `yaml:"maxLatencyP99VsBaseline"`
	MaxErrorsVsBaseline     Scalar `yaml:"maxErrorsVsBaseline"`
}

// Fault kinds.
const (
	// GatewayResourceDeleted: the Gateway resource for the service is gone
	// at the target cluster's gateway: an ingress gateway answers 404 (NR),
	// an east-west gateway (TLS passthrough) has no filter chain for the
	// SNI and closes the connection.
	GatewayResourceDeleted = "gatewayResourceDeleted"
	// GatewayScaledToZero: the ingress or east-west gateway has no pods:
	// connections are refused (UF at the caller).
	GatewayScaledToZero = "gatewayScaledToZero"
	// ServiceScaledToZero: the service (or subset) has no pods. Its
	// EndpointSlice empties, so proxies in that cluster get new EDS after
	// the control-plane delay (until then their connects fail); a remote
	// gateway in front of it closes connections during the client's TLS
	// handshake (TLS passthrough: UF at the client) or answers 503 no
	// healthy upstream (HTTP ingress).
	ServiceScaledToZero = "serviceScaledToZero"
	// ErrorRate: a share of responses are errors.
	ErrorRate = "errorRate"
	// AddedLatency: responses are slower.
	AddedLatency = "latency"
	// ClusterOutage: the whole cluster is down (gateways and pods refuse).
	ClusterOutage = "clusterOutage"
	// RegionOutage: every cluster of the region is down.
	RegionOutage = "regionOutage"
	// Partition: the network between two regions drops packets: connects
	// across it time out.
	Partition = "partition"
)

var faultKinds = []string{GatewayResourceDeleted, GatewayScaledToZero, ServiceScaledToZero, ErrorRate, AddedLatency, ClusterOutage, RegionOutage, Partition}

// Gateway kinds in a target.
const (
	Ingress  = "ingress"
	EastWest = "eastWest"
)
