// Package xdsgen runs Istio's own xDS generation in process: the xDS a
// simulated proxy receives is what istiod would push to it, never a second
// description of Istio's semantics.
//
// It drives Istio's fake discovery server (istio.io/istio/pilot/test/xds,
// the pinned version compiler/istiocheck uses) over one cluster's Istio
// configuration (what `detour compile` writes, or hand-written Istio YAML)
// and Kubernetes objects synthesised from a small topology (Services with
// named ports, Pods, Nodes carrying region and zone, EndpointSlices), and
// returns the proxy's listeners, routes, clusters, endpoints and extension
// configurations as an xds.Snapshot.
//
//	snap, err := xdsgen.Generate(ctx, xdsgen.Input{
//		ControlPlane: xdsgen.ControlPlane{
//			Config:     string(clusterYAML), // clusters/cluster-1.yaml
//			ConfigName: "out/bookinfo/reviews/clusters/cluster-1.yaml",
//			Clusters: []xdsgen.Cluster{{
//				ID: "cluster-1", Network: "network-1", Region: "us-east1", Zone: "us-east1-b",
//				Services: []xdsgen.Service{{
//					Name: "reviews", Namespace: "bookinfo",
//					Ports:     []xdsgen.Port{{Name: "http", Port: 9080}},
//					Endpoints: []xdsgen.Endpoint{{IP: "10.1.0.1", Labels: map[string]string{"version": "v1"}}},
//				}},
//			}},
//		},
//		Proxy: xdsgen.Proxy{Cluster: "cluster-1", Network: "network-1",
//			Region: "us-east1", Zone: "us-east1-b", Namespace: "bookinfo"},
//	})
//
// Start returns an Istiod that serves several proxies of one control plane
// (start-up is most of the cost); Generate is Start, one proxy, Close.
//
// Istio reports failures through a test.Failer; here they come back as
// errors (no panic, no exit), its cleanup runs on Close, and its logging is
// switched off.
package xdsgen
