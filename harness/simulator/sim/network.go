package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/detour-mesh/detour/harness/simulator/envoy"
)

// RequestIDHeader carries the simulator's request id on every attempt (as
// Envoy forwards x-request-id upstream), so the network can tie attempts to
// the downstream request.
const RequestIDHeader = "x-request-id"

// Hop kinds: where an attempt landed.
const (
	HopPod      = "pod"
	HopEastWest = "eastWest"
	HopIngress  = "ingress"
	HopUnknown  = "unknown"
)

// Network is the simulated topology with its fault timeline: it implements
// envoy.Network for every simulated proxy.
type Network struct {
	top     Topology
	faults  []Fault
	start   time.Time
	rng     *rand.Rand
	proxies map[string]ProxyPlace
	addrs   map[string]hop // by IP
	svcs    map[string]*svcState
	defSvc  string
	// Record receives every attempt (nil: not recorded).
	Record func(AttemptRecord)
}

// ProxyPlace is where a simulated proxy runs.
type ProxyPlace struct {
	Cluster, Region, Zone, Network string
}

type hop struct {
	kind    string
	cluster *Cluster
	ep      *endpoint
}

type endpoint struct {
	ip          string
	port        int
	cluster     *Cluster
	svc         *Service
	subset      string
	index       int // within the service, over all subsets
	total       int
	busyUntil   time.Duration
	serviceTime time.Duration // 1/capacity per endpoint; 0 = unlimited
}

type svcState struct {
	eps []*endpoint
	rr  map[string]int // per subset ("" = any)
}

// NewNetwork builds the network of a resolved topology (every cluster
// placed, gateways addressed, services with endpoints). start is the
// virtual time at which the run starts (faults are relative to it);
// defaultService answers at gateways when the attempt's cluster names no
// known service (an edge host).
func NewNetwork(top Topology, faults []Fault, start time.Time, seed uint64, defaultService string) *Network {
	n := &Network{top: top, faults: faults, start: start, defSvc: defaultService,
		rng:     rand.New(rand.NewPCG(seed, 0x6e6574776f726b)), // "network"
		proxies: map[string]ProxyPlace{}, addrs: map[string]hop{}, svcs: map[string]*svcState{}}
	for ci := range n.top.Clusters {
		c := &n.top.Clusters[ci]
		if c.EastWest.Address != "" {
			n.addrs[c.EastWest.Address] = hop{kind: HopEastWest, cluster: c}
		}
		if c.EastWest.Name != "" {
			// The edge's STRICT_DNS cluster holds the name: it resolves to
			// the one address, one host, as Envoy's strict DNS cluster
			// makes one host per address of the answer.
			n.addrs[c.EastWest.Name] = hop{kind: HopEastWest, cluster: c}
		}
		if c.Ingress.Address != "" {
			n.addrs[c.Ingress.Address] = hop{kind: HopIngress, cluster: c}
		}
		for si := range c.Services {
			s := &c.Services[si]
			st := &svcState{rr: map[string]int{}}
			for _, ep := range PodEndpoints(ci, si, s) {
				e := &endpoint{ip: ep.IP, port: 0, cluster: c, svc: s, subset: ep.Subset, index: ep.Index, total: ep.Total}
				if s.Capacity > 0 && ep.Total > 0 {
					e.serviceTime = time.Duration(float64(time.Second) * float64(ep.Total) / s.Capacity)
				}
				st.eps = append(st.eps, e)
				n.addrs[ep.IP] = hop{kind: HopPod, cluster: c, ep: e}
			}
			n.svcs[c.Name+"/"+s.Name] = st
		}
	}
	return n
}

// Place registers where a proxy runs (its region decides cross-region
// latency and partitions).
func (n *Network) Place(proxy string, p ProxyPlace) { n.proxies[proxy] = p }

// PodEndpoint is one synthesised pod of a service.
type PodEndpoint struct {
	IP     string
	Subset string
	Index  int // within the service
	Total  int
}

// PodEndpoints gives the pods of service si in cluster ci: addresses
// 10.<100+ci>.<si+1>.<n+1>, in subset order. Istio's generator sees the
// same addresses (the runner builds EndpointSlices from this list).
func PodEndpoints(ci, si int, s *Service) []PodEndpoint {
	total := 0
	for _, sub := range s.Subsets {
		total += sub.Endpoints
	}
	var out []PodEndpoint
	for _, sub := range s.Subsets {
		for k := 0; k < sub.Endpoints; k++ {
			i := len(out)
			out = append(out, PodEndpoint{IP: fmt.Sprintf("10.%d.%d.%d", 100+ci, si+1, i+1), Subset: sub.Name, Index: i, Total: total})
		}
	}
	return out
}

// hitsCluster: the fault targets the cluster (by name and/or region).
func hitsCluster(f *Fault, c *Cluster) bool {
	return f.Target.Hits(c.Name, c.Region, c.Zone)
}

// hitsEndpoint: the fault targets the pod.
func hitsEndpoint(f *Fault, e *endpoint) bool {
	t := &f.Target
	if !hitsCluster(f, e.cluster) || (t.Service != "" && t.Service != e.svc.Name) || (t.Subset != "" && t.Subset != e.subset) {
		return false
	}
	if t.Share >= 1 {
		return true
	}
	// The first share of the endpoints (of the subset when one is named).
	idx, total := e.index, e.total
	if t.Subset != "" {
		idx, total = 0, 0
		for _, sub := range e.svc.Subsets {
			if sub.Name == e.subset {
				total = sub.Endpoints
				break
			}
			idx += sub.Endpoints
		}
		idx = e.index - idx
	}
	return idx < int(math.Ceil(t.Share*float64(total)-1e-9))
}

// down reports a fault that takes the whole cluster (or its region) down.
func (n *Network) down(c *Cluster, t time.Duration, names *[]string) bool {
	for i := range n.faults {
		f := &n.faults[i]
		if (f.Kind == ClusterOutage || f.Kind == RegionOutage) && f.Active(t) && hitsCluster(f, c) {
			*names = append(*names, f.Name)
			return true
		}
	}
	return false
}

func (n *Network) partitioned(a, b string, t time.Duration, names *[]string) bool {
	if a == "" || b == "" || a == b {
		return false
	}
	for i := range n.faults {
		f := &n.faults[i]
		if f.Kind == Partition && f.Active(t) && len(f.Target.Regions) == 2 &&
			((f.Target.Regions[0] == a && f.Target.Regions[1] == b) || (f.Target.Regions[0] == b && f.Target.Regions[1] == a)) {
			*names = append(*names, f.Name)
			return true
		}
	}
	return false
}

func (n *Network) scaledToZero(e *endpoint, t time.Duration, names *[]string) bool {
	for i := range n.faults {
		f := &n.faults[i]
		if f.Kind == ServiceScaledToZero && f.Active(t) && hitsEndpoint(f, e) {
			*names = append(*names, f.Name)
			return true
		}
	}
	return false
}

func (n *Network) gatewayFault(kind string, c *Cluster, gw string, t time.Duration, names *[]string) bool {
	for i := range n.faults {
		f := &n.faults[i]
		if f.Kind == kind && f.Active(t) && hitsCluster(f, c) && (f.Target.Gateway == "" || f.Target.Gateway == gw) {
			*names = append(*names, f.Name)
			return true
		}
	}
	return false
}

// Send decides the result of one attempt (envoy.Network).
func (n *Network) Send(now time.Time, a *envoy.Attempt) envoy.Result {
	t := now.Sub(n.start)
	rec := AttemptRecord{At: t, Proxy: a.Proxy, Hop: HopUnknown}
	for _, h := range a.Headers {
		if h[0] == RequestIDHeader {
			rec.RequestID, _ = strconv.ParseUint(h[1], 10, 64)
		}
	}
	r := n.send(t, a, &rec)
	rec.Outcome, rec.Status, rec.Cause = r.Outcome, r.Status, r.Cause
	if n.Record != nil {
		n.Record(rec)
	}
	return r
}

func (n *Network) send(t time.Duration, a *envoy.Attempt, rec *AttemptRecord) envoy.Result {
	host := a.Address
	if h, _, err := net.SplitHostPort(a.Address); err == nil {
		host = h
	}
	hp, ok := n.addrs[host]
	if !ok {
		return envoy.Result{Outcome: envoy.OutcomeConnectFailure, Cause: "no such address in the topology: " + a.Address}
	}
	c := hp.cluster
	rec.Cluster, rec.Region, rec.Hop = c.Name, c.Region, hp.kind
	from := n.proxies[a.Proxy]
	var extra time.Duration
	if from.Region != "" && from.Region != c.Region {
		extra += n.top.CrossRegion
	}
	if n.down(c, t, &rec.Faults) {
		return envoy.Result{Outcome: envoy.OutcomeConnectFailure, Cause: c.Name + " down"}
	}
	if n.partitioned(from.Region, c.Region, t, &rec.Faults) {
		return envoy.Result{Outcome: envoy.OutcomeConnectTimeout, Cause: "partition " + from.Region + " / " + c.Region}
	}
	if hp.kind == HopPod {
		rec.Service, rec.Endpoint = hp.ep.svc.Name, hp.ep.ip
		if n.scaledToZero(hp.ep, t, &rec.Faults) {
			// The pod is gone; its address refuses until EDS drops it.
			return envoy.Result{Outcome: envoy.OutcomeConnectFailure, Cause: c.Name + " " + hp.ep.svc.Name + " scaled to 0 (pod gone)"}
		}
		return n.serve(t, hp.ep, extra, rec)
	}
	// A gateway: Envoy in the remote cluster.
	gw := EastWest
	if hp.kind == HopIngress {
		gw = Ingress
	}
	extra += n.top.GatewayLatency
	if n.gatewayFault(GatewayScaledToZero, c, gw, t, &rec.Faults) {
		return envoy.Result{Outcome: envoy.OutcomeConnectFailure, Cause: fmt.Sprintf("%s %s gateway scaled to 0", c.Name, gw)}
	}
	if n.gatewayFault(GatewayResourceDeleted, c, gw, t, &rec.Faults) {
		if gw == Ingress {
			// No virtual host for the authority: Envoy's router answers 404 with NR.
			return envoy.Result{Outcome: envoy.OutcomeResponse, Latency: extra, Status: 404, Cause: c.Name + " Gateway resource deleted (404 NR)"}
		}
		// TLS passthrough without a filter chain for the SNI: the listener
		// closes the connection during the client's TLS handshake, which
		// the client's pool reports as a remote connection failure (UF).
		return envoy.Result{Outcome: envoy.OutcomeHandshakeFailure, Latency: extra, Cause: c.Name + " Gateway resource deleted (no filter chain)"}
	}
	svc, subset := n.defSvc, ""
	if name, sub, ok := parseClusterName(a.Cluster); ok {
		if _, known := n.svcs[c.Name+"/"+name]; known {
			svc, subset = name, sub
		}
	}
	st := n.svcs[c.Name+"/"+svc]
	var cands []*endpoint
	if st != nil {
		hasSubset := false
		for _, e := range st.eps {
			hasSubset = hasSubset || (subset != "" && e.subset == subset)
		}
		var ignore []string
		for _, e := range st.eps {
			if hasSubset && e.subset != subset {
				continue
			}
			if !n.scaledToZero(e, t, &ignore) {
				cands = append(cands, e)
			}
		}
		if len(cands) == 0 && len(ignore) > 0 {
			rec.Faults = append(rec.Faults, ignore[0])
		}
	}
	rec.Service = svc
	if len(cands) == 0 {
		if gw == Ingress {
			return envoy.Result{Outcome: envoy.OutcomeResponse, Latency: extra, Status: 503,
				Headers: [][2]string{{"content-type", "text/plain"}}, Body: []byte("no healthy upstream"),
				Cause: fmt.Sprintf("%s %s: no healthy upstream (503 UH at the ingress gateway)", c.Name, svc)}
		}
		// The gateway proxies TLS through (AUTO_PASSTHROUGH): its
		// tls_inspector reads the client's ClientHello to pick the SNI's
		// filter chain, whose tcp_proxy finds no healthy host and closes
		// the downstream connection (Envoy's tcp_proxy.cc: NoHealthyUpstream,
		// onInitFailure). The client is still in its TLS handshake, so, as
		// for a deleted Gateway, its pool reports a remote connection
		// failure (UF), which connect-failure retries.
		return envoy.Result{Outcome: envoy.OutcomeHandshakeFailure, Latency: extra,
			Cause: fmt.Sprintf("%s %s: no healthy upstream behind the east-west gateway (closed during the TLS handshake)", c.Name, svc)}
	}
	key := ""
	if cands[0].subset == subset {
		key = subset
	}
	i := st.rr[key] % len(cands)
	st.rr[key]++
	rec.Endpoint = cands[i].ip
	r := n.serve(t, cands[i], extra, rec)
	if r.Outcome != envoy.OutcomeResponse && gw == Ingress {
		// The ingress gateway turns its upstream's failure into a response.
		r = envoy.Result{Outcome: envoy.OutcomeResponse, Latency: r.Latency, Status: 503, Cause: r.Cause}
	}
	return r
}

// serve answers from one endpoint: queueing over capacity, faults, latency.
func (n *Network) serve(t time.Duration, e *endpoint, extra time.Duration, rec *AttemptRecord) envoy.Result {
	lat := extra + n.sample(e.svc.P50, e.svc.P99)
	// A pod back from a fault with a warm-up serves slower and less.
	warmCap, warmLat := n.warming(t, e, &rec.Faults)
	lat += warmLat
	if e.serviceTime > 0 {
		begin := t
		if e.busyUntil > begin {
			begin = e.busyUntil
		}
		wait := begin - t
		if wait > e.svc.MaxQueue {
			return envoy.Result{Outcome: envoy.OutcomeResponse, Latency: extra, Status: 503,
				Headers: [][2]string{{"x-envoy-overloaded", "true"}}, Cause: fmt.Sprintf("%s %s over capacity (503 overflow)", e.cluster.Name, e.svc.Name)}
		}
		e.busyUntil = begin + time.Duration(float64(e.serviceTime)/warmCap)
		lat += wait
	}
	status, cause := 200, ""
	var headers [][2]string
	for i := range n.faults {
		f := &n.faults[i]
		if !f.Active(t) || !hitsEndpoint(f, e) {
			continue
		}
		switch f.Kind {
		case AddedLatency:
			lat += f.Delay
			rec.Faults = append(rec.Faults, f.Name)
		case ErrorRate:
			if n.rng.Float64() < f.Rate {
				status, cause = f.Status, fmt.Sprintf("%s %s error rate (%d)", e.cluster.Name, e.svc.Name, f.Status)
				if f.GrpcStatus > 0 {
					// A gRPC server failing a call: trailers-only.
					status, cause = 200, fmt.Sprintf("%s %s error rate (grpc-status %d)", e.cluster.Name, e.svc.Name, f.GrpcStatus)
					headers = [][2]string{{"content-type", "application/grpc"}, {"grpc-status", strconv.Itoa(f.GrpcStatus)}}
				}
				rec.Faults = append(rec.Faults, f.Name)
			}
		}
	}
	return envoy.Result{Outcome: envoy.OutcomeResponse, Latency: lat, Status: status, Headers: headers, Cause: cause}
}

// sample draws a log-normal latency with the given median and 99th percentile.
func (n *Network) sample(p50, p99 time.Duration) time.Duration {
	if p50 <= 0 {
		return 0
	}
	if p99 <= p50 {
		return p50
	}
	const z99 = 2.3263478740408408
	sigma := math.Log(float64(p99)/float64(p50)) / z99
	return time.Duration(float64(p50) * math.Exp(sigma*n.rng.NormFloat64()))
}

// parseClusterName reads Istio's outbound cluster name
// outbound|PORT|SUBSET|HOST into the service name (the host's first label)
// and subset.
func parseClusterName(name string) (svc, subset string, ok bool) {
	parts := strings.Split(name, "|")
	if len(parts) != 4 || parts[3] == "" {
		return "", "", false
	}
	svc, _, _ = strings.Cut(parts[3], ".")
	return svc, parts[2], true
}

func sortDurations(xs []time.Duration) { slices.Sort(xs) }
