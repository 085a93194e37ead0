package sim

import "github.com/detour-mesh/detour/harness/simulator/sim/scenario"

// The scenario file's types (package scenario reads and validates it).
type (
	Scenario   = scenario.Scenario
	Topology   = scenario.Topology
	Cluster    = scenario.Cluster
	Gateway    = scenario.Gateway
	Service    = scenario.Service
	Subset     = scenario.Subset
	Traffic    = scenario.Traffic
	Weighted   = scenario.Weighted
	Fault      = scenario.Fault
	Target     = scenario.Target
	Expect     = scenario.Expect
	Error      = scenario.Error
	ServiceRef = scenario.ServiceRef
	EdgeFile   = scenario.EdgeFile
)

// Fault kinds and gateway kinds.
const (
	GatewayResourceDeleted = scenario.GatewayResourceDeleted
	GatewayScaledToZero    = scenario.GatewayScaledToZero
	ServiceScaledToZero    = scenario.ServiceScaledToZero
	ErrorRate              = scenario.ErrorRate
	AddedLatency           = scenario.AddedLatency
	ClusterOutage          = scenario.ClusterOutage
	RegionOutage           = scenario.RegionOutage
	Partition              = scenario.Partition
	Ingress                = scenario.Ingress
	EastWest               = scenario.EastWest

	DefaultP50          = scenario.DefaultP50
	DefaultP99          = scenario.DefaultP99
	DefaultMaxQueue     = scenario.DefaultMaxQueue
	DefaultEastWestPort = scenario.DefaultEastWestPort
	DefaultIngressPort  = scenario.DefaultIngressPort
	DefaultCrossRegion  = scenario.DefaultCrossRegion
)

// Load reads and validates a scenario file.
func Load(path string) (*Scenario, error) { return scenario.Load(path) }

// Parse validates a scenario's bytes; path names it in errors.
func Parse(path string, b []byte) (*Scenario, error) { return scenario.Parse(path, b) }
