// Validation: a scenario file becomes a Scenario with defaults applied,
// every problem reported with file:line:col, field path and what was
// expected.

package scenario

import (
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

type validator struct {
	path string
	err  error
}

func (v *validator) fail(s Scalar, field, msg string) {
	if v.err == nil {
		v.err = &Error{File: v.path, Line: s.Line, Col: s.Col, Path: field, Msg: msg}
	}
}

// failf reports at a field located by its path.
func (v *validator) failf(field, format string, args ...any) {
	v.fail(Scalar{}, field, fmt.Sprintf(format, args...))
}

func (v *validator) duration(s Scalar, field string, def time.Duration) time.Duration {
	if s.Value == "" {
		return def
	}
	d, err := time.ParseDuration(s.Value)
	if err != nil || d < 0 {
		v.fail(s, field, fmt.Sprintf("expected a non-negative duration such as 250ms or 30s, got %q", s.Value))
		return def
	}
	return d
}

func (v *validator) number(s Scalar, field string, def, lo, hi float64) float64 {
	if s.Value == "" {
		return def
	}
	x, err := strconv.ParseFloat(s.Value, 64)
	if err != nil || math.IsNaN(x) || x < lo || x > hi {
		v.fail(s, field, fmt.Sprintf("expected a number from %g to %g, got %q", lo, hi, s.Value))
		return def
	}
	return x
}

func (v *validator) integer(s Scalar, field string, def, lo, hi int) int {
	if s.Value == "" {
		return def
	}
	x, err := strconv.Atoi(s.Value)
	if err != nil || x < lo || x > hi {
		v.fail(s, field, fmt.Sprintf("expected an integer from %d to %d, got %q", lo, hi, s.Value))
		return def
	}
	return x
}

// share reads "50%" or a percentage number as 0..1.
func (v *validator) share(s Scalar, field string, def float64) float64 {
	if s.Value == "" {
		return def
	}
	x, err := strconv.ParseFloat(strings.TrimSuffix(s.Value, "%"), 64)
	if err != nil || math.IsNaN(x) || x < 0 || x > 100 {
		v.fail(s, field, fmt.Sprintf("expected a percentage from 0%% to 100%% such as 50%%, got %q", s.Value))
		return def
	}
	return x / 100
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func (v *validator) name(s, field string, required bool) {
	if s == "" {
		if required {
			v.failf(field, "expected a name")
		}
		return
	}
	if !dnsLabel.MatchString(s) || len(s) > 63 {
		v.failf(field, "expected a DNS label (lowercase letters, digits, '-'), got %q", s)
	}
}

func (v *validator) scenario(f *File) *Scenario {
	sc := &Scenario{Path: v.path, Name: f.Name, Description: f.Description, Service: f.Service}
	dir := filepath.Dir(v.path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	sc.Intent, sc.Istio = rel(f.Intent), rel(f.Istio)
	if f.Intent == "" && f.Istio == "" {
		v.failf("", "expected intent (an intent file to compile) or istio (a directory of Istio YAML)")
	}
	if f.Istio != "" && f.Intent == "" && f.Service.Name == "" {
		v.failf("istio", "without an intent, expected service.name (and service.namespace, service.port) to say which service the Istio resources drill")
	}
	v.name(f.Service.Name, "service.name", false)
	v.name(f.Service.Namespace, "service.namespace", false)
	if f.Service.Port < 0 || f.Service.Port > 65535 {
		v.failf("service.port", "expected a port from 1 to 65535, got %d", f.Service.Port)
	}
	sc.Topology = v.topology(&f.Topology)
	sc.Traffic = v.traffic(&f.Traffic, sc.Topology)
	for i := range f.Faults {
		sc.Faults = append(sc.Faults, v.fault(&f.Faults[i], i, sc))
	}
	sc.Expect = v.expect(&f.Expect, "expect")
	sc.ExpectBaseline = v.expect(&f.ExpectBaseline, "expectBaseline")
	return sc
}

func (v *validator) topology(t *TopologyFile) Topology {
	out := Topology{
		Edge:              t.Edge,
		ControlPlaneDelay: v.duration(t.ControlPlaneDelay, "topology.controlPlaneDelay", DefaultControlPlaneDelay),
		CrossRegion:       v.duration(t.CrossRegion, "topology.crossRegionLatency", DefaultCrossRegion),
		GatewayLatency:    v.duration(t.GatewayLatency, "topology.gatewayLatency", DefaultGatewayLatency),
	}
	seen := map[string]bool{}
	for i, c := range t.Clusters {
		p := fmt.Sprintf("topology.clusters[%d]", i)
		v.name(c.Name, p+".name", true)
		if seen[c.Name] {
			v.failf(p+".name", "cluster %q given twice", c.Name)
		}
		seen[c.Name] = true
		cl := Cluster{Name: c.Name, Region: c.Region, Zone: c.Zone, SubZone: c.SubZone, Network: c.Network,
			EastWest: v.gateway(c.EastWestGateway, p+".eastWestGateway"), Ingress: v.gateway(c.IngressGateway, p+".ingressGateway")}
		svcs := map[string]bool{}
		for j, s := range c.Services {
			sp := fmt.Sprintf("%s.services[%d]", p, j)
			v.name(s.Name, sp+".name", true)
			if svcs[s.Name] {
				v.failf(sp+".name", "service %q given twice in cluster %q", s.Name, c.Name)
			}
			svcs[s.Name] = true
			cl.Services = append(cl.Services, v.service(&s, sp))
		}
		out.Clusters = append(out.Clusters, cl)
	}
	return out
}

func (v *validator) gateway(g GatewayFile, field string) Gateway {
	if g.Address != "" && !isIPv4(g.Address) {
		v.failf(field+".address", "expected an IPv4 address, got %q", g.Address)
	}
	if g.Port < 0 || g.Port > 65535 {
		v.failf(field+".port", "expected a port from 1 to 65535, got %d", g.Port)
	}
	return Gateway{Address: g.Address, Port: g.Port}
}

func isIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 || (len(p) > 1 && p[0] == '0') {
			return false
		}
	}
	return true
}

func (v *validator) service(s *ServiceFile, p string) Service {
	out := Service{Name: s.Name,
		P50:      v.duration(s.Latency.P50, p+".latency.p50", DefaultP50),
		P99:      v.duration(s.Latency.P99, p+".latency.p99", DefaultP99),
		Capacity: v.number(s.Capacity, p+".capacity", 0, 0, 1e9),
		MaxQueue: v.duration(s.MaxQueue, p+".maxQueue", DefaultMaxQueue),
	}
	out.CapacitySet = s.Capacity.Set()
	if out.P99 < out.P50 {
		v.fail(s.Latency.P99, p+".latency.p99", fmt.Sprintf("expected p99 >= p50 (%s)", out.P50))
	}
	if s.Endpoints.Set() && len(s.Subsets) > 0 {
		v.fail(s.Endpoints, p+".endpoints", "expected endpoints or subsets, not both (subsets give endpoints per subset)")
	}
	if len(s.Subsets) > 0 {
		names := make([]string, 0, len(s.Subsets))
		for n := range s.Subsets {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			v.name(n, p+".subsets."+n, true)
			out.Subsets = append(out.Subsets, Subset{Name: n, Endpoints: v.integer(s.Subsets[n], p+".subsets."+n, 1, 0, 1000)})
		}
		out.EndpointsSet = true
	} else {
		out.Subsets = []Subset{{Endpoints: v.integer(s.Endpoints, p+".endpoints", 1, 0, 1000)}}
		out.EndpointsSet = s.Endpoints.Set()
	}
	return out
}

func (v *validator) traffic(t *TrafficFile, top Topology) Traffic {
	out := Traffic{Entry: t.Entry, Host: t.Host,
		Rate:     v.number(t.Rate, "traffic.rate", DefaultRate, 0.001, 1e6),
		Duration: v.duration(t.Duration, "traffic.duration", DefaultDuration),
		Workers:  v.integer(t.Workers, "traffic.workers", DefaultWorkers, 1, 64),
		Port:     v.integer(t.Port, "traffic.port", 0, 1, 65535),
		Paths:    t.Paths,
	}
	if t.Seed.Value != "" {
		s, err := strconv.ParseUint(t.Seed.Value, 10, 64)
		if err != nil {
			v.fail(t.Seed, "traffic.seed", fmt.Sprintf("expected a non-negative integer, got %q", t.Seed.Value))
		}
		out.Seed = s
	}
	if t.Duration.Set() && out.Duration == 0 {
		v.fail(t.Duration, "traffic.duration", "expected a positive duration")
	}
	if out.Duration > 24*time.Hour {
		v.fail(t.Duration, "traffic.duration", "expected at most 24h")
	}
	out.RateSet = t.Rate.Set()
	v.fleet(t, &out)
	if out.Rate*out.Duration.Seconds() > MaxRequests {
		v.fail(t.Rate, "traffic.rate", fmt.Sprintf("rate × duration is %.0f requests; expected at most 50 million", out.Rate*out.Duration.Seconds()))
	}
	if t.Entry == "" {
		v.failf("traffic.entry", `expected "edge" (the edge gateway) or the name of the cluster whose client sidecar sends`)
	}
	if len(t.Methods) == 0 {
		out.Methods = []Weighted{{"GET", 1}}
	}
	names := make([]string, 0, len(t.Methods))
	for m := range t.Methods {
		names = append(names, m)
	}
	slices.Sort(names)
	total := 0.0
	for _, m := range names {
		if !slices.Contains([]string{"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH"}, m) {
			v.failf("traffic.methods."+m, "expected an HTTP method in capitals (GET, HEAD, OPTIONS, PUT, DELETE, POST, PATCH), got %q", m)
		}
		w := v.number(t.Methods[m], "traffic.methods."+m, 1, 0, 1e9)
		total += w
		out.Methods = append(out.Methods, Weighted{m, w})
	}
	if len(t.Methods) > 0 && total == 0 {
		v.failf("traffic.methods", "expected at least one method with a positive weight")
	}
	for i, p := range t.Paths {
		if !strings.HasPrefix(p, "/") {
			v.failf(fmt.Sprintf("traffic.paths[%d]", i), "expected a path starting with /, got %q", p)
		}
	}
	if len(out.Paths) == 0 {
		out.Paths = []string{"/"}
	}
	hn := make([]string, 0, len(t.Headers))
	for h := range t.Headers {
		hn = append(hn, h)
	}
	slices.Sort(hn)
	for _, h := range hn {
		if strings.HasPrefix(h, ":") || h != strings.ToLower(h) {
			v.failf("traffic.headers."+h, "expected a lower-case regular header name, got %q", h)
		}
		out.Headers = append(out.Headers, [2]string{h, t.Headers[h]})
	}
	return out
}

func (v *validator) fault(f *FaultFile, i int, sc *Scenario) Fault {
	p := fmt.Sprintf("faults[%d]", i)
	out := Fault{Name: f.Name, Kind: f.Kind.Value,
		Start: v.duration(f.Start, p+".start", 0),
		End:   v.duration(f.End, p+".end", 0),
	}
	if out.Name == "" {
		out.Name = fmt.Sprintf("fault-%d", i+1)
	}
	if !slices.Contains(faultKinds, f.Kind.Value) {
		if f.Kind.Value == "" {
			v.failf(p+".kind", "expected a kind (%s)", strings.Join(faultKinds, ", "))
		} else {
			v.fail(f.Kind, p+".kind", fmt.Sprintf("unknown fault kind %q (expected one of %s)", f.Kind.Value, strings.Join(faultKinds, ", ")))
		}
	}
	if f.End.Set() && out.End <= out.Start {
		v.fail(f.End, p+".end", fmt.Sprintf("expected an end after the start (%s)", out.Start))
	}
	if sc.Traffic.Duration > 0 && out.Start >= sc.Traffic.Duration {
		v.fail(f.Start, p+".start", fmt.Sprintf("expected a start within the traffic's duration (%s)", sc.Traffic.Duration))
	}
	t := f.Target
	out.Target = Target{Cluster: t.Cluster, Region: t.Region, Zone: t.Zone, Regions: t.Regions, Gateway: t.Gateway.Value,
		Service: t.Service, Subset: t.Subset, Share: v.share(t.Share, p+".target.share", 1)}
	if t.Gateway.Value != "" && t.Gateway.Value != Ingress && t.Gateway.Value != EastWest {
		v.fail(t.Gateway, p+".target.gateway", fmt.Sprintf("expected %s or %s, got %q", Ingress, EastWest, t.Gateway.Value))
	}
	if t.Cluster != "" && len(sc.Topology.Clusters) > 0 && !slices.ContainsFunc(sc.Topology.Clusters, func(c Cluster) bool { return c.Name == t.Cluster }) && sc.Intent == "" {
		v.failf(p+".target.cluster", "no cluster %q in the topology", t.Cluster)
	}
	if t.Subset != "" && t.Service == "" && sc.Service.Name == "" && sc.Intent == "" {
		v.failf(p+".target.subset", "expected target.service with a subset")
	}
	need := func(ok bool, what string) {
		if !ok {
			v.failf(p+".target", "a %s fault needs %s", out.Kind, what)
		}
	}
	if t.Zone != "" && !slices.Contains([]string{ServiceScaledToZero, ErrorRate, AddedLatency, ClusterOutage}, out.Kind) {
		v.failf(p+".target.zone", "a %s fault cannot target a zone (expected target.zone on %s, %s, %s or %s faults)", out.Kind, ServiceScaledToZero, ErrorRate, AddedLatency, ClusterOutage)
	}
	switch out.Kind {
	case GatewayResourceDeleted, GatewayScaledToZero:
		// Without target.gateway both of the cluster's gateways are hit.
		need(t.Cluster != "", "target.cluster")
	case ServiceScaledToZero, ErrorRate, AddedLatency:
		need(t.Cluster != "" || t.Region != "" || t.Zone != "", "target.cluster, target.region or target.zone")
	case ClusterOutage:
		// A zone's outage is every cluster of the zone down.
		need(t.Cluster != "" || t.Zone != "", "target.cluster or target.zone")
	case RegionOutage:
		need(t.Region != "", "target.region")
	case Partition:
		need(len(t.Regions) == 2 && t.Regions[0] != t.Regions[1], "target.regions: two different regions")
	}
	if f.GrpcStatus.Set() && out.Kind != ErrorRate {
		v.fail(f.GrpcStatus, p+".grpcStatus", "grpcStatus applies to errorRate faults only")
	}
	switch out.Kind {
	case ErrorRate:
		out.Status = v.integer(f.Status, p+".status", 503, 100, 599)
		out.Rate = v.share(f.Rate, p+".rate", 1)
		if f.GrpcStatus.Set() {
			if f.Status.Set() {
				v.failf(p, "status and grpcStatus exclude each other (grpcStatus answers :status 200)")
			}
			out.GrpcStatus = v.integer(f.GrpcStatus, p+".grpcStatus", 0, 1, 16)
		}
	case AddedLatency:
		out.Delay = v.duration(f.Delay, p+".delay", 0)
		if out.Delay == 0 {
			v.failf(p+".delay", "a latency fault needs a positive delay")
		}
	default:
		if f.Status.Set() || f.Rate.Set() {
			v.failf(p, "status and rate apply to errorRate faults only")
		}
		if f.Delay.Set() {
			v.fail(f.Delay, p+".delay", "delay applies to latency faults only")
		}
	}
	if f.Flap != nil {
		out.FlapPeriod = v.duration(f.Flap.Period, p+".flap.period", 0)
		out.FlapDuty = v.share(f.Flap.Duty, p+".flap.duty", 0.5)
		if out.FlapPeriod <= 0 {
			v.failf(p+".flap.period", "expected a positive period")
		}
		if out.FlapDuty <= 0 || out.FlapDuty >= 1 {
			v.failf(p+".flap.duty", "expected a duty cycle strictly between 0%% and 100%%")
		}
	}
	if f.WarmUp != nil {
		out.WarmUp = v.warmUp(f, p, out.Kind)
	}
	return out
}

func (v *validator) expect(e *ExpectFile, field string) Expect {
	var out Expect
	for _, c := range []struct {
		s   Scalar
		f   string
		dst **int
	}{{e.MaxUserVisibleErrors, ".maxUserVisibleErrors", &out.MaxUserVisibleErrors}, {e.MinUserVisibleErrors, ".minUserVisibleErrors", &out.MinUserVisibleErrors},
		{e.MaxIdempotentErrors, ".maxIdempotentErrors", &out.MaxIdempotentErrors}} {
		if c.s.Set() {
			n := v.integer(c.s, field+c.f, 0, 0, math.MaxInt32)
			*c.dst = &n
		}
	}
	for _, d := range []struct {
		s   Scalar
		f   string
		dst **time.Duration
	}{{e.MaxTimeToDetect, field + ".maxTimeToDetect", &out.MaxTimeToDetect}, {e.MaxTimeToFailOver, field + ".maxTimeToFailOver", &out.MaxTimeToFailOver}, {e.MaxTimeToFailBack, field + ".maxTimeToFailBack", &out.MaxTimeToFailBack},
		{e.MaxLatencyP99, field + ".maxLatencyP99", &out.MaxLatencyP99}} {
		if d.s.Set() {
			x := v.duration(d.s, d.f, 0)
			*d.dst = &x
		}
	}
	if e.MaxRetryAmplification.Set() {
		x := v.number(e.MaxRetryAmplification, field+".maxRetryAmplification", 1, 1, 1000)
		out.MaxRetryAmplification = &x
	}
	if e.MaxCrossRegionShare.Set() {
		x := v.share(e.MaxCrossRegionShare, field+".maxCrossRegionShare", 0)
		out.MaxCrossRegionShare = &x
	}
	if e.MaxShareOutside != nil {
		out.MaxShareOutside = v.shareOutside(e.MaxShareOutside, field+".maxShareOutside")
	}
	for _, r := range []struct {
		s   Scalar
		f   string
		dst **float64
	}{{e.MaxLatencyP50VsBaseline, ".maxLatencyP50VsBaseline", &out.MaxLatencyP50VsBaseline}, {e.MaxLatencyP99VsBaseline, ".maxLatencyP99VsBaseline", &out.MaxLatencyP99VsBaseline},
		{e.MaxErrorsVsBaseline, ".maxErrorsVsBaseline", &out.MaxErrorsVsBaseline}} {
		if !r.s.Set() {
			continue
		}
		if field != "expect" {
			// The baseline run is what the factors compare with.
			v.fail(r.s, field+r.f, "relative expectations apply to expect (the run with the filters) only")
			continue
		}
		x := v.number(r.s, field+r.f, 1, 0, 1000)
		*r.dst = &x
	}
	return out
}

// Active reports whether fault f is in effect at offset t from the start.
