package xdsgen

import "github.com/detour-mesh/detour/harness/simulator/xdsgen/input"

// The generator's input types live in package input (Istio-free); these
// aliases keep xdsgen.Input and the rest working for its callers.
type (
	ProxyType      = input.ProxyType
	Input          = input.Input
	ControlPlane   = input.ControlPlane
	NetworkGateway = input.NetworkGateway
	File           = input.File
	Cluster        = input.Cluster
	Gateway        = input.Gateway
	Service        = input.Service
	Port           = input.Port
	Endpoint       = input.Endpoint
	Proxy          = input.Proxy
)

// Proxy types, as Istio names them in a node ID.
const (
	Sidecar = input.Sidecar
	Router  = input.Router
)

// Generate is an input.Generator.
var _ input.Generator = Generate
