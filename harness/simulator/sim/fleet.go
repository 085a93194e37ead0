package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/harness/simulator/envoy"
	"github.com/detour-mesh/detour/harness/simulator/xds"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// A fleet drill (traffic.fleet, traffic.sources) simulates, besides the
// entry proxy, the client sidecar of every other cluster with a load: each
// on the xDS Istio's generator produces for its own cluster, with its own
// filter VMs in the detour run, sending its load into the one shared
// network, so capacity is shared by every source. The report keeps the
// entry proxy's detail and adds per-source rows and fleet totals
// (RunReport.Fleet).

// FleetReport is a fleet drill's view over every source.
type FleetReport struct {
	Sources []SourceReport `json:"sources"`
	Total   SourceReport   `json:"total"`
	// Faults: per fault, the load each cluster's pods served while it was
	// active, and the overflow errors users saw then.
	Faults []FleetFault `json:"faults"`
}

// SourceReport is one source cluster's client sidecar (or all of them).
type SourceReport struct {
	Cluster           string  `json:"cluster"`
	Rate              float64 `json:"rate"`
	Requests          int     `json:"requests"`
	UserVisibleErrors int     `json:"userVisibleErrors"`
	// OverflowErrors are user-visible errors whose last attempt found the
	// pods over capacity (503 overflow).
	OverflowErrors int `json:"overflowErrors"`
	// Seconds is, per second, the source's requests and where they were
	// answered (Share in the order of RunReport.Clusters); the entry
	// proxy's are the run's own Seconds, so it has none here.
	Seconds []SourceSecond `json:"seconds,omitempty"`
}

// SourceSecond is one second of a source's traffic.
type SourceSecond struct {
	T        int       `json:"t"`
	Requests int       `json:"requests"`
	Errors   int       `json:"errors"`
	Share    []float64 `json:"share"`
}

// FleetFault is the fleet's load while one fault was active, measured from
// fleetSettle after its start (detection and failover done) to its end,
// and the errors users saw from its start to its end.
type FleetFault struct {
	Fault    string        `json:"fault"`
	FromS    float64       `json:"fromS"`
	ToS      float64       `json:"toS"`
	Clusters []ClusterLoad `json:"clusters"`
	// OverflowErrors over every source in the window: none means the
	// survivors absorbed the load.
	OverflowErrors int `json:"overflowErrors"`
	// UserVisibleErrors over every source in the window.
	UserVisibleErrors int `json:"userVisibleErrors"`
}

// ClusterLoad is the mean requests/s a cluster's pods served (overflow
// refusals left out) against their capacity (0: unlimited).
type ClusterLoad struct {
	Cluster  string  `json:"cluster"`
	RPS      float64 `json:"rps"`
	Capacity float64 `json:"capacity"`
}

// fleetSettle is how long after a fault's start the fleet's load is read:
// detection and failover take well under it in every drill.
const fleetSettle = 5 * time.Second

type fleet struct {
	svc      string
	clusters []string
	capacity map[string]float64
	dur      time.Duration
	sources  []*fleetSource
	served   [][]int // per second, per cluster: attempts a pod served
	plugins  []*pw.Plugin
}

type fleetSource struct {
	SourceReport
	entry      bool // the entry proxy: counted from the run's records
	overflowAt []time.Duration
	errorAt    []time.Duration
	// answered counts, per second, the requests each cluster (then
	// "none") answered; errors the user-visible errors.
	answered [][]int
	errors   []int
}

// intentLoads are the intent's per-cluster loads.
func intentLoads(in *intent.Intent) map[string]float64 {
	out := map[string]float64{}
	for _, c := range in.Spec.Clusters {
		if c.Load != nil {
			out[c.Name] = *c.Load
		}
	}
	return out
}

// rateOf is what cluster c's sidecars send in a fleet drill. With an edge
// entry the intent's loads arrive at the edge (entryRate): sidecars send
// only what traffic.sources gives them.
func (s *setup) rateOf(c string) float64 {
	if r, ok := s.sc.Traffic.Source(c); ok {
		return r
	}
	if s.entry == "edge" {
		return 0
	}
	if c == s.entry && s.sc.Traffic.RateSet {
		return s.sc.Traffic.Rate
	}
	if r, ok := s.loads[c]; ok {
		return r
	}
	if c == s.entry {
		return s.sc.Traffic.Rate
	}
	return 0
}

// entryRate is the entry proxy's rate: the traffic's, or in a fleet drill
// its cluster's.
func (s *setup) entryRate() float64 {
	if !s.sc.Traffic.Fleet {
		return s.sc.Traffic.Rate
	}
	if s.entry == "edge" {
		total := 0.0
		for _, l := range s.loads {
			total += l
		}
		if s.sc.Traffic.RateSet || total == 0 {
			return s.sc.Traffic.Rate
		}
		return total
	}
	return s.rateOf(s.entry)
}

func overflowed(atts []AttemptRecord) bool {
	return len(atts) > 0 && strings.Contains(atts[len(atts)-1].Cause, "over capacity")
}

// startFleet starts the other sources' sidecars and schedules their
// traffic (nil when the drill is not a fleet).
func (s *setup) startFleet(ctx context.Context, filter func(string) string, filters *Filters, clock *vclock.Clock, net *Network,
	pending *int, attempts map[uint64][]AttemptRecord, edsErr *error) (*fleet, error) {
	sc := s.sc
	if !sc.Traffic.Fleet {
		return nil, nil
	}
	start := clock.Now()
	fl := &fleet{svc: s.svc.Name, clusters: clusterNames(s.top), capacity: map[string]float64{}, dur: sc.Traffic.Duration,
		served: make([][]int, int(sc.Traffic.Duration/time.Second)+1)}
	for _, c := range s.top.Clusters {
		for _, sv := range c.Services {
			if sv.Name == s.svc.Name {
				fl.capacity[c.Name] = sv.Capacity
			}
		}
	}
	prev := net.Record
	net.Record = func(a AttemptRecord) {
		prev(a)
		sec := int(a.At / time.Second)
		if a.Endpoint == "" || a.Service != fl.svc || a.Outcome != envoy.OutcomeResponse || sec >= len(fl.served) || strings.Contains(a.Cause, "over capacity") {
			return
		}
		if fl.served[sec] == nil {
			fl.served[sec] = make([]int, len(fl.clusters))
		}
		for i, c := range fl.clusters {
			if c == a.Cluster {
				fl.served[sec][i]++
			}
		}
	}
	if s.entry == "edge" {
		fl.sources = append(fl.sources, &fleetSource{entry: true, SourceReport: SourceReport{Cluster: "edge", Rate: s.entryRate()}})
	}
	for i, c := range s.top.Clusters {
		rate := s.rateOf(c.Name)
		if c.Name == s.entry {
			fl.sources = append(fl.sources, &fleetSource{entry: true, SourceReport: SourceReport{Cluster: c.Name, Rate: s.entryRate()}})
			continue
		}
		if rate <= 0 {
			continue
		}
		if _, ok := s.config[c.Name]; !ok {
			return nil, fmt.Errorf("%s: fleet: no Istio configuration for source cluster %s", sc.Path, c.Name)
		}
		src := &fleetSource{SourceReport: SourceReport{Cluster: c.Name, Rate: rate}}
		nsec := max(1, int((sc.Traffic.Duration+time.Second-1)/time.Second))
		src.answered, src.errors = make([][]int, nsec), make([]int, nsec)
		for k := range src.answered {
			src.answered[k] = make([]int, len(fl.clusters)+1)
		}
		fl.sources = append(fl.sources, src)
		if err := s.startSource(ctx, src, uint64(i+1), filter, filters, clock, start, net, pending, attempts, edsErr, fl); err != nil {
			return nil, err
		}
	}
	return fl, nil
}

// startSource is one source cluster's sidecar and its traffic.
func (s *setup) startSource(ctx context.Context, src *fleetSource, idx uint64, filter func(string) string, filters *Filters, clock *vclock.Clock,
	start time.Time, net *Network, pending *int, attempts map[uint64][]AttemptRecord, edsErr *error, fl *fleet) error {
	sc := s.sc
	sub := *s
	sub.entry = src.Cluster
	cfg := filter(s.config[src.Cluster])
	proxyIn, place := sub.place()
	snap, err := sub.generate(ctx, cfg, proxyIn, 0)
	if err != nil {
		return err
	}
	name := "source-" + src.Cluster
	net.Place(name, place)
	port := uint32(s.svc.Port)
	seed := sc.Traffic.Seed + idx*0x9e3779b9
	var proc *pw.Process
	var plugins []*pw.Plugin
	if filters != nil && hasWasm(snap, port) {
		node := pw.Node{ID: proxyIn.Name + "." + proxyIn.Namespace, Cluster: proxyIn.Cluster, Region: proxyIn.Region, Zone: proxyIn.Zone, SubZone: proxyIn.Subzone}
		if proc, plugins, err = filters.startFilters(ctx, snap, port, clock, sc.Traffic.Workers, seed, node); err != nil {
			return fmt.Errorf("%s: source %s: %w", sc.Path, src.Cluster, err)
		}
		fl.plugins = append(fl.plugins, plugins...)
	}
	proxy, err := envoy.New(envoy.Config{Name: name, Snapshot: snap, Clock: clock, Network: net, Seed: seed, Process: proc, Filters: plugins,
		OnRecord: func(r *envoy.Record) {
			*pending--
			id, _ := strconv.ParseUint(r.Tag, 10, 64)
			atts := attempts[id]
			delete(attempts, id)
			src.Requests++
			sec := min(int(r.Start.Sub(start)/time.Second), len(src.answered)-1)
			col := len(fl.clusters)
			if n := len(atts); n > 0 {
				if j := slices.Index(fl.clusters, atts[n-1].Cluster); j >= 0 {
					col = j
				}
			}
			src.answered[sec][col]++
			if IsUserVisibleError(r.Status) {
				src.errors[sec]++
				src.UserVisibleErrors++
				src.errorAt = append(src.errorAt, r.Start.Sub(start))
				if overflowed(atts) {
					src.OverflowErrors++
					src.overflowAt = append(src.overflowAt, r.Start.Sub(start))
				}
			}
		}})
	if err != nil {
		return fmt.Errorf("%s: source %s: %w", sc.Path, src.Cluster, err)
	}
	if proc != nil {
		proc.HTTPCalls = proxy
	}
	for _, t := range sub.kubeChanges() {
		at := t + sc.Topology.ControlPlaneDelay
		if at >= sc.Traffic.Duration {
			continue
		}
		next, err := sub.generate(ctx, cfg, proxyIn, t)
		if err != nil {
			return err
		}
		clock.At(start.Add(at), func() {
			for _, cla := range next.Endpoints {
				if err := proxy.SetEndpoints(cla); err != nil && *edsErr == nil {
					*edsErr = err
				}
			}
		})
	}
	authority := s.fqdn
	if sc.Traffic.Host != "" && s.entry != "edge" {
		authority = sc.Traffic.Host
	}
	rng := rand.New(rand.NewPCG(seed, 0x74726166666963))
	total := 0.0
	for _, m := range sc.Traffic.Methods {
		total += m.Weight
	}
	n := uint64(0)
	var at time.Duration
	var arrive func()
	schedule := func() {
		at += time.Duration(rng.ExpFloat64() / src.Rate * float64(time.Second))
		if at < sc.Traffic.Duration {
			clock.At(start.Add(at), arrive)
		}
	}
	arrive = func() {
		n++
		method, path := draw(rng, sc.Traffic, total)
		// Ids above 2^40 per source keep every request's attempts apart.
		tag := strconv.FormatUint(idx<<40|n, 10)
		hdrs := make([][2]string, 0, 5+len(sc.Traffic.Headers))
		hdrs = append(hdrs, [2]string{":method", method}, [2]string{":path", path}, [2]string{":authority", authority}, [2]string{":scheme", "http"}, [2]string{RequestIDHeader, tag})
		hdrs = append(hdrs, sc.Traffic.Headers...)
		*pending++
		proxy.Send(envoy.Request{Port: port, Headers: hdrs, Worker: int(n % uint64(sc.Traffic.Workers)), Tag: tag})
		schedule()
	}
	schedule()
	return nil
}

func (fl *fleet) close() {
	for _, p := range fl.plugins {
		p.Close()
	}
}

// report adds the entry proxy's requests and sums up.
func (fl *fleet) report(faults []Fault, entry []RequestRecord) *FleetReport {
	out := &FleetReport{Total: SourceReport{Cluster: "total"}}
	var overflowAt, errorAt []time.Duration
	for _, src := range fl.sources {
		if src.entry {
			for _, r := range entry {
				src.Requests++
				if IsUserVisibleError(r.Status) {
					src.UserVisibleErrors++
					src.errorAt = append(src.errorAt, r.Start)
					if overflowed(r.Attempts) {
						src.OverflowErrors++
						src.overflowAt = append(src.overflowAt, r.Start)
					}
				}
			}
		}
		for t, counts := range src.answered {
			n := 0
			for _, c := range counts {
				n += c
			}
			sec := SourceSecond{T: t, Requests: n, Errors: src.errors[t], Share: make([]float64, len(counts))}
			for j, c := range counts {
				if n > 0 {
					sec.Share[j] = round(float64(c) / float64(n))
				}
			}
			src.Seconds = append(src.Seconds, sec)
		}
		out.Sources = append(out.Sources, src.SourceReport)
		out.Total.Rate += src.Rate
		out.Total.Requests += src.Requests
		out.Total.UserVisibleErrors += src.UserVisibleErrors
		out.Total.OverflowErrors += src.OverflowErrors
		overflowAt = append(overflowAt, src.overflowAt...)
		errorAt = append(errorAt, src.errorAt...)
	}
	for _, f := range faults {
		from, to := f.Start+fleetSettle, f.End
		if to == 0 || to > fl.dur {
			to = fl.dur
		}
		if to <= from {
			continue
		}
		ff := FleetFault{Fault: f.Name, FromS: secs(from), ToS: secs(to)}
		for i, c := range fl.clusters {
			n := 0
			for sec := int(from / time.Second); sec < int(to/time.Second) && sec < len(fl.served); sec++ {
				if fl.served[sec] != nil {
					n += fl.served[sec][i]
				}
			}
			ff.Clusters = append(ff.Clusters, ClusterLoad{Cluster: c, RPS: float64(n) / (to - from).Seconds(), Capacity: fl.capacity[c]})
		}
		// Errors count from the fault's start: detection is immediate in
		// a drill of a loss (connections refused).
		for _, t := range overflowAt {
			if t >= f.Start && t < to {
				ff.OverflowErrors++
			}
		}
		for _, t := range errorAt {
			if t >= f.Start && t < to {
				ff.UserVisibleErrors++
			}
		}
		out.Faults = append(out.Faults, ff)
	}
	return out
}

// fleetRows adds the fleet's rows to the summary's table: per source its
// errors and overflow errors, and per fault each cluster's load against
// its capacity with the verdict (absorbed: no overflow errors).
func fleetRows(runs []RunReport, row func(string, func(RunReport) string, func(a, b RunReport) string)) {
	if len(runs) == 0 || runs[0].Fleet == nil {
		return
	}
	first := runs[0].Fleet
	none := func(RunReport) string { return "" }
	row("sources: errors / overflow", none, nil)
	for i, s := range first.Sources {
		row(fmt.Sprintf("  %s %g rps", s.Cluster, s.Rate), func(run RunReport) string {
			x := run.Fleet.Sources[i]
			return fmt.Sprintf("%d / %d", x.UserVisibleErrors, x.OverflowErrors)
		}, nil)
	}
	// Every run sends the same requests (one seed), so their count is the
	// row's label and the cells stay narrow enough for the columns.
	row(fmt.Sprintf("  fleet %g rps, %d requests", first.Total.Rate, first.Total.Requests), func(run RunReport) string {
		x := run.Fleet.Total
		return fmt.Sprintf("%d / %d", x.UserVisibleErrors, x.OverflowErrors)
	}, nil)
	for i, f := range first.Faults {
		row(f.Fault+" load", none, nil)
		for j, c := range f.Clusters {
			row(fmt.Sprintf("  %s rps", c.Cluster), func(run RunReport) string {
				x := run.Fleet.Faults[i].Clusters[j]
				if x.Capacity == 0 {
					return fmt.Sprintf("%.0f", x.RPS)
				}
				return fmt.Sprintf("%.0f/%.0f", x.RPS, x.Capacity)
			}, nil)
		}
		row(f.Fault+" verdict", func(run RunReport) string {
			if n := run.Fleet.Faults[i].OverflowErrors; n > 0 {
				return fmt.Sprintf("OVERLOADED (%d)", n)
			}
			return "absorbed"
		}, nil)
	}
}

// hasWasm reports a Wasm filter in the listener's chain: a source whose
// configuration has none (an edge intent's sidecars: the WasmPlugins
// select the edge gateway) runs as plain Istio in the detour run too.
func hasWasm(snap *xds.Snapshot, port uint32) bool {
	scratch, err := envoy.New(envoy.Config{Name: entryName, Snapshot: snap, Clock: vclock.New(time.Time{}), Network: nopNetwork{}})
	if err != nil {
		return false
	}
	defer scratch.Stop()
	chain, err := scratch.HTTPFilters(port)
	if err != nil {
		return false
	}
	for _, hf := range chain {
		if hf.Wasm != nil && !hf.Disabled {
			return true
		}
	}
	return false
}
