package sim

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/harness/simulator/envoy"
	"github.com/detour-mesh/detour/harness/simulator/report"
	"github.com/detour-mesh/detour/harness/simulator/sim/scenario"
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

// fleet is a fleet drill's sources and what the pods served, as the
// report reads them.
type fleet struct {
	report.FleetInput
	svc     string
	plugins []*pw.Plugin
}

type fleetSource = report.FleetSource

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

// fleetVolume holds a fleet drill to scenario.MaxRequests: the intent's loads,
// which the scenario's validation does not see, set the sources' rates
// when traffic.sources does not.
func (s *setup) fleetVolume() error {
	total := s.entryRate()
	for _, c := range s.top.Clusters {
		if c.Name != s.entry {
			total += s.rateOf(c.Name)
		}
	}
	if n := total * s.sc.Traffic.Duration.Seconds(); n > scenario.MaxRequests {
		return fmt.Errorf("%s: fleet: the sources send %.0f requests over traffic.duration (their rates are the intent's clusters[].load where traffic.sources names none); expected at most 50 million: set traffic.sources or a shorter duration", s.sc.Path, n)
	}
	return nil
}

// startFleet starts the other sources' sidecars and schedules their
// traffic (nil when the drill is not a fleet).
func (s *setup) startFleet(ctx context.Context, filter func(string) string, filters *Filters, clock *vclock.Clock, net *Network,
	pending *int, attempts map[uint64][]AttemptRecord, edsErr *error) (*fleet, error) {
	sc := s.sc
	if !sc.Traffic.Fleet {
		return nil, nil
	}
	if err := s.fleetVolume(); err != nil {
		return nil, err
	}
	start := clock.Now()
	fl := &fleet{svc: s.svc.Name, FleetInput: report.FleetInput{Clusters: clusterNames(s.top), Capacity: map[string]float64{}, Duration: sc.Traffic.Duration,
		Served: make([][]int, int(sc.Traffic.Duration/time.Second)+1)}}
	for _, c := range s.top.Clusters {
		for _, sv := range c.Services {
			if sv.Name == s.svc.Name {
				fl.Capacity[c.Name] = sv.Capacity
			}
		}
	}
	prev := net.Record
	net.Record = func(a AttemptRecord) {
		prev(a)
		sec := int(a.At / time.Second)
		if a.Endpoint == "" || a.Service != fl.svc || a.Outcome != envoy.OutcomeResponse || sec >= len(fl.Served) || strings.Contains(a.Cause, "over capacity") {
			return
		}
		if fl.Served[sec] == nil {
			fl.Served[sec] = make([]int, len(fl.Clusters))
		}
		for i, c := range fl.Clusters {
			if c == a.Cluster {
				fl.Served[sec][i]++
			}
		}
	}
	if s.entry == "edge" {
		fl.Sources = append(fl.Sources, &fleetSource{Entry: true, SourceReport: SourceReport{Cluster: "edge", Rate: s.entryRate()}})
	}
	for i, c := range s.top.Clusters {
		rate := s.rateOf(c.Name)
		if c.Name == s.entry {
			fl.Sources = append(fl.Sources, &fleetSource{Entry: true, SourceReport: SourceReport{Cluster: c.Name, Rate: s.entryRate()}})
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
		src.Answered, src.Errors = make([][]int, nsec), make([]int, nsec)
		for k := range src.Answered {
			src.Answered[k] = make([]int, len(fl.Clusters)+1)
		}
		fl.Sources = append(fl.Sources, src)
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
			sec := min(int(r.Start.Sub(start)/time.Second), len(src.Answered)-1)
			col := len(fl.Clusters)
			if n := len(atts); n > 0 {
				if j := slices.Index(fl.Clusters, atts[n-1].Cluster); j >= 0 {
					col = j
				}
			}
			src.Answered[sec][col]++
			if IsUserVisibleError(r.Status) {
				src.Errors[sec]++
				src.UserVisibleErrors++
				src.ErrorAt = append(src.ErrorAt, r.Start.Sub(start))
				if report.Overflowed(atts) {
					src.OverflowErrors++
					src.OverflowAt = append(src.OverflowAt, r.Start.Sub(start))
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
	// Ids above 2^40 per source keep every request's attempts apart.
	newTraffic(sc.Traffic, seed, src.Rate, authority, port, idx<<40).start(clock, start, func(_ uint64, _ string, req envoy.Request) {
		*pending++
		proxy.Send(req)
	})
	return nil
}

func (fl *fleet) close() {
	for _, p := range fl.plugins {
		p.Close()
	}
}

// report adds the entry proxy's requests and sums up.
func (fl *fleet) report(faults []Fault, entry []RequestRecord) *FleetReport {
	return report.Fleet(faults, &fl.FleetInput, entry)
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
