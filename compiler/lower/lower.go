// Package lower turns a normalised intent into the typed Istio objects each
// cluster (and the edge gateway) needs.
//
// Per intent it produces one Bundle per cluster and, for an edge entry, one
// for the edge gateway:
//
//   - every cluster exports the service on its east-west gateway (Gateway,
//     AUTO_PASSTHROUGH, mTLS on the gateway's port, 15443 by default);
//   - where failover decisions are taken (each cluster's sidecars for an
//     east-west entry, the edge gateway for an edge entry): the
//     DestinationRule (mTLS, locality failover, outlier detection, connection
//     pool, retry budget, subsets), the VirtualService (retries, routes keyed
//     on the router filter's header), a WorkloadEntry per remote cluster (and
//     subset) pointing at that cluster's east-west gateway with its locality
//     and network, the WasmPlugins of Detour's filters, and an EnvoyFilter only
//     for the knobs Istio's API lacks.
//
// Rules (data residency) are enforced by construction: a cluster gets no
// WorkloadEntry for a cluster its traffic may not reach.
package lower

import (
	"fmt"
	"sort"

	"istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/detour-mesh/detour/compiler/explain"
	"github.com/detour-mesh/detour/compiler/intent"
)

// EdgeTarget is the Bundle.Target of the edge gateway's bundle.
const EdgeTarget = ""

// Well-known labels.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelIntent    = "detour.dev/intent"
	// LabelTarget (metadata) says where an object is applied: a cluster's
	// name, or "edge" for the edge gateway's cluster.
	LabelTarget = "detour.dev/target"
	// LabelCluster (WorkloadEntry labels) is the cluster an endpoint is in.
	// Istio overwrites topology.istio.io/cluster on a WorkloadEntry with the
	// cluster that stores it, so remote endpoints need a label of their own.
	LabelCluster = "detour.dev/cluster"
	// LabelService marks the WorkloadEntries of one intent so the edge
	// ServiceEntry selects exactly them.
	LabelService = "detour.dev/service"
	// LabelIntentNamespace is the intent's namespace on objects emitted in
	// another one (the edge's filters, in the gateway's namespace).
	LabelIntentNamespace = "detour.dev/intent-namespace"

	// AnnotationExcept and AnnotationExceptReason (the policies' reviewed
	// exceptions) are copied from the intent to every object.
	AnnotationExcept       = "policy.detour.dev/except"
	AnnotationExceptReason = "policy.detour.dev/except-reason"

	labelTopologyCluster = "topology.istio.io/cluster"
	labelTopologyNetwork = "topology.istio.io/network"
	// EastWestSelector is the label of Istio's standard east-west gateway.
	eastWestSelectorKey, eastWestSelectorValue = "istio", "eastwestgateway"
)

// Options are the compile options that are not part of the intent.
type Options struct {
	// WasmURL is where Istio pulls the filters' module (oci://, https://, file://).
	WasmURL string
	// WasmSHA256 pins the module (for oci://, the image manifest digest); empty = not pinned.
	WasmSHA256 string
	// SplitFilters emits the filters as three WasmPlugins (root IDs
	// detour-router, detour-retry, detour-outlier) instead of the one
	// combined WasmPlugin: for a module built before the combined root ID,
	// or to leave one filter out by deleting its WasmPlugin. It costs
	// about a quarter more CPU per request (BENCHMARKS.md, "Filters").
	SplitFilters bool
}

// DefaultWasmURL is the filters' image when no --wasm-url is given.
const DefaultWasmURL = "oci://ghcr.io/detour-mesh/filters:v0.1.0"

// Object is a typed Istio resource.
type Object interface {
	runtime.Object
	metav1.Object
}

// Bundle is what one cluster (or the edge gateway, Target == EdgeTarget) applies.
type Bundle struct {
	Target  string
	Objects []Object
}

// Lower produces the bundles of one intent: the edge gateway's first (if
// any), then the clusters in the intent's order. Objects within a bundle are
// in a fixed kind order, then by name.
func Lower(in intent.Intent, opts Options) ([]Bundle, error) {
	if opts.WasmURL == "" {
		opts.WasmURL = DefaultWasmURL
	}
	if len(in.Spec.Clusters) == 0 {
		return nil, fmt.Errorf("%s/%s: spec.clusters: at least one cluster is needed", in.Metadata.Namespace, in.Metadata.Name)
	}
	l := lowerer{in: in, opts: opts, fqdn: FQDN(in)}
	var out []Bundle
	if in.Spec.Entry.Kind == "edge" {
		if in.Spec.Entry.Edge == nil {
			return nil, fmt.Errorf("%s/%s: spec.entry.edge: must be set when entry.kind is edge", in.Metadata.Namespace, in.Metadata.Name)
		}
		b, err := l.edge()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	for _, c := range in.Spec.Clusters {
		b, err := l.cluster(c)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	for i := range out {
		sortObjects(out[i].Objects)
	}
	return out, nil
}

// FQDN is the service's fully qualified host name.
func FQDN(in intent.Intent) string {
	s := in.Spec.Service
	host := s.Host
	if host == "" {
		host = in.Metadata.Name
	}
	domain := s.ClusterDomain
	if domain == "" {
		domain = "cluster.local"
	}
	return fmt.Sprintf("%s.%s.svc.%s", host, in.Metadata.Namespace, domain)
}

type lowerer struct {
	in   intent.Intent
	opts Options
	fqdn string
}

func (l lowerer) meta(name, target string) metav1.ObjectMeta {
	labels := map[string]string{LabelManagedBy: "detour", LabelIntent: l.in.Metadata.Name, LabelTarget: target}
	if target == EdgeTarget {
		labels[LabelTarget] = "edge"
	}
	meta := metav1.ObjectMeta{Name: name, Namespace: l.in.Metadata.Namespace, Labels: labels}
	// The policy exceptions a team reviewed on the intent hold for what is
	// compiled from it: the same rule ids check both.
	for _, k := range []string{AnnotationExcept, AnnotationExceptReason} {
		if v, ok := l.in.Metadata.Annotations[k]; ok {
			if meta.Annotations == nil {
				meta.Annotations = map[string]string{}
			}
			meta.Annotations[k] = v
		}
	}
	return meta
}

// extMeta is the metadata of a WasmPlugin or EnvoyFilter. The edge's go to
// the gateway's namespace: Istio applies their selector only to pods of
// their own namespace (pilot/pkg/model/policyattachment.go, unless in the
// root namespace). There they are named after the intent's namespace too,
// so intents of several namespaces behind one gateway never collide (a
// namespace has no dot, so the name is unambiguous).
func (l lowerer) extMeta(suffix, target string) metav1.ObjectMeta {
	m := l.meta(l.name(suffix), target)
	if target != EdgeTarget {
		return m
	}
	if ns := l.in.Spec.Entry.Edge.GatewayNamespace; ns != "" && ns != m.Namespace {
		m.Labels[LabelIntentNamespace] = m.Namespace
		m.Name = m.Namespace + "." + m.Name
		m.Namespace = ns
	}
	return m
}

func (l lowerer) name(suffix ...string) string {
	n := l.in.Metadata.Name
	for _, s := range suffix {
		n += "-" + s
	}
	return n
}

// cluster is one cluster's bundle.
func (l lowerer) cluster(c intent.Cluster) (Bundle, error) {
	b := Bundle{Target: c.Name}
	b.Objects = append(b.Objects, l.eastWestGateway(c))
	if l.in.Spec.Entry.Kind == "edge" {
		return b, nil
	}
	lad, _ := explain.LadderFrom(l.in, c.Name)
	allowed := explain.Allowed(l.in, c)
	var remotes []intent.Cluster
	for _, r := range l.in.Spec.Clusters {
		if r.Name != c.Name && allowed[r.Name] {
			remotes = append(remotes, r)
		}
	}
	b.Objects = append(b.Objects, l.destinationRule(c.Name, lad))
	b.Objects = append(b.Objects, l.virtualService(c.Name, lad, nil, nil))
	b.Objects = append(b.Objects, l.workloadEntries(c.Name, lad, remotes)...)
	rest, err := l.extensions(c.Name, c.Name, lad)
	if err != nil {
		return Bundle{}, err
	}
	b.Objects = append(b.Objects, rest...)
	return b, nil
}

// edge is the edge gateway's bundle: every cluster is remote to it.
func (l lowerer) edge() (Bundle, error) {
	e := l.in.Spec.Entry.Edge
	b := Bundle{Target: EdgeTarget}
	lad := edgeLadder(l.in)
	b.Objects = append(b.Objects, l.edgeGateway(e))
	b.Objects = append(b.Objects, l.serviceEntry())
	b.Objects = append(b.Objects, l.destinationRule(EdgeTarget, lad))
	gw := l.in.Metadata.Namespace + "/" + l.gatewayName("edge")
	b.Objects = append(b.Objects, l.virtualService(EdgeTarget, lad, e.Hosts, []string{gw}))
	b.Objects = append(b.Objects, l.workloadEntries(EdgeTarget, lad, l.in.Spec.Clusters)...)
	rest, err := l.extensions(EdgeTarget, "", lad)
	if err != nil {
		return Bundle{}, err
	}
	b.Objects = append(b.Objects, rest...)
	return b, nil
}

// edgeLadder is the ladder seen from the edge gateway, which is in no
// cluster: named and activeStandby keep their order, weighted its split;
// auto puts every cluster on one tier and leaves nearest-first to Istio's
// locality load balancing, which knows where the edge gateway runs.
func edgeLadder(in intent.Intent) explain.Ladder {
	f := in.Spec.Failover
	if f.Mode != intent.ModeAuto {
		// The first cluster's ladder, without rules: the edge is no source.
		free := in
		free.Spec.Failover.Rules = nil
		lad, _ := explain.LadderFrom(free, in.Spec.Clusters[0].Name)
		lad.From = ""
		return lad
	}
	t := explain.Tier{Priority: 0}
	for _, c := range in.Spec.Clusters {
		t.Clusters = append(t.Clusters, explain.Share{Cluster: c.Name})
	}
	total := 0.0
	for _, c := range in.Spec.Clusters {
		total += weightOf(c)
	}
	for i, c := range in.Spec.Clusters {
		t.Clusters[i].Percent = 100 * weightOf(c) / total
	}
	return explain.Ladder{Mode: f.Mode, Tiers: []explain.Tier{t}}
}

func weightOf(c intent.Cluster) float64 {
	if c.Endpoints > 0 {
		return float64(c.Endpoints)
	}
	return 1
}

// eastWestGateway exports the service through the cluster's east-west
// gateway: TLS passthrough routed by SNI, so mTLS stays end to end.
//
// The server's hosts are the export: for an AUTO_PASSTHROUGH server Istio
// builds one SNI filter chain per port and subset of each Service the hosts
// match, and none for any other, so listing exactly the intent's host
// exports exactly this service (harness/simulator/xdsgen checks it on Istio's own
// output). One host per Gateway also keeps intents apart: Istio drops a
// whole server whose host another Gateway on the port already lists.
func (l lowerer) eastWestGateway(c intent.Cluster) *networkingv1.Gateway {
	port := c.EastWestGateway.Port
	if port == 0 {
		port = 15443
	}
	return &networkingv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "Gateway"},
		ObjectMeta: l.meta(l.gatewayName("eastwest"), c.Name),
		Spec: v1alpha3.Gateway{
			Selector: map[string]string{eastWestSelectorKey: eastWestSelectorValue},
			Servers: []*v1alpha3.Server{{
				Port:  &v1alpha3.Port{Number: port, Name: "tls-detour", Protocol: "TLS"},
				Hosts: []string{l.fqdn},
				Tls:   &v1alpha3.ServerTLSSettings{Mode: v1alpha3.ServerTLSSettings_AUTO_PASSTHROUGH},
			}},
		},
	}
}

func (l lowerer) edgeGateway(e *intent.Edge) *networkingv1.Gateway {
	srv := &v1alpha3.Server{
		Port:  &v1alpha3.Port{Number: e.Port, Name: "http-detour", Protocol: "HTTP"},
		Hosts: append([]string(nil), e.Hosts...),
	}
	if e.CredentialName != "" {
		srv.Port = &v1alpha3.Port{Number: e.Port, Name: "https-detour", Protocol: "HTTPS"}
		srv.Tls = &v1alpha3.ServerTLSSettings{Mode: v1alpha3.ServerTLSSettings_SIMPLE, CredentialName: e.CredentialName}
	}
	return &networkingv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "Gateway"},
		ObjectMeta: l.meta(l.gatewayName("edge"), EdgeTarget),
		Spec:       v1alpha3.Gateway{Selector: copyMap(e.GatewaySelector), Servers: []*v1alpha3.Server{srv}},
	}
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// kindOrder fixes the order of objects in a bundle.
var kindOrder = map[string]int{
	"Gateway": 0, "ServiceEntry": 1, "WorkloadEntry": 2, "DestinationRule": 3,
	"VirtualService": 4, "EnvoyFilter": 5, "WasmPlugin": 6,
}

func sortObjects(objs []Object) {
	sort.SliceStable(objs, func(i, j int) bool {
		ki := kindOrder[objs[i].GetObjectKind().GroupVersionKind().Kind]
		kj := kindOrder[objs[j].GetObjectKind().GroupVersionKind().Kind]
		if ki != kj {
			return ki < kj
		}
		return objs[i].GetName() < objs[j].GetName()
	})
}

// gatewayName names a Gateway: Istio requires a DNS label there, so a long
// intent name is shortened (see shortLabel).
func (l lowerer) gatewayName(suffix string) string { return shortLabel(l.name(suffix)) }
