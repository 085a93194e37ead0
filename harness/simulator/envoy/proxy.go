package envoy

import (
	"fmt"
	"math/rand/v2"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"

	"github.com/detour-mesh/detour/harness/simulator/xds"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// Config builds one simulated proxy.
type Config struct {
	// Name is the proxy's name in the scenario; it is copied into every
	// Attempt the proxy sends and every Event it emits.
	Name string
	// Snapshot is the proxy's xDS (LDS, RDS, CDS, EDS).
	Snapshot *xds.Snapshot
	// Clock is the virtual clock the proxy runs on. With Filters it must be
	// Process.Clock.
	Clock *vclock.Clock
	// Network decides what the wire does with each upstream attempt.
	Network Network
	// Seed makes every random choice (weighted clusters, load balancing,
	// retry back-off, enforcing percentages) reproducible.
	Seed uint64

	// LegacyEjection selects the max_ejection_percent semantics of Envoy
	// before 1.27 (the first ejection is always allowed); the default is
	// the current rule (100*(ejected+1)/hosts <= max_ejection_percent, or
	// always_eject_one_host).
	LegacyEjection bool

	// Process and Filters, if Filters is non-empty, run every request
	// through these proxy-wasm HTTP filters in this order (the first
	// decodes first) before Envoy's router, via httpsim. Without filters a
	// request goes straight to the router (the fast native path).
	Process *pw.Process
	Filters []*pw.Plugin

	// OnRecord, if set, is called when a request completes.
	OnRecord func(*Record)
	// OnEvent, if set, is called for every outlier detection event.
	OnEvent func(Event)
}

// Request is a downstream request entering the proxy now.
type Request struct {
	// Port is the listener port the request arrives on (e.g. 8080 on an
	// Istio ingress gateway, the service port on a sidecar). 0 uses the
	// first HTTP listener.
	Port    uint32
	Headers [][2]string
	Body    []byte
	// Worker is the Envoy worker (selects the Wasm VM); 0 if unsure.
	Worker int
	// Tag is copied into the Record (the runner's own request id, traffic
	// class, ...).
	Tag string
}

// Exchange is one request in flight; Record is set once Done.
type Exchange struct {
	Done   bool
	Record *Record
}

// Record is what happened to one request, for reports.
type Record struct {
	Tag   string
	Start time.Time
	End   time.Time
	// Latency is End - Start (what the client saw).
	Latency time.Duration
	// Route is the route name matched (empty: no route); VirtualHost its
	// virtual host; Cluster the cluster the router used (empty if none).
	Route       string
	VirtualHost string
	Cluster     string
	// Status is the final downstream status (0 if the stream was reset);
	// for a gRPC call that failed with :status 200, the HTTP status its
	// grpc-status maps to (userStatus).
	Status int
	// Flags are Envoy's response flags as access logs print them (UF, UH,
	// URX, UO, UT, UC, UR, NR, NC, LR).
	Flags []string
	// Details is Envoy's response code details (via_upstream,
	// no_healthy_upstream, upstream_reset_before_response_started{...},
	// upstream_per_try_timeout, upstream_response_timeout, route_not_found).
	Details string
	// Body is the response body (for local replies Envoy's text).
	Body string
	// Attempts lists every upstream attempt in order.
	Attempts []AttemptRecord
	// Retries is len(Attempts)-1 when there were attempts.
	Retries int
	// Cause is the Network's explanation of the last attempt's outcome.
	Cause string
	// Reset reports that the downstream stream was reset instead of answered.
	Reset bool
}

// AttemptRecord is one upstream attempt.
type AttemptRecord struct {
	Cluster  string
	Address  string
	Priority int
	// Locality is region/zone/subzone of the host ("" parts omitted).
	Locality string
	// Outcome is the Network's outcome (OutcomeResponse, ...), or
	// "per_try_timeout", "route_timeout" (the proxy gave up), "overflow"
	// (a circuit breaker refused it; no host was contacted).
	Outcome string
	Status  int
	Start   time.Time
	End     time.Time
	Cause   string
}

// Event kinds.
const (
	// EventEject: a host was ejected (enforced).
	EventEject = "eject"
	// EventUneject: an ejected host returned on an interval tick.
	EventUneject = "uneject"
	// EventNotEnforced: an ejection was detected but the enforcing_*
	// percentage roll said no.
	EventNotEnforced = "detected_not_enforced"
	// EventOverflow: an ejection was refused by max_ejection_percent.
	EventOverflow = "ejection_overflow"
)

// Detector types (Envoy's outlier_detection event log names).
const (
	DetectorConsecutive5xx                = "CONSECUTIVE_5XX"
	DetectorConsecutiveGatewayFailure     = "CONSECUTIVE_GATEWAY_FAILURE"
	DetectorConsecutiveLocalOriginFailure = "CONSECUTIVE_LOCAL_ORIGIN_FAILURE"
	DetectorSuccessRate                   = "SUCCESS_RATE"
	DetectorSuccessRateLocalOrigin        = "SUCCESS_RATE_LOCAL_ORIGIN"
	DetectorFailurePercentage             = "FAILURE_PERCENTAGE"
	DetectorFailurePercentageLocalOrigin  = "FAILURE_PERCENTAGE_LOCAL_ORIGIN"
)

// Event is an outlier detection event.
type Event struct {
	At      time.Time
	Proxy   string
	Cluster string
	Host    string // address
	Kind    string // Event*
	// Detector is the Detector* type (empty for un-ejections).
	Detector string
	// NumEjections is how often this host has been ejected so far.
	NumEjections int
	// ActiveEjections is the cluster's ejected host count after the event.
	ActiveEjections int
	// Hosts is the cluster's host count (all priorities).
	Hosts int
	// EjectionTime is the ejection duration this ejection was given
	// (min(base*multiplier, max) + jitter); 0 for other kinds.
	EjectionTime time.Duration
}

// Counters are the proxy's totals (Envoy's cluster stats summed).
type Counters struct {
	Requests int
	// Attempts is every upstream attempt (first tries plus retries).
	Attempts int
	// Retries is upstream_rq_retry.
	Retries int
	// RetryLimitExceeded is upstream_rq_retry_limit_exceeded (URX).
	RetryLimitExceeded int
	// RetryOverflow is upstream_rq_retry_overflow (max_retries / budget).
	RetryOverflow int
	// Overflow is requests refused by max_requests / max_pending (UO).
	Overflow int
	// NoHealthyUpstream is 503 UH replies.
	NoHealthyUpstream int
	// Ejections are enforced ejections; EjectionsOverflow refused by
	// max_ejection_percent; Unejections returns.
	Ejections         int
	EjectionsOverflow int
	Unejections       int
	// PerTryTimeouts and RouteTimeouts count the proxy's timeouts.
	PerTryTimeouts int
	RouteTimeouts  int
}

// Proxy is one simulated Envoy.
type Proxy struct {
	cfg      Config
	clock    *vclock.Clock
	rng      *rand.Rand
	routes   *routeTable
	clusters map[string]*cluster
	order    []string // cluster names in CDS order
	counters Counters
	gw       *gateway
}

// New builds a proxy from its xDS. Configuration the model cannot use
// (unknown listener filters, route actions it does not model) is an error
// naming the resource and field.
func New(cfg Config) (*Proxy, error) {
	if cfg.Snapshot == nil {
		return nil, fmt.Errorf("envoy: proxy %q: no xDS snapshot", cfg.Name)
	}
	if cfg.Clock == nil {
		if cfg.Process != nil {
			cfg.Clock = cfg.Process.Clock
		} else {
			return nil, fmt.Errorf("envoy: proxy %q: no clock", cfg.Name)
		}
	}
	if cfg.Network == nil {
		return nil, fmt.Errorf("envoy: proxy %q: no network", cfg.Name)
	}
	p := &Proxy{cfg: cfg, clock: cfg.Clock, rng: rand.New(rand.NewPCG(cfg.Seed, 0x64657465)), clusters: map[string]*cluster{}}
	rt, err := buildRoutes(cfg.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("envoy: proxy %q: %w", cfg.Name, err)
	}
	p.routes = rt
	for _, c := range cfg.Snapshot.Clusters {
		cl, err := p.buildCluster(c)
		if err != nil {
			return nil, fmt.Errorf("envoy: proxy %q: cluster %q: %w", cfg.Name, c.GetName(), err)
		}
		if cl == nil {
			continue
		}
		p.clusters[cl.name] = cl
		p.order = append(p.order, cl.name)
	}
	if len(cfg.Filters) > 0 {
		if cfg.Process == nil {
			return nil, fmt.Errorf("envoy: proxy %q: filters need a proxywasm.Process", cfg.Name)
		}
		if cfg.Process.Clock != cfg.Clock {
			return nil, fmt.Errorf("envoy: proxy %q: Clock must be the Process's clock", cfg.Name)
		}
		p.gw = newGateway(p)
	}
	return p, nil
}

// Warnings lists configuration the model left out or does not model
// (a route whose match it cannot evaluate, an unknown retry_on condition,
// a route action it does not forward): such routes answer 503 with details
// route_not_modelled, so a report shows them instead of guessing.
func (p *Proxy) Warnings() []string { return append([]string(nil), p.routes.warnings...) }

// Name is the proxy's name.
func (p *Proxy) Name() string { return p.cfg.Name }

// Send starts a request at the current virtual time; it progresses as the
// clock runs (retries, back-off and timeouts are clock events).
func (p *Proxy) Send(req Request) *Exchange {
	p.counters.Requests++
	x := &Exchange{}
	if p.gw != nil {
		p.gw.send(req, x)
		return x
	}
	p.startNative(req, x)
	return x
}

// Counters returns the totals so far.
func (p *Proxy) Counters() Counters { return p.counters }

// HasCluster reports whether CDS has the cluster (proxywasm.HTTPCallHandler).
func (p *Proxy) HasCluster(name string) bool { return p.clusters[name] != nil }

// Clusters lists the CDS cluster names in order.
func (p *Proxy) Clusters() []string { return append([]string(nil), p.order...) }

func (p *Proxy) finish(x *Exchange, r *Record) {
	if r.End.IsZero() {
		r.End = p.clock.Now()
	}
	r.Latency = r.End.Sub(r.Start)
	if len(r.Attempts) > 0 {
		r.Retries = len(r.Attempts) - 1
		if r.Cause == "" {
			r.Cause = r.Attempts[len(r.Attempts)-1].Cause
		}
	}
	x.Record = r
	x.Done = true
	if p.cfg.OnRecord != nil {
		p.cfg.OnRecord(r)
	}
}

func (p *Proxy) emit(e Event) {
	switch e.Kind {
	case EventEject:
		p.counters.Ejections++
	case EventUneject:
		p.counters.Unejections++
	case EventOverflow:
		p.counters.EjectionsOverflow++
	}
	if p.cfg.OnEvent != nil {
		e.Proxy = p.cfg.Name
		p.cfg.OnEvent(e)
	}
}

// HostStatus is one host as Envoy's /clusters would show it.
type HostStatus struct {
	Address  string
	Priority int
	Locality string
	Weight   uint32
	// Healthy is the EDS health; Ejected the outlier detection state.
	Healthy, Degraded, Ejected bool
	NumEjections               int
	ActiveRequests             int
}

// ClusterStatus is a cluster's current host set and load split.
type ClusterStatus struct {
	Name  string
	Hosts []HostStatus
	// HealthyLoad and DegradedLoad are the percent of traffic per priority.
	HealthyLoad, DegradedLoad []uint32
	// Panic marks priorities in panic mode.
	Panic          []bool
	ActiveRequests int
	ActiveRetries  int
}

// ClusterStatus reports a cluster's state; false if CDS has no such cluster.
func (p *Proxy) ClusterStatus(name string) (ClusterStatus, bool) {
	cl := p.clusters[name]
	if cl == nil {
		return ClusterStatus{}, false
	}
	s := ClusterStatus{Name: name, HealthyLoad: append([]uint32(nil), cl.load.Healthy...),
		DegradedLoad: append([]uint32(nil), cl.load.Degraded...), Panic: append([]bool(nil), cl.load.Panic...),
		ActiveRequests: cl.active, ActiveRetries: cl.activeRetries}
	for _, h := range cl.all {
		s.Hosts = append(s.Hosts, HostStatus{Address: h.addr, Priority: h.priority, Locality: h.locality, Weight: h.weight,
			Healthy: h.healthy, Degraded: h.degraded, Ejected: h.od.Ejected, NumEjections: h.od.NumEjections, ActiveRequests: h.active})
	}
	return s, true
}

// SetEndpoints applies an EDS update now (a scaled deployment, a removed
// gateway endpoint). Hosts that keep their address keep their outlier
// state; priority loads are recomputed at once, as Envoy does.
func (p *Proxy) SetEndpoints(cla *endpointv3.ClusterLoadAssignment) error {
	found := false
	for _, name := range p.order {
		c := p.cfg.Snapshot.Cluster(name)
		if c.GetType() != clusterv3.Cluster_EDS {
			continue
		}
		eds := c.GetEdsClusterConfig().GetServiceName()
		if eds == "" {
			eds = name
		}
		if eds == cla.GetClusterName() {
			p.clusters[name].setAssignment(cla)
			found = true
		}
	}
	if !found {
		return fmt.Errorf("envoy: proxy %q: no EDS cluster %q", p.cfg.Name, cla.GetClusterName())
	}
	return nil
}

// Stop cancels the outlier detectors' interval timers, so a runner can
// drain the clock once traffic ends.
func (p *Proxy) Stop() {
	for _, name := range p.order {
		if od := p.clusters[name].od; od != nil {
			od.Stop()
		}
	}
}
