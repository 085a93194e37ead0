// Package input holds what Istio's generator (harness/simulator/xdsgen)
// reads: one simulated proxy and the control plane that configures it. The
// types live apart from the generator so that code which only builds these
// inputs (the simulator's run loop, harness/simulator/sim) and replays
// recorded snapshots does not link Istio; xdsgen names them by alias.
package input

import (
	"context"

	"github.com/detour-mesh/detour/harness/simulator/xds"
)

// Generator turns an input into the proxy's xDS: xdsgen.Generate, or a
// replay of what it produced (harness/simulator/sim/recorded).
type Generator func(context.Context, Input) (*xds.Snapshot, error)

// ProxyType is the kind of Envoy a simulated proxy is.
type ProxyType string

// Proxy types, as Istio names them in a node ID.
const (
	// Sidecar is a workload's sidecar (outbound calls from a pod).
	Sidecar ProxyType = "sidecar"
	// Router is a gateway: ingress, edge or east-west.
	Router ProxyType = "router"
)

// Input is one simulated proxy and the control plane that configures it.
type Input struct {
	ControlPlane ControlPlane
	Proxy        Proxy
}

// ControlPlane is what one cluster's istiod reads: the Istio configuration
// applied to that cluster and the Kubernetes objects of the clusters it
// watches (its own and, in a multi-primary mesh, remote ones).
type ControlPlane struct {
	// Cluster is the Istio cluster ID of the istiod (its config cluster).
	// Empty means the proxy's cluster.
	Cluster string
	// Config is Istio configuration YAML, one or more documents separated
	// by "---": what `detour compile` writes to clusters/<cluster>.yaml or
	// edge.yaml, or hand-written Istio resources. Resources without a
	// namespace land in "default".
	Config string
	// ConfigName names Config in errors (a file path); "config" when empty.
	ConfigName string
	// Files are more configuration files (e.g. every YAML file of an
	// --istio directory), each parsed on its own so errors name the file.
	Files []File
	// SkipOtherKinds skips documents of kinds Istio's generator does not
	// read (Deployments, Services, ...); otherwise they are an error.
	SkipOtherKinds bool
	// Clusters are the Kubernetes clusters istiod watches. The Kubernetes
	// objects (Namespace, Nodes, Services, Pods, EndpointSlices) are
	// synthesised from them. A cluster with no services may be omitted.
	Clusters []Cluster
	// NetworkGateways are east-west gateways istiod knows without
	// watching their cluster's services: what it holds after resolving a
	// gateway's host name (model/network.go resolveHostnameGateways makes
	// one gateway per address the name resolves to). Istio then replaces
	// every endpoint of the network, seen from a proxy on another network,
	// by these gateways, as for Cluster.EastWestGateway.
	NetworkGateways []NetworkGateway
}

// NetworkGateway is a resolved east-west gateway of a remote network.
type NetworkGateway struct {
	// Network is the Istio network the gateway leads into; Cluster the
	// cluster ID it belongs to (may be empty: the network's alone).
	Network, Cluster string
	// Address is an IP address; Port 0 means 15443.
	Address string
	Port    uint32
}

// File is one configuration file: its name (for errors) and its YAML.
type File struct {
	Name string
	Data []byte
}

// Cluster is one Kubernetes cluster as Istio's registry sees it.
type Cluster struct {
	// ID is the Istio cluster ID (topology.istio.io/cluster).
	ID string
	// Network is the Istio network of the cluster's pods
	// (topology.istio.io/network); empty means a flat network.
	Network string
	// Region, Zone and Subzone are the default locality of the cluster's
	// nodes (topology.kubernetes.io/region, .../zone,
	// topology.istio.io/subzone); an Endpoint may override them.
	Region, Zone, Subzone string
	// EastWestGateway, when set, makes the cluster's network reachable
	// through that gateway: Istio (multi-network) then replaces every
	// endpoint of this network, seen from a proxy on another network, by
	// one endpoint at the gateway's address. Leave it unset for Detour's
	// compiled output, whose WorkloadEntries already point at the remote
	// gateways.
	EastWestGateway *Gateway
	// Services are the cluster's Kubernetes Services and their endpoints.
	Services []Service
}

// Gateway is an east-west gateway's address.
type Gateway struct {
	// Address is an IP address.
	Address string
	// Port is the mTLS port; 0 means 15443.
	Port uint32
}

// Service is a Kubernetes Service and the pods behind it.
type Service struct {
	Name      string
	Namespace string
	// Labels are the Service's labels.
	Labels map[string]string
	// Ports are the Service's ports. Istio infers the protocol from the
	// name ("http", "http-web", "grpc", ...) or AppProtocol.
	Ports []Port
	// Endpoints are the Service's pods in this cluster (one EndpointSlice).
	Endpoints []Endpoint
}

// Port is one Service port.
type Port struct {
	Name string
	Port uint32
	// TargetPort is the pod's port; 0 means Port.
	TargetPort uint32
	// AppProtocol is the Service port's appProtocol (optional).
	AppProtocol string
}

// Endpoint is one pod of a Service.
type Endpoint struct {
	// IP is the pod IP.
	IP string
	// Name is the pod name; empty means derived from the Service and IP.
	Name string
	// Labels are the pod's labels (subset labels such as version). "app"
	// defaults to the Service name; the sidecar's security.istio.io/tlsMode
	// "istio" and the cluster's network label are added.
	Labels map[string]string
	// Region, Zone, Subzone override the cluster's locality for this pod.
	Region, Zone, Subzone string
	// NotReady marks the pod not ready; Istio then leaves it out of EDS or
	// sends it UNHEALTHY (informer order decides), so it gets no traffic.
	NotReady bool
}

// Proxy is the simulated Envoy that receives the xDS.
type Proxy struct {
	// Type is Sidecar or Router; empty means Sidecar.
	Type ProxyType
	// Cluster is the Istio cluster ID the proxy runs in.
	Cluster string
	// Network is the proxy's Istio network.
	Network string
	// Region, Zone, Subzone are the proxy's locality. Istio orders failover
	// priorities from it; without a region every endpoint lands in priority 0.
	Region, Zone, Subzone string
	// IP is the proxy's address; empty means 10.255.0.1.
	IP string
	// Namespace is the proxy's namespace (its config namespace); empty
	// means "default" for a sidecar and "istio-system" for a router.
	Namespace string
	// Name is the pod name; empty means "<type>-<cluster>".
	Name string
	// Labels are the pod's labels: a gateway's labels select its Gateway
	// resources (e.g. istio: eastwestgateway, app: edgegw).
	Labels map[string]string
}
