package lower

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/detour-mesh/detour/compiler/explain"
	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/plugins/config"
)

// ClusterSubset is the DestinationRule subset holding one cluster's endpoints;
// the routes keyed on the router filter's header point at it. Istio takes a
// subset name as a DNS label, so a long cluster name is shortened.
func ClusterSubset(cluster string) string { return shortLabel("cluster-" + cluster) }

// maxLabel is the length of a DNS label, the limit Istio puts on subset names.
const maxLabel = 63

// shortLabel keeps a generated name within a DNS label: a name too long is
// cut and ends with a hash of the whole, so distinct names stay distinct and
// the same name always gives the same result.
func shortLabel(name string) string {
	if len(name) <= maxLabel {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:])[:10]
	return strings.TrimRight(name[:maxLabel-len(h)-1], "-.") + "-" + h
}

func dur(d intent.Duration) *durationpb.Duration { return durationpb.New(d.Duration) }

// strict reports a strict weighted split (no failover).
func (l lowerer) strict() bool {
	return l.in.Spec.Failover.Mode == intent.ModeWeighted && !l.in.Spec.Failover.HealthAware
}

// clusterSubsets: the per-cluster subsets exist when something routes to
// them: the router filter's header routes, or a strict weighted split.
func (l lowerer) clusterSubsets() bool { return l.in.Spec.Plugins.Enabled || l.strict() }

// destinationRule is the client-side policy of the service for one proxy
// (a cluster's sidecars, or the edge gateway).
func (l lowerer) destinationRule(target string, lad explain.Ladder) *networkingv1.DestinationRule {
	s := l.in.Spec
	d := s.Detection
	od := &v1alpha3.OutlierDetection{
		Consecutive_5XxErrors:    wrapperspb.UInt32(d.Consecutive5xx),
		ConsecutiveGatewayErrors: wrapperspb.UInt32(d.ConsecutiveGatewayErrors),
		Interval:                 dur(d.Interval),
		BaseEjectionTime:         dur(d.BaseEjectionTime),
		MaxEjectionPercent:       int32(d.MaxEjectionPercent),
		MinHealthPercent:         int32(d.MinHealthPercent),
	}
	if d.SplitLocalOrigin {
		od.SplitExternalLocalOriginErrors = true
		od.ConsecutiveLocalOriginFailures = wrapperspb.UInt32(d.ConsecutiveLocalOriginFailures)
	}
	var subsetOD *v1alpha3.OutlierDetection // nil: the service's
	if target == EdgeTarget {
		od, subsetOD = l.edgeOutlier(od, lad)
	}
	tp := &v1alpha3.TrafficPolicy{
		Tls:              &v1alpha3.ClientTLSSettings{Mode: v1alpha3.ClientTLSSettings_ISTIO_MUTUAL},
		LoadBalancer:     &v1alpha3.LoadBalancerSettings{LocalityLbSetting: l.locality(target, lad)},
		OutlierDetection: od,
		ConnectionPool: &v1alpha3.ConnectionPoolSettings{
			// A failover tier must fail fast: Envoy's default connect timeout
			// (10 s) would hold requests long past the per-try timeout.
			Tcp: &v1alpha3.ConnectionPoolSettings_TCPSettings{ConnectTimeout: durationpb.New(connectTimeout(s.Retries))},
		},
	}
	if b := s.Retries.Budget; b != nil {
		tp.RetryBudget = &v1alpha3.TrafficPolicy_RetryBudget{Percent: wrapperspb.Double(b.Percent), MinRetryConcurrency: b.MinConcurrency}
	}
	var subsets []*v1alpha3.Subset
	for _, sub := range s.Subsets {
		subsets = append(subsets, &v1alpha3.Subset{Name: sub.Name, Labels: copyMap(sub.Labels)})
	}
	if l.clusterSubsets() {
		for _, c := range ladderClusters(lad) {
			k, v := l.endpointLabel(target, c)
			sub := &v1alpha3.Subset{Name: ClusterSubset(c), Labels: map[string]string{k: v}}
			if subsetOD != nil {
				// Istio takes a subset's outlierDetection whole, the rest
				// of the service's policy field by field (MergeTrafficPolicy).
				sub.TrafficPolicy = &v1alpha3.TrafficPolicy{OutlierDetection: subsetOD}
			}
			subsets = append(subsets, sub)
		}
	}
	subsets = append(subsets, l.pinnedSubsets(target, lad)...)
	subsets = append(subsets, l.probeSubsetsFor(target, lad)...)
	return &networkingv1.DestinationRule{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "DestinationRule"},
		ObjectMeta: l.meta(l.name(), target),
		Spec:       v1alpha3.DestinationRule{Host: l.fqdn, TrafficPolicy: tp, Subsets: subsets},
	}
}

// endpointLabel is the label that tells a cluster's endpoints apart as seen
// from target. Remote endpoints are WorkloadEntries labelled by Detour. The
// local pods are told by their network: Istio stamps its own cluster label
// with the storing cluster on WorkloadEntries too, so only the network
// (which Istio keeps as written) separates local pods from remote entries.
func (l lowerer) endpointLabel(target, cluster string) (string, string) {
	if target != EdgeTarget && target == cluster {
		return labelTopologyNetwork, clusterNamed(l.in, cluster).Network
	}
	return LabelCluster, cluster
}

// tierLabel marks the WorkloadEntries whose tier is at most m; a chain of
// them in failoverPriority reproduces a whole ladder (see nativePriority).
func tierLabel(m int) string { return fmt.Sprintf("detour.dev/tier-le-%d", m) }

// nativePriority expresses a named or active/standby ladder in Istio's
// failoverPriority, whose labels match by prefix: with labels
// [tier-le-(T-2), ..., tier-le-0], an entry of tier t matches the first
// T-1-t of them and so gets priority t. Only WorkloadEntries carry these
// labels, so the chain is exact at the edge gateway and where the local
// cluster is in the last tier (unlabelled pods fall to the last priority).
// Where the local cluster comes first alone, the local network is pinned
// (local first, the rest shared); otherwise a single remote first tier is
// pinned. The router filter keeps the full order in every case.
func (l lowerer) nativePriority(target string, lad explain.Ladder) []string {
	T := len(lad.Tiers)
	if T < 2 {
		return nil
	}
	localTier := -1
	for i, t := range lad.Tiers {
		for _, s := range t.Clusters {
			if s.Cluster == target {
				localTier = i
			}
		}
	}
	switch {
	case target == EdgeTarget || localTier == T-1:
		var out []string
		for m := T - 2; m >= 0; m-- {
			out = append(out, tierLabel(m)+"=true")
		}
		return out
	case len(lad.Tiers[0].Clusters) == 1:
		k, v := l.endpointLabel(target, lad.Tiers[0].Clusters[0].Cluster)
		return []string{k + "=" + v}
	}
	return nil
}

// tierLabels are the tier-le labels of a cluster's WorkloadEntries for
// the ladder seen from target; none when nativePriority does not use them.
func (l lowerer) tierLabels(target string, lad explain.Ladder, cluster string) map[string]string {
	pr := l.nativePriority(target, lad)
	if len(pr) == 0 || pr[0] != tierLabel(len(lad.Tiers)-2)+"=true" {
		return nil
	}
	out := map[string]string{}
	for t, tier := range lad.Tiers {
		for _, s := range tier.Clusters {
			if s.Cluster == cluster {
				for m := t; m <= len(lad.Tiers)-2; m++ {
					out[tierLabel(m)] = "true"
				}
			}
		}
	}
	return out
}

// connectTimeout is the per-try timeout capped at one second.
func connectTimeout(r intent.Retries) time.Duration {
	t := r.PerTryTimeout.Duration
	if t <= 0 || t > time.Second {
		t = time.Second
	}
	return t
}

// locality maps the mode to Istio's locality load balancing. Locality LB is
// always set explicitly: the mesh default may be off, and failover without it
// (and without outlier detection, always emitted) silently does nothing.
func (l lowerer) locality(target string, lad explain.Ladder) *v1alpha3.LocalityLoadBalancerSetting {
	f := l.in.Spec.Failover
	on := &v1alpha3.LocalityLoadBalancerSetting{Enabled: wrapperspb.Bool(true)}
	switch {
	case f.Mode == intent.ModeWeighted && !f.HealthAware:
		// The split is made by the VirtualService's weighted subsets; a dead
		// subset's share fails, as a strict split must.
		return &v1alpha3.LocalityLoadBalancerSetting{Enabled: wrapperspb.Bool(false)}
	case f.Mode == intent.ModeWeighted:
		// Envoy scales a locality's weight by its health, which keeps the
		// split among healthy clusters and redistributes a dead one's share.
		on.Distribute = []*v1alpha3.LocalityLoadBalancerSetting_Distribute{{From: "*", To: localityWeights(l.in, lad)}}
	case f.Mode == intent.ModeNamed || f.Mode == intent.ModeActiveStandby:
		on.FailoverPriority = l.nativePriority(target, lad)
	}
	return on
}

// localityWeights turns the tier-0 split into Istio's distribute weights,
// keyed by locality and summing to exactly 100.
func localityWeights(in intent.Intent, lad explain.Ladder) map[string]uint32 {
	if len(lad.Tiers) == 0 {
		return nil
	}
	by := map[string]float64{}
	for _, s := range lad.Tiers[0].Clusters {
		for _, c := range in.Spec.Clusters {
			if c.Name == s.Cluster {
				by[locality(c)+wildcard(c)] += s.Percent
			}
		}
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Largest remainder, so the integers add up to 100.
	out := map[string]uint32{}
	rest := 100
	type rem struct {
		k string
		r float64
	}
	var rems []rem
	for _, k := range keys {
		fl := math.Floor(by[k])
		out[k] = uint32(fl)
		rest -= int(fl)
		rems = append(rems, rem{k, by[k] - fl})
	}
	sort.SliceStable(rems, func(i, j int) bool { return rems[i].r > rems[j].r })
	for i := 0; rest > 0 && len(rems) > 0; i, rest = (i+1)%len(rems), rest-1 {
		out[rems[i].k]++
	}
	return out
}

// locality is the Istio locality string region/zone[/subzone].
func locality(c intent.Cluster) string {
	s := c.Region + "/" + c.Zone
	if c.SubZone != "" {
		s += "/" + c.SubZone
	}
	return s
}

func wildcard(c intent.Cluster) string {
	if c.SubZone != "" {
		return ""
	}
	return "/*"
}

func ladderClusters(lad explain.Ladder) []string {
	var out []string
	for _, t := range lad.Tiers {
		for _, s := range t.Clusters {
			out = append(out, s.Cluster)
		}
	}
	return out
}

// virtualService routes the service (hosts nil: the mesh host) or the edge
// hostnames bound to gateways.
func (l lowerer) virtualService(target string, lad explain.Ladder, hosts, gateways []string) *networkingv1.VirtualService {
	name := l.name()
	if hosts == nil {
		hosts = []string{l.fqdn}
	} else {
		name = l.name("edge")
	}
	team := l.teamRoutes()
	// A team route without a match (the loader keeps it last) takes every
	// request Detour's own route would: that route is left out, as Istio
	// rejects a rule no request reaches.
	catchAll := len(team) > 0 && len(team[len(team)-1].Match) == 0
	var routes []*v1alpha3.HTTPRoute
	if l.in.Spec.Plugins.Enabled {
		// Routes keyed on the router filter's decision come first; a client
		// cannot reach them with its own header because the filter strips it.
		// The team's routes for a cluster come before Detour's route for it:
		// they are narrower and keep the cluster the filter picked.
		for _, c := range ladderClusters(lad) {
			for _, tr := range team {
				routes = append(routes, l.expand(l.pinned(tr, target, c))...)
			}
			if catchAll {
				continue
			}
			match := &v1alpha3.HTTPMatchRequest{Headers: map[string]*v1alpha3.StringMatch{
				config.HeaderCluster: {MatchType: &v1alpha3.StringMatch_Exact{Exact: c}},
			}}
			dest := []*v1alpha3.HTTPRouteDestination{{Destination: l.dest(ClusterSubset(c))}}
			routes = append(routes, l.expand(&v1alpha3.HTTPRoute{Name: ClusterSubset(c), Match: []*v1alpha3.HTTPMatchRequest{match}, Route: dest})...)
		}
	}
	// Without the filter's header (plugins off, or the filter failed
	// open) the team's routes apply as written, failing over natively.
	for _, tr := range team {
		routes = append(routes, l.expand(tr)...)
	}
	if catchAll {
		return l.vs(name, target, hosts, gateways, routes)
	}
	var dest []*v1alpha3.HTTPRouteDestination
	if l.strict() && len(lad.Tiers) > 0 {
		for _, s := range lad.Tiers[0].Clusters {
			dest = append(dest, &v1alpha3.HTTPRouteDestination{Destination: l.dest(ClusterSubset(s.Cluster)), Weight: int32(math.Round(s.Percent))})
		}
		fixWeights(dest)
	} else {
		dest = []*v1alpha3.HTTPRouteDestination{{Destination: l.dest("")}}
	}
	routes = append(routes, l.expand(&v1alpha3.HTTPRoute{Name: "default", Route: dest})...)
	return l.vs(name, target, hosts, gateways, routes)
}

func (l lowerer) vs(name, target string, hosts, gateways []string, routes []*v1alpha3.HTTPRoute) *networkingv1.VirtualService {
	return &networkingv1.VirtualService{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "VirtualService"},
		ObjectMeta: l.meta(name, target),
		Spec:       v1alpha3.VirtualService{Hosts: hosts, Gateways: gateways, Http: routes},
	}
}

// fixWeights makes rounded weights add up to 100 (Istio requires it).
func fixWeights(d []*v1alpha3.HTTPRouteDestination) {
	sum := int32(0)
	for _, x := range d {
		sum += x.Weight
	}
	if len(d) > 0 {
		d[0].Weight += 100 - sum
	}
}

func (l lowerer) dest(subset string) *v1alpha3.Destination {
	return &v1alpha3.Destination{Host: l.fqdn, Subset: subset, Port: &v1alpha3.PortSelector{Number: l.in.Spec.Service.Port}}
}

// expand turns one logical route into a retried route for the idempotent
// methods and a route without retries for the others: Istio's retry policy
// cannot be restricted by method. Everything of base is kept but retries
// and timeout, which are the intent's.
func (l lowerer) expand(base *v1alpha3.HTTPRoute) []*v1alpha3.HTTPRoute {
	r := l.in.Spec.Retries
	var timeout *durationpb.Duration
	if r.Timeout.Duration > 0 {
		timeout = dur(r.Timeout)
	}
	plain := proto.Clone(base).(*v1alpha3.HTTPRoute)
	plain.Timeout = timeout
	// attempts 0 turns off the mesh's default retries for methods that
	// are not safe to repeat.
	plain.Retries = &v1alpha3.HTTPRetry{Attempts: 0}
	// Every gRPC call is a POST: it is retried only on the explicit
	// opt-in, and then whatever its method.
	grpc := l.in.Spec.Service.Protocol == "GRPC"
	if r.Attempts == 0 || (!grpc && len(r.Methods) == 0) || (grpc && !r.NonIdempotent) {
		return []*v1alpha3.HTTPRoute{plain}
	}
	ms := base.Match
	if !grpc {
		ms = nil
		each := []*v1alpha3.HTTPMatchRequest{{}}
		if len(base.Match) > 0 {
			each = base.Match
		}
		for _, m := range each {
			m = proto.Clone(m).(*v1alpha3.HTTPMatchRequest)
			m.Method = &v1alpha3.StringMatch{MatchType: &v1alpha3.StringMatch_Regex{Regex: methodRegex(r.Methods)}}
			ms = append(ms, m)
		}
	}
	retried := proto.Clone(base).(*v1alpha3.HTTPRoute)
	retried.Name = base.Name + "-retry"
	retried.Match = ms
	retried.Timeout = timeout
	retried.Retries = &v1alpha3.HTTPRetry{
		Attempts:              int32(r.Attempts),
		PerTryTimeout:         dur(r.PerTryTimeout),
		RetryOn:               strings.Join(r.RetryOn, ","),
		RetryRemoteLocalities: wrapperspb.Bool(r.RetryRemoteLocalities),
	}
	if r.Backoff.Base.Duration > 0 {
		retried.Retries.Backoff = dur(r.Backoff.Base)
	}
	if grpc {
		return []*v1alpha3.HTTPRoute{retried} // every call is retried
	}
	return []*v1alpha3.HTTPRoute{retried, plain}
}

// teamRoutes are the routes of the team's VirtualService (spec.compose),
// each named.
func (l lowerer) teamRoutes() []*v1alpha3.HTTPRoute {
	c := l.in.Spec.Compose
	if c == nil {
		return nil
	}
	out := make([]*v1alpha3.HTTPRoute, len(c.Routes))
	for i, r := range c.Routes {
		r = proto.Clone(r).(*v1alpha3.HTTPRoute)
		r.Name = c.RouteName(i)
		out[i] = r
	}
	return out
}

// pinned is a team route for the requests the router filter sent to
// cluster: its matches also require the filter's header, and each
// destination goes to its subset's pods in that cluster (or the cluster's
// pods, without a subset). A subset that does not run there keeps its
// destination as written: Istio's locality failover picks a cluster that
// has it.
func (l lowerer) pinned(tr *v1alpha3.HTTPRoute, target, cluster string) *v1alpha3.HTTPRoute {
	r := proto.Clone(tr).(*v1alpha3.HTTPRoute)
	r.Name = tr.Name + "-" + ClusterSubset(cluster)
	hdr := &v1alpha3.StringMatch{MatchType: &v1alpha3.StringMatch_Exact{Exact: cluster}}
	if len(r.Match) == 0 {
		r.Match = []*v1alpha3.HTTPMatchRequest{{}}
	}
	for _, m := range r.Match {
		if m.Headers == nil {
			m.Headers = map[string]*v1alpha3.StringMatch{}
		}
		m.Headers[config.HeaderCluster] = hdr
	}
	for _, d := range r.Route {
		switch sub, ok := l.subset(d.Destination.Subset); {
		case d.Destination.Subset == "":
			d.Destination.Subset = ClusterSubset(cluster)
		case ok && sub.RunsIn(cluster):
			d.Destination.Subset = PinnedSubset(sub.Name, cluster)
		}
	}
	return r
}

func (l lowerer) subset(name string) (intent.Subset, bool) {
	for _, s := range l.in.Spec.Subsets {
		if s.Name == name {
			return s, true
		}
	}
	return intent.Subset{}, false
}

// PinnedSubset is the DestinationRule subset for a version subset's
// requests the router filter sent to one cluster.
func PinnedSubset(subset, cluster string) string {
	return shortLabel(subset + "-" + ClusterSubset(cluster))
}

// pinnedSubsets are the DestinationRule subsets the composed routes need:
// each subset they route to, for each ladder cluster it runs in. The
// subset's pods in that cluster come first (failoverPriority on the
// cluster's endpoint label), its pods elsewhere next: the filters track a
// whole cluster's health and cannot see one version fail in it, so Envoy's
// own outlier detection and priorities move that version's requests to
// the same version in another cluster. A strict split has no failover:
// there the subset holds the cluster's pods only.
func (l lowerer) pinnedSubsets(target string, lad explain.Ladder) []*v1alpha3.Subset {
	if !l.in.Spec.Plugins.Enabled {
		return nil
	}
	used := map[string]bool{}
	for _, r := range l.teamRoutes() {
		for _, d := range r.Route {
			used[d.Destination.Subset] = true
		}
	}
	var out []*v1alpha3.Subset
	for _, s := range l.in.Spec.Subsets {
		if !used[s.Name] {
			continue
		}
		for _, c := range ladderClusters(lad) {
			if !s.RunsIn(c) {
				continue
			}
			k, v := l.endpointLabel(target, c)
			sub := &v1alpha3.Subset{Name: PinnedSubset(s.Name, c), Labels: copyMap(s.Labels)}
			if l.strict() {
				sub.Labels[k] = v
			} else {
				sub.TrafficPolicy = &v1alpha3.TrafficPolicy{LoadBalancer: &v1alpha3.LoadBalancerSettings{
					LocalityLbSetting: &v1alpha3.LocalityLoadBalancerSetting{
						Enabled:          wrapperspb.Bool(true),
						FailoverPriority: []string{k + "=" + v},
					},
				}}
			}
			out = append(out, sub)
		}
	}
	return out
}

func methodRegex(methods []string) string {
	q := make([]string, len(methods))
	for i, m := range methods {
		q[i] = regexp.QuoteMeta(m)
	}
	return "^(" + strings.Join(q, "|") + ")$"
}

// portName is the service port's name for the protocol; WorkloadEntry ports
// and ServiceEntry ports are matched by it.
func (l lowerer) portName() string {
	switch l.in.Spec.Service.Protocol {
	case "HTTP2":
		return "http2"
	case "GRPC":
		return "grpc"
	}
	return "http"
}

func (l lowerer) protocol() string {
	if p := l.in.Spec.Service.Protocol; p != "" {
		return p
	}
	return "HTTP"
}

// workloadEntries are the remote clusters' endpoints as seen from target:
// each one the remote east-west gateway, with the remote locality and
// network so Istio's locality priorities and mTLS SNI routing apply. With
// subsets, one entry per subset carries the subset's labels, so a subset
// fails over to the same subset remotely.
//
// A remote gateway known by host name (a cloud load balancer's) takes two
// forms. At the edge its entries keep the name: the edge's ServiceEntry is
// then DNS-resolved (serviceEntry), and Envoy resolves the name in a
// STRICT_DNS cluster whose endpoints keep their locality and priority. In
// a cluster the entries join the Kubernetes Service's EDS cluster, and
// istiod drops a host-name WorkloadEntry there (it takes one only for a
// DNS ServiceEntry, serviceentry/conversion.go); an entry without address
// but with its network is what istiod replaces by the network's gateway,
// whose host name istiod resolves itself (model/network.go,
// RESOLVE_HOSTNAME_GATEWAYS), keeping the entry's locality, priority and
// weight (endpoints/ep_filters.go). docs/intent.md says what each needs.
func (l lowerer) workloadEntries(target string, lad explain.Ladder, remotes []intent.Cluster) []Object {
	var out []Object
	for _, r := range remotes {
		port := r.EastWestGateway.Port
		if port == 0 {
			port = 15443
		}
		// One entry per subset that runs there: a subset fails over only
		// to clusters that have it.
		variants := []intent.Subset{{}}
		if s := l.in.Spec.SubsetsIn(r.Name); len(s) > 0 {
			variants = s
		}
		for _, sub := range variants {
			labels := map[string]string{
				// The service's pods carry app=<host> by convention, so the
				// local Service selects these entries too.
				"app":                l.host(),
				LabelService:         l.in.Metadata.Name,
				LabelCluster:         r.Name,
				labelTopologyNetwork: r.Network,
			}
			for k, v := range sub.Labels {
				labels[k] = v
			}
			if f := l.in.Spec.Failover.Mode; f == intent.ModeNamed || f == intent.ModeActiveStandby {
				for k, v := range l.tierLabels(target, lad, r.Name) {
					labels[k] = v
				}
			}
			name := l.name(r.Name)
			if sub.Name != "" {
				name = l.name(r.Name, sub.Name)
			}
			addr := r.EastWestGateway.Address
			if target != EdgeTarget && !isIP(addr) {
				addr = ""
				// Istio sends an endpoint of another network through the
				// network's gateway only when it is known to speak Istio
				// mTLS (endpoints/ep_filters.go, isMtlsEnabled): an entry
				// has that from this label (or a service account).
				labels["security.istio.io/tlsMode"] = "istio"
			}
			we := &networkingv1.WorkloadEntry{
				TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "WorkloadEntry"},
				ObjectMeta: l.meta(name, target),
				Spec: v1alpha3.WorkloadEntry{
					Address:  addr,
					Ports:    map[string]uint32{l.portName(): port},
					Labels:   labels,
					Network:  r.Network,
					Locality: locality(r),
					Weight:   r.Endpoints,
				},
			}
			out = append(out, we)
		}
	}
	return out
}

// isIP reports whether a gateway address is an IP address rather than a
// host name (the schema allows nothing else).
func isIP(a string) bool {
	_, err := netip.ParseAddr(a)
	return err == nil
}

func (l lowerer) host() string {
	if h := l.in.Spec.Service.Host; h != "" {
		return h
	}
	return l.in.Metadata.Name
}

// serviceEntry registers the service at the edge gateway, which runs none of
// its pods: its endpoints are the WorkloadEntries of every cluster.
func (l lowerer) serviceEntry() *networkingv1.ServiceEntry {
	// A host-name gateway makes the edge's cluster STRICT_DNS: Envoy
	// resolves every entry's address (IPs resolve to themselves).
	res := v1alpha3.ServiceEntry_STATIC
	for _, c := range l.in.Spec.Clusters {
		if !isIP(c.EastWestGateway.Address) {
			res = v1alpha3.ServiceEntry_DNS
		}
	}
	return &networkingv1.ServiceEntry{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "ServiceEntry"},
		ObjectMeta: l.meta(l.name(), EdgeTarget),
		Spec: v1alpha3.ServiceEntry{
			Hosts:            []string{l.fqdn},
			Ports:            []*v1alpha3.ServicePort{{Number: l.in.Spec.Service.Port, Name: l.portName(), Protocol: l.protocol()}},
			Location:         v1alpha3.ServiceEntry_MESH_INTERNAL,
			Resolution:       res,
			WorkloadSelector: &v1alpha3.WorkloadSelector{Labels: map[string]string{LabelService: l.in.Metadata.Name}},
		},
	}
}
