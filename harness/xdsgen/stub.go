package xdsgen

import (
	"context"
	"errors"

	"github.com/detour-mesh/detour/harness/xds"
)

// IstioVersion is the version the simulated proxies announce to istiod:
// the pinned Istio's own (its VERSION file), so that no backwards
// compatibility path for older proxies shapes the output.
const IstioVersion = "1.31.0"

var errNotYet = errors.New("xdsgen: not implemented yet")

// Istiod is Istio's control plane for one cluster, running in process: its
// configuration store, its Kubernetes registries (fake clients filled with
// the synthesised objects) and its endpoint index. Generating for several
// proxies of one cluster from one Istiod saves the start-up, which is most
// of the cost. An Istiod is safe for concurrent use.
type Istiod struct{}

// Generate runs Istio's xDS generation for one proxy: it starts an Istiod
// over in.ControlPlane (ControlPlane.Cluster defaults to Proxy.Cluster),
// generates in.Proxy's snapshot and releases the Istiod. Use Start and
// Istiod.Generate to serve several proxies of one control plane.
func Generate(ctx context.Context, in Input) (*xds.Snapshot, error) { return nil, errNotYet }

// Start parses the control plane's configuration, synthesises its
// Kubernetes objects and starts Istio's fake discovery server on them.
// Errors name the configuration document (file:line:col, kind, name) or
// the topology field at fault. Close the Istiod when done.
func Start(ctx context.Context, cp ControlPlane) (*Istiod, error) { return nil, errNotYet }

// Generate returns the xDS Istio pushes to p: listeners, the route
// configurations they reference, clusters, the ClusterLoadAssignment of
// every EDS cluster (priorities, localities, weights, as Istio's endpoint
// builder computes them for p's locality and network) and the extension
// configurations (ECDS) the listeners' filters discover, which is where
// WasmPlugins land.
func (d *Istiod) Generate(ctx context.Context, p Proxy) (*xds.Snapshot, error) { return nil, errNotYet }

// Close stops the Istiod and runs its cleanup. It is safe to call twice.
func (d *Istiod) Close() {}
