package envoy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	lrv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/least_request/v3"
	rrv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/round_robin/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/detour-mesh/detour/harness/simulator/envoy/internal/outlier"
	"github.com/detour-mesh/detour/harness/simulator/envoy/internal/priority"
)

// The cluster manager follows source/common/upstream/upstream_impl.cc
// (host sets per priority and locality, EDS health), the load balancers of
// source/extensions/load_balancing_policies/common/load_balancer_impl.cc
// (priority choice, panic, locality weighted choice, host selection retries
// for the retry host predicate), round_robin / least_request, and
// source/common/upstream/resource_manager_impl.h (circuit breakers and the
// retry budget).

// Defaults of Envoy's circuit breakers (circuit_breaker.proto).
const (
	defaultMaxConnections = 1024
	defaultMaxPending     = 1024
	defaultMaxRequests    = 1024
	defaultMaxRetries     = 3
	defaultConnectTimeout = 5 * time.Second
)

type lbPolicy int

const (
	lbRoundRobin lbPolicy = iota
	lbLeastRequest
	lbRandom
)

type host struct {
	addr     string
	priority int
	locality string
	weight   uint32
	healthy  bool // EDS health (HEALTHY/UNKNOWN)
	degraded bool // EDS DEGRADED
	// excluded: EDS DRAINING. Envoy sets EDS_STATUS_DRAINING (unhealthy)
	// and leaves the host out of the count health is measured against
	// (upstream_impl.cc setEdsHealthFlag and partitionHostList, runtime
	// exclude_host_in_eds_status_draining, on by default).
	excluded bool
	meta     map[string]string
	od       *outlier.Host
	active   int // active requests (least request)
	// healthySince is when slow start first saw the host healthy.
	healthySince time.Time
}

// usable reports the host's coarse health: EDS healthy and not ejected.
func (h *host) usable() bool { return h.healthy && !h.od.Ejected }

type locality struct {
	name   string
	weight uint32
	hosts  []*host
	// EDF state (source/common/upstream/edf_scheduler.h): deadline of
	// the next pick, rebuilt when the host set changes.
	deadline float64
}

type prioritySet struct {
	hosts      []*host
	localities []*locality
	rr         map[string]uint64 // round robin index per host source
}

type cluster struct {
	name             string
	p                *Proxy
	connectTimeout   time.Duration
	lb               lbPolicy
	choiceCount      int
	localityWeighted bool
	opf              uint64
	panicThreshold   uint64
	weightedHealth   bool
	prios            []*prioritySet
	all              []*host
	load             priority.Load
	od               *outlier.Detector
	slowStart        *slowStart

	maxConnections, maxPending, maxRequests, maxRetries uint64
	budgetPercent                                       float64
	budgetMin                                           uint64
	hasBudget                                           bool

	active, pending, activeRetries int
	queue                          []func()
}

func (p *Proxy) buildCluster(c *clusterv3.Cluster) (*cluster, error) {
	cl := &cluster{name: c.GetName(), p: p, connectTimeout: defaultConnectTimeout, lb: lbRoundRobin, choiceCount: 2,
		opf: priority.DefaultOverprovisioning, panicThreshold: priority.DefaultPanicThreshold,
		maxConnections: defaultMaxConnections, maxPending: defaultMaxPending, maxRequests: defaultMaxRequests, maxRetries: defaultMaxRetries}
	if c.GetConnectTimeout() != nil {
		cl.connectTimeout = c.GetConnectTimeout().AsDuration()
	}
	switch c.GetLbPolicy() {
	case clusterv3.Cluster_ROUND_ROBIN:
	case clusterv3.Cluster_LEAST_REQUEST:
		cl.lb = lbLeastRequest
		if n := c.GetLeastRequestLbConfig().GetChoiceCount(); n != nil {
			cl.choiceCount = int(n.GetValue())
		}
	default:
		// RANDOM, and hash policies the model does not hash: a seeded
		// random choice.
		cl.lb = lbRandom
	}
	cll := c.GetCommonLbConfig()
	if cll.GetLocalityWeightedLbConfig() != nil {
		cl.localityWeighted = true
	}
	if err := cl.typedLBPolicy(c); err != nil {
		return nil, err
	}
	if cl.slowStart == nil {
		cl.readSlowStart(c, nil)
	}
	if pt := cll.GetHealthyPanicThreshold(); pt != nil {
		cl.panicThreshold = uint64(math.Max(0, pt.GetValue()))
	}
	for _, t := range c.GetCircuitBreakers().GetThresholds() {
		if t.GetPriority() != corev3.RoutingPriority_DEFAULT {
			continue
		}
		if v := t.GetMaxConnections(); v != nil {
			cl.maxConnections = uint64(v.GetValue())
		}
		if v := t.GetMaxPendingRequests(); v != nil {
			cl.maxPending = uint64(v.GetValue())
		}
		if v := t.GetMaxRequests(); v != nil {
			cl.maxRequests = uint64(v.GetValue())
		}
		if v := t.GetMaxRetries(); v != nil {
			cl.maxRetries = uint64(v.GetValue())
		}
		if b := t.GetRetryBudget(); b != nil {
			cl.hasBudget = true
			cl.budgetPercent, cl.budgetMin = 20, 3
			if b.GetBudgetPercent() != nil {
				cl.budgetPercent = b.GetBudgetPercent().GetValue()
			}
			if b.GetMinRetryConcurrency() != nil {
				cl.budgetMin = uint64(b.GetMinRetryConcurrency().GetValue())
			}
		}
		break
	}
	cla := c.GetLoadAssignment()
	if c.GetType() == clusterv3.Cluster_EDS {
		name := c.GetEdsClusterConfig().GetServiceName()
		if name == "" {
			name = c.GetName()
		}
		cla = p.cfg.Snapshot.LoadAssignment(name)
	}
	if c.GetOutlierDetection() != nil {
		odc, err := outlier.FromProto(c.GetOutlierDetection())
		if err != nil {
			return nil, err
		}
		cl.od = outlier.New(odc, p.clock, p.rng.Uint64, p.cfg.LegacyEjection, cl.onOutlierEvent, cl.recalculate)
	}
	cl.setAssignment(cla)
	return cl, nil
}

// typedLBPolicy reads load_balancing_policy (the typed extension form Istio
// may use instead of lb_policy): the first policy the model knows wins.
func (cl *cluster) typedLBPolicy(c *clusterv3.Cluster) error {
	for _, pol := range c.GetLoadBalancingPolicy().GetPolicies() {
		tc := pol.GetTypedExtensionConfig().GetTypedConfig()
		if tc == nil {
			continue
		}
		switch {
		case strings.HasSuffix(tc.GetTypeUrl(), "least_request.v3.LeastRequest"):
			var lr lrv3.LeastRequest
			if err := tc.UnmarshalTo(&lr); err != nil {
				return fmt.Errorf("load_balancing_policy: %w", err)
			}
			cl.lb = lbLeastRequest
			if lr.GetChoiceCount() != nil {
				cl.choiceCount = int(lr.GetChoiceCount().GetValue())
			}
			cl.localityWeighted = cl.localityWeighted || lr.GetLocalityLbConfig().GetLocalityWeightedLbConfig() != nil
			cl.readSlowStart(c, lr.GetSlowStartConfig())
			return nil
		case strings.HasSuffix(tc.GetTypeUrl(), "round_robin.v3.RoundRobin"):
			var rr rrv3.RoundRobin
			if err := tc.UnmarshalTo(&rr); err != nil {
				return fmt.Errorf("load_balancing_policy: %w", err)
			}
			cl.lb = lbRoundRobin
			cl.localityWeighted = cl.localityWeighted || rr.GetLocalityLbConfig().GetLocalityWeightedLbConfig() != nil
			cl.readSlowStart(c, rr.GetSlowStartConfig())
			return nil
		case strings.HasSuffix(tc.GetTypeUrl(), "random.v3.Random"):
			cl.lb = lbRandom
			return nil
		}
	}
	return nil
}

func localityName(l *corev3.Locality) string {
	var parts []string
	for _, s := range []string{l.GetRegion(), l.GetZone(), l.GetSubZone()} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "/")
}

func flattenMetadata(m *corev3.Metadata) map[string]string {
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for f, s := range m.GetFilterMetadata() {
		for k, v := range s.GetFields() {
			out[f+"."+k] = valueString(v)
		}
	}
	return out
}

func valueString(v *structpb.Value) string {
	switch x := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return x.StringValue
	case *structpb.Value_NumberValue:
		return strconv.FormatFloat(x.NumberValue, 'g', -1, 64)
	case *structpb.Value_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	}
	b, _ := v.MarshalJSON()
	return string(b)
}

// setAssignment installs an EDS assignment; hosts whose address stays keep
// their outlier state (Envoy keeps the host objects across EDS updates).
func (cl *cluster) setAssignment(cla *endpointv3.ClusterLoadAssignment) {
	old := map[string]*host{}
	for _, h := range cl.all {
		old[h.addr] = h
	}
	cl.prios, cl.all = nil, nil
	if f := cla.GetPolicy().GetOverprovisioningFactor(); f != nil {
		cl.opf = uint64(f.GetValue())
	}
	cl.weightedHealth = cla.GetPolicy().GetWeightedPriorityHealth()
	for _, lle := range cla.GetEndpoints() {
		pr := int(lle.GetPriority())
		for len(cl.prios) <= pr {
			cl.prios = append(cl.prios, &prioritySet{rr: map[string]uint64{}})
		}
		ps := cl.prios[pr]
		loc := &locality{name: localityName(lle.GetLocality()), weight: lle.GetLoadBalancingWeight().GetValue()}
		ps.localities = append(ps.localities, loc)
		for _, le := range lle.GetLbEndpoints() {
			sa := le.GetEndpoint().GetAddress().GetSocketAddress()
			addr := sa.GetAddress() + ":" + strconv.Itoa(int(sa.GetPortValue()))
			w := uint32(1)
			if le.GetLoadBalancingWeight() != nil {
				w = le.GetLoadBalancingWeight().GetValue()
			}
			// A kept address keeps its host object: in-flight requests
			// release it, and its outlier state carries over.
			h := old[addr]
			if h != nil {
				delete(old, addr)
			} else {
				h = &host{addr: addr, od: &outlier.Host{ID: addr}}
			}
			h.priority, h.locality, h.weight = pr, loc.name, w
			h.meta = flattenMetadata(le.GetMetadata())
			h.healthy, h.degraded, h.excluded = false, false, false
			switch le.GetHealthStatus() {
			case corev3.HealthStatus_DRAINING:
				h.excluded = true
			case corev3.HealthStatus_UNKNOWN, corev3.HealthStatus_HEALTHY:
				h.healthy = true
			case corev3.HealthStatus_DEGRADED:
				h.degraded = true
			}
			loc.hosts = append(loc.hosts, h)
			ps.hosts = append(ps.hosts, h)
			cl.all = append(cl.all, h)
		}
	}
	if cl.od != nil {
		ods := make([]*outlier.Host, len(cl.all))
		for i, h := range cl.all {
			ods[i] = h.od
		}
		cl.od.SetHosts(ods)
	}
	cl.stampSlowStart()
	cl.recalculate()
}

// recalculate is the priority set's update callback: recompute priority
// loads and panic state, reset the locality schedulers.
func (cl *cluster) recalculate() {
	for _, ps := range cl.prios {
		for _, l := range ps.localities {
			l.deadline = 0
		}
	}
	if len(cl.prios) == 0 {
		cl.load = priority.Load{}
		return
	}
	cl.load = priority.Compute(cl.levels(), cl.opf, cl.panicThreshold)
}

// levels counts each priority's hosts (or weights, with
// weighted_priority_health): total, healthy (not ejected), degraded.
func (cl *cluster) levels() []priority.Level {
	levels := make([]priority.Level, len(cl.prios))
	for i, ps := range cl.prios {
		for _, h := range ps.hosts {
			w := uint64(1)
			if cl.weightedHealth {
				w = uint64(h.weight)
			}
			levels[i].Total += w
			if h.excluded {
				levels[i].Excluded += w
			}
			if h.usable() {
				levels[i].Healthy += w
			} else if h.degraded && !h.od.Ejected {
				levels[i].Degraded += w
			}
		}
	}
	return levels
}

func (cl *cluster) onOutlierEvent(e outlier.Event) {
	cl.p.emit(Event{At: e.At, Cluster: cl.name, Host: e.Host.ID, Kind: e.Kind, Detector: e.Type,
		NumEjections: e.NumEjections, ActiveEjections: e.Active, Hosts: e.Hosts, EjectionTime: e.EjectionTime})
}

// selection is the retry context the router passes to host selection.
type selection struct {
	// load overrides the priority load (retry priority plugin).
	healthy, degraded []uint32
	// reject is the retry host predicate; maxAttempts its re-picks.
	reject      func(*host) bool
	maxAttempts int
}

// chooseHost is LoadBalancerBase::chooseHost: up to 1+hostSelectionRetries
// picks while the predicate rejects the host; the last pick is used anyway.
func (cl *cluster) chooseHost(sel *selection) *host {
	attempts := 1
	if sel != nil {
		attempts += sel.maxAttempts
	}
	var h *host
	for range attempts {
		h = cl.chooseHostOnce(sel)
		if h == nil || sel == nil || sel.reject == nil || !sel.reject(h) {
			return h
		}
	}
	return h
}

func (cl *cluster) chooseHostOnce(sel *selection) *host {
	if len(cl.prios) == 0 {
		return nil
	}
	healthy, degraded := cl.load.Healthy, cl.load.Degraded
	if sel != nil && sel.healthy != nil {
		healthy, degraded = sel.healthy, sel.degraded
	}
	rng := cl.p.rng
	pr, deg := priority.Choose(rng.Uint64(), healthy, degraded)
	ps := cl.prios[pr]
	var source []*host
	key := ""
	if cl.load.Panic[pr] {
		// Panic: ignore health within the priority.
		source, key = ps.hosts, "all"
	} else if !cl.localityWeighted || !cl.pickLocality(ps, deg, &source, &key) {
		for _, h := range ps.hosts {
			if cl.eligible(h, deg) {
				source = append(source, h)
			}
		}
		key = "h"
	}
	if deg {
		key += "d"
	}
	if len(source) == 0 {
		return nil
	}
	return cl.pick(ps, key, source)
}

// pickLocality fills the source from an EDF-chosen locality; with no
// locality to choose (all effective weights 0) hostSourceToUse falls back
// to the priority's hosts.
func (cl *cluster) pickLocality(ps *prioritySet, deg bool, source *[]*host, key *string) bool {
	li := cl.chooseLocality(ps, deg)
	if li < 0 {
		return false
	}
	for _, h := range ps.localities[li].hosts {
		if cl.eligible(h, deg) {
			*source = append(*source, h)
		}
	}
	*key = "l" + strconv.Itoa(li)
	return true
}

func (cl *cluster) eligible(h *host, degraded bool) bool {
	if degraded {
		return h.degraded && !h.od.Ejected
	}
	return h.usable()
}

// chooseLocality is the EDF pick over effective locality weights
// (HostSetImpl::chooseLocality with effectiveLocalityWeight).
func (cl *cluster) chooseLocality(ps *prioritySet, degraded bool) int {
	best := -1
	var bestDeadline float64
	weights := make([]float64, len(ps.localities))
	for i, l := range ps.localities {
		eligible, excluded := 0, 0
		for _, h := range l.hosts {
			if cl.eligible(h, degraded) {
				eligible++
			}
			if h.excluded {
				excluded++
			}
		}
		weights[i] = priority.EffectiveLocalityWeight(l.weight, eligible, len(l.hosts)-excluded, cl.opf)
		if weights[i] == 0 {
			continue
		}
		if l.deadline == 0 {
			l.deadline = 1 / weights[i]
		}
		if best == -1 || l.deadline < bestDeadline {
			best, bestDeadline = i, l.deadline
		}
	}
	if best >= 0 {
		ps.localities[best].deadline += 1 / weights[best]
	}
	return best
}

// pick is the host load balancer over one source.
func (cl *cluster) pick(ps *prioritySet, key string, src []*host) *host {
	if h := cl.pickSlowStart(src); h != nil {
		return h
	}
	rng := cl.p.rng
	weighted := false
	for _, h := range src[1:] {
		if h.weight != src[0].weight {
			weighted = true
			break
		}
	}
	if weighted {
		// Envoy's EDF over weights (weight/(active+1) for least request);
		// the model draws by weight, seeded.
		var total uint64
		for _, h := range src {
			w := uint64(h.weight)
			if cl.lb == lbLeastRequest {
				w = max(1, w*1000/uint64(h.active+1))
			}
			total += w
		}
		v := rng.Uint64N(total)
		for _, h := range src {
			w := uint64(h.weight)
			if cl.lb == lbLeastRequest {
				w = max(1, w*1000/uint64(h.active+1))
			}
			if v < w {
				return h
			}
			v -= w
		}
		return src[len(src)-1]
	}
	switch cl.lb {
	case lbLeastRequest:
		// Power of choice_count choices: fewest active requests wins.
		var best *host
		for range max(1, cl.choiceCount) {
			c := src[rng.IntN(len(src))]
			if best == nil || c.active < best.active {
				best = c
			}
		}
		return best
	case lbRandom:
		return src[rng.IntN(len(src))]
	default:
		i := ps.rr[key]
		ps.rr[key] = i + 1
		return src[i%uint64(len(src))]
	}
}

// canRetry is the retries resource: the retry budget when configured,
// else max_retries.
func (cl *cluster) canRetry() bool {
	if cl.hasBudget {
		limit := max(uint64(cl.budgetPercent/100*float64(cl.active+cl.pending)), cl.budgetMin)
		return uint64(cl.activeRetries) < limit
	}
	return uint64(cl.activeRetries) < cl.maxRetries
}

// release ends an active request and starts the oldest pending one.
func (cl *cluster) release(h *host) {
	cl.active--
	h.active--
	for len(cl.queue) > 0 && uint64(cl.active) < cl.maxConnections {
		next := cl.queue[0]
		cl.queue = cl.queue[1:]
		cl.pending--
		next()
	}
}
