// Package xds holds the configuration one simulated proxy receives, as
// Envoy's own protos (go-control-plane types). Istio's generator fills it
// (harness/simulator/xdsgen); the Envoy model (harness/simulator/envoy) reads it. Keeping the
// type here lets the model build and test without linking Istio.
package xds

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// Snapshot is the xDS of one proxy: LDS, RDS, CDS, EDS and ECDS.
type Snapshot struct {
	// Node names the proxy the snapshot was generated for (Istio's
	// proxy ID, e.g. "router~10.0.0.1~gw.istio-system~istio-system.svc.cluster.local").
	Node       string
	Listeners  []*listenerv3.Listener
	Routes     []*routev3.RouteConfiguration
	Clusters   []*clusterv3.Cluster
	Endpoints  []*endpointv3.ClusterLoadAssignment
	Extensions []*corev3.TypedExtensionConfig
}

// Cluster returns the named CDS cluster, or nil.
func (s *Snapshot) Cluster(name string) *clusterv3.Cluster {
	for _, c := range s.Clusters {
		if c.GetName() == name {
			return c
		}
	}
	return nil
}

// LoadAssignment returns the EDS assignment of the named cluster, or nil.
func (s *Snapshot) LoadAssignment(name string) *endpointv3.ClusterLoadAssignment {
	for _, e := range s.Endpoints {
		if e.GetClusterName() == name {
			return e
		}
	}
	return nil
}
