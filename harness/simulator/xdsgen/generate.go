package xdsgen

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"k8s.io/apimachinery/pkg/runtime"

	"istio.io/istio/pilot/pkg/model"
	fakexds "istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/cluster"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/kube/krt"
	"istio.io/istio/pkg/log"
	"istio.io/istio/pkg/network"
	"istio.io/istio/pkg/wellknown"

	"github.com/detour-mesh/detour/harness/simulator/xds"
)

// IstioVersion is the version the simulated proxies announce to istiod:
// the pinned Istio's own (its VERSION file), so that no backwards
// compatibility path for older proxies shapes the output.
const IstioVersion = "1.31.0"

// Istiod is Istio's control plane for one cluster, running in process: its
// configuration store, its Kubernetes registries (fake clients filled with
// the synthesised objects) and its endpoint index. Generating for several
// proxies of one cluster from one Istiod saves the start-up, which is most
// of the cost. An Istiod is safe for concurrent use.
type Istiod struct {
	f      *failer
	server *fakexds.FakeDiscoveryServer
	mu     sync.Mutex
}

// Generate runs Istio's xDS generation for one proxy: it starts an Istiod
// over in.ControlPlane, generates in.Proxy's snapshot and releases the
// Istiod. Use Start and Istiod.Generate to serve several proxies of one
// control plane.
func Generate(ctx context.Context, in Input) (*xds.Snapshot, error) {
	cp := in.ControlPlane
	if cp.Cluster == "" {
		cp.Cluster = in.Proxy.Cluster
	}
	d, err := Start(ctx, cp)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Generate(ctx, in.Proxy)
}

// Start parses the control plane's configuration, synthesises its
// Kubernetes objects and starts Istio's fake discovery server on them.
// Errors name the configuration document or the topology field at fault.
// Close the Istiod when done.
func Start(ctx context.Context, cp ControlPlane) (*Istiod, error) {
	if cp.Cluster == "" {
		return nil, errors.New("xdsgen: control plane: cluster is empty (set ControlPlane.Cluster or Proxy.Cluster)")
	}
	var docs []parsed
	if cp.Config != "" {
		ps, err := parseConfig(cp.ConfigName, cp.Config, cp.SkipOtherKinds)
		if err != nil {
			return nil, err
		}
		docs = ps
	}
	for _, f := range cp.Files {
		ps, err := parseConfig(f.Name, string(f.Data), cp.SkipOtherKinds)
		if err != nil {
			return nil, err
		}
		docs = append(docs, ps...)
	}
	configs := make([]config.Config, 0, len(docs))
	first := map[string]string{}
	for _, p := range docs {
		key := p.cfg.GroupVersionKind.Kind + " " + p.cfg.Namespace + "/" + p.cfg.Name
		if w, dup := first[key]; dup {
			return nil, fmt.Errorf("%s: %s is already defined at %s", p.where, key, w)
		}
		first[key] = p.where
		configs = append(configs, p.cfg)
	}
	objects := map[cluster.ID][]runtime.Object{cluster.ID(cp.Cluster): nil}
	var gateways []model.NetworkGateway
	seen := map[string]bool{}
	for i, c := range cp.Clusters {
		if c.ID == "" {
			return nil, fmt.Errorf("xdsgen: control plane: clusters[%d]: id is empty", i)
		}
		if seen[c.ID] {
			return nil, fmt.Errorf("xdsgen: control plane: clusters[%d]: cluster %s is listed twice", i, c.ID)
		}
		seen[c.ID] = true
		objs, err := kubeObjects(c)
		if err != nil {
			return nil, fmt.Errorf("xdsgen: control plane: %w", err)
		}
		objects[cluster.ID(c.ID)] = objs
		if gw := c.EastWestGateway; gw != nil {
			if _, err := netip.ParseAddr(gw.Address); err != nil {
				return nil, fmt.Errorf("xdsgen: control plane: cluster %s: eastWestGateway.address %q: want an IP address", c.ID, gw.Address)
			}
			if c.Network == "" {
				return nil, fmt.Errorf("xdsgen: control plane: cluster %s: an east-west gateway needs the cluster's network", c.ID)
			}
			port := gw.Port
			if port == 0 {
				port = 15443
			}
			gateways = append(gateways, model.NetworkGateway{
				Network: network.ID(c.Network), Cluster: cluster.ID(c.ID), Addr: gw.Address, Port: port,
			})
		}
	}
	for i, gw := range cp.NetworkGateways {
		if _, err := netip.ParseAddr(gw.Address); err != nil {
			return nil, fmt.Errorf("xdsgen: control plane: networkGateways[%d]: address %q: want an IP address (istiod resolves a host name to these)", i, gw.Address)
		}
		if gw.Network == "" {
			return nil, fmt.Errorf("xdsgen: control plane: networkGateways[%d]: network is empty", i)
		}
		port := gw.Port
		if port == 0 {
			port = 15443
		}
		gateways = append(gateways, model.NetworkGateway{
			Network: network.ID(gw.Network), Cluster: cluster.ID(gw.Cluster), Addr: gw.Address, Port: port,
		})
	}
	globalMu.Lock()
	defer globalMu.Unlock()
	silenceIstio()
	// Istio's fake server registers every krt collection it builds with
	// the process-wide krt.GlobalDebugHandler, which never forgets one:
	// about 2 MB per start would stay reachable for the life of the
	// process. A fresh handler per start leaves the old collections to
	// the garbage collector once their Istiod is closed.
	krt.GlobalDebugHandler = new(krt.DebugHandler)

	d := &Istiod{f: &failer{}}
	err := d.call(ctx, func() {
		d.server = fakexds.NewFakeDiscoveryServer(d.f, fakexds.FakeOptions{
			DefaultClusterName:         cluster.ID(cp.Cluster),
			KubernetesObjectsByCluster: objects,
			Configs:                    configs,
			Gateways:                   gateways,
		})
	})
	if err != nil {
		if ctx.Err() == nil {
			d.Close() // on cancellation, call closes it once the start returns
		}
		return nil, fmt.Errorf("xdsgen: starting istiod for cluster %s: %w", cp.Cluster, err)
	}
	return d, nil
}

// Close stops the Istiod and runs its cleanup. It is safe to call twice.
func (d *Istiod) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.f.close()
}

// call runs fn under the failer. When ctx ends first, call returns
// ctx.Err() and the Istiod is closed once fn returns.
func (d *Istiod) call(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	res := make(chan error, 1)
	go func() { res <- d.f.run(fn) }()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		go func() { <-res; d.Close() }()
		return ctx.Err()
	}
}

// Generate returns the xDS Istio pushes to p: listeners, the route
// configurations they reference, clusters, the ClusterLoadAssignment of
// every EDS cluster (priorities, localities, weights, as Istio's endpoint
// builder computes them for p's locality and network) and the extension
// configurations (ECDS) the listeners' filters discover, which is where
// WasmPlugins land. Calls are serialised. If ctx ends before the
// generation does, Generate returns ctx.Err() and the Istiod is closed.
func (d *Istiod) Generate(ctx context.Context, p Proxy) (*xds.Snapshot, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f.isClosed() {
		return nil, errors.New("xdsgen: Istiod is closed")
	}
	proxy, err := modelProxy(p)
	if err != nil {
		return nil, err
	}
	snap := &xds.Snapshot{}
	err = d.call(ctx, func() {
		s := d.server
		proxy = s.SetupProxy(proxy)
		snap.Node = fmt.Sprintf("%s~%s~%s~%s", proxy.Type, proxy.IPAddresses[0], proxy.ID, proxy.DNSDomain)
		snap.Listeners = s.Listeners(proxy)
		snap.Routes = s.RoutesFromListeners(proxy, snap.Listeners)
		snap.Clusters = s.Clusters(proxy)
		snap.Endpoints = s.Endpoints(proxy)
		names := extensionConfigNames(snap.Listeners)
		if len(names) > 0 {
			snap.Extensions = s.ConfigGen.BuildExtensionConfiguration(proxy, s.PushContext(), names, nil)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("xdsgen: generating for %s: %w", snap.Node, err)
	}
	sort.SliceStable(snap.Extensions, func(i, j int) bool { return snap.Extensions[i].GetName() < snap.Extensions[j].GetName() })
	return snap, nil
}

// modelProxy is the proxy as istiod knows it after the proxy connects.
func modelProxy(p Proxy) (*model.Proxy, error) {
	typ := p.Type
	if typ == "" {
		typ = Sidecar
	}
	ns := p.Namespace
	var nodeType model.NodeType
	switch typ {
	case Sidecar:
		nodeType = model.SidecarProxy
		if ns == "" {
			ns = "default"
		}
	case Router:
		nodeType = model.Router
		if ns == "" {
			ns = systemNamespace
		}
	default:
		return nil, fmt.Errorf("xdsgen: proxy: type %q: want %q or %q", p.Type, Sidecar, Router)
	}
	if p.Cluster == "" {
		return nil, errors.New("xdsgen: proxy: cluster is empty")
	}
	ip := p.IP
	if ip == "" {
		ip = "10.255.0.1"
	}
	if _, err := netip.ParseAddr(ip); err != nil {
		return nil, fmt.Errorf("xdsgen: proxy: ip %q: want an IP address", p.IP)
	}
	name := p.Name
	if name == "" {
		name = dnsLabel(string(typ) + "-" + p.Cluster)
	}
	labels := map[string]string{}
	for k, v := range p.Labels {
		labels[k] = v
	}
	if p.Network != "" {
		labels[labelNetwork] = p.Network
	}
	return &model.Proxy{
		Type:            nodeType,
		IPAddresses:     []string{ip},
		ID:              name + "." + ns,
		ConfigNamespace: ns,
		Labels:          labels,
		Locality:        &corev3.Locality{Region: p.Region, Zone: p.Zone, SubZone: p.Subzone},
		Metadata: &model.NodeMetadata{
			IstioVersion: IstioVersion,
			Network:      network.ID(p.Network),
			ClusterID:    cluster.ID(p.Cluster),
			Namespace:    ns,
			Labels:       labels,
		},
	}, nil
}

// extensionConfigNames are the ECDS resources the listeners' filters
// discover (config_discovery): Wasm HTTP and network filters from
// WasmPlugins, and EnvoyFilter-inserted extension configs.
func extensionConfigNames(ls []*listenerv3.Listener) []string {
	set := map[string]bool{}
	for _, l := range ls {
		for _, fc := range append(append([]*listenerv3.FilterChain{}, l.GetFilterChains()...), l.GetDefaultFilterChain()) {
			for _, f := range fc.GetFilters() {
				if cd := f.GetConfigDiscovery(); cd != nil {
					set[f.GetName()] = true
				}
				if f.GetName() != wellknown.HTTPConnectionManager || f.GetTypedConfig() == nil {
					continue
				}
				h := &hcmv3.HttpConnectionManager{}
				if err := f.GetTypedConfig().UnmarshalTo(h); err != nil {
					continue
				}
				for _, hf := range h.GetHttpFilters() {
					if hf.GetConfigDiscovery() != nil {
						set[hf.GetName()] = true
					}
				}
			}
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// globalMu serialises the starts of Istiods: Istio's fake server reads
// process-wide state (log scopes, krt's debug handler) while it builds.
var globalMu sync.Mutex

// silenceIstio turns every Istio log scope off: istiod logs to stderr, and
// a simulation prints only what the product means to print. Scopes
// registered later (lazily, by packages initialised on first use) are
// caught by the next call.
func silenceIstio() {
	for _, s := range log.Scopes() {
		s.SetOutputLevel(log.NoneLevel)
		s.SetStackTraceLevel(log.NoneLevel)
	}
}
