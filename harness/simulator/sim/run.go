package sim

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/detour-mesh/detour/harness/simulator/envoy"
	"github.com/detour-mesh/detour/harness/simulator/report"
	"github.com/detour-mesh/detour/harness/simulator/xds"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen/input"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// Options change how a scenario runs.
type Options struct {
	// Istio is a directory of Istio YAML that replaces the scenario's
	// configuration (detour simulate --istio DIR).
	Istio string
	// Baseline is a directory of Istio YAML (any configuration, e.g. a
	// team's current one, or Istio as its documentation configures it)
	// run first, as a third column named "baseline" (detour simulate
	// --baseline DIR). Its WasmPlugins are left out.
	Baseline string
	// Filters is the compiled Detour filter module. With it, Run runs the
	// scenario twice, "istio" (the compiled resources without the filters)
	// then "detour"; without it, only "istio".
	Filters *Filters
	// Only runs one of them: "istio", "detour" or "baseline" (detour
	// simulate --only).
	Only string
	// Progress, if set, is told after each simulated 10 s of a run how far
	// it is (0..1) and which run it is.
	Progress func(run string, done float64)
	// Generate gives each simulated proxy its xDS: Istio's own generator,
	// xdsgen.Generate (detour simulate and the drills pass it), or a replay
	// of what it produced (harness/simulator/sim/recorded, for the run
	// loop's own tests). Injected so that this package does not link
	// Istio. Required.
	Generate input.Generator
}

// drain is how long the run waits, after the traffic stops, for requests
// still in flight (Envoy's route timeouts are far shorter by default).
const drain = 5 * time.Minute

// entryName is the simulated proxy that receives the traffic.
const entryName = "entry"

// Run runs the scenario and reports what its users saw. The entry proxy's
// xDS is opts.Generate's (Istio's own, harness/simulator/xdsgen) over the
// scenario's Istio configuration and the Kubernetes objects synthesised
// from its topology; the proxy is the Envoy model
// (harness/simulator/envoy); the world behind it is the topology with its
// fault timeline (Network). Everything runs on one virtual clock from the
// scenario's seed.
func Run(ctx context.Context, sc *Scenario, opts Options) (*Report, error) {
	if opts.Generate == nil {
		return nil, fmt.Errorf("%s: no xDS generator (Options.Generate: xdsgen.Generate)", sc.Path)
	}
	s, err := resolve(sc, opts.Istio)
	if err != nil {
		return nil, err
	}
	s.gen = opts.Generate
	rep := &Report{Scenario: sc.Name, Seed: sc.Traffic.Seed, DurationS: report.Secs(sc.Traffic.Duration), Faults: report.FaultReports(sc.Faults)}
	if rep.Scenario == "" {
		rep.Scenario = strings.TrimSuffix(baseName(sc.Path), ".yaml")
	}
	rep.Entry = "edge gateway"
	if s.entry != "edge" {
		rep.Entry = "sidecar in " + s.entry
	}
	switch opts.Only {
	case "", RunIstio, RunDetour:
	case RunBaseline:
		if opts.Baseline == "" {
			return nil, fmt.Errorf("only: the baseline run needs a baseline directory")
		}
	default:
		return nil, fmt.Errorf("only: %q is not a run (expected istio, detour or baseline)", opts.Only)
	}
	withoutFilters := func(y string) string { return withoutKinds(y, "WasmPlugin") }
	if opts.Baseline != "" && (opts.Only == "" || opts.Only == RunBaseline) {
		// A reference column: no expectations (the scenario's describe the
		// compiled resources).
		base, err := resolve(sc, opts.Baseline)
		if err != nil {
			return nil, err
		}
		base.gen = opts.Generate
		run, err := base.run(ctx, RunBaseline, base.source, withoutFilters, nil, opts.Progress, Expect{})
		if err != nil {
			return nil, err
		}
		rep.Runs = append(rep.Runs, run)
	}
	if opts.Only == "" || opts.Only == RunIstio {
		exps := []Expect{sc.ExpectBaseline}
		if opts.Only == RunIstio || opts.Filters == nil {
			exps = append(exps, sc.Expect) // no run with the filters: the goals apply here
		}
		run, err := s.run(ctx, RunIstio, s.source, withoutFilters, nil, opts.Progress, exps...)
		if err != nil {
			return nil, err
		}
		rep.Runs = append(rep.Runs, run)
	}
	if opts.Only == RunDetour || (opts.Only == "" && opts.Filters != nil) {
		if opts.Filters == nil {
			return nil, fmt.Errorf("%s: the detour run needs the filter module", sc.Path)
		}
		run, err := s.run(ctx, RunDetour, s.source+" with the filters of "+opts.Filters.Source, func(y string) string { return y }, opts.Filters, opts.Progress, sc.Expect)
		if err != nil {
			return nil, err
		}
		rep.Runs = append(rep.Runs, run)
	}
	report.ApplyRelative(rep, sc.Expect)
	return rep, nil
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// place is where the entry proxy runs and how Istio sees it.
func (s *setup) place() (input.Proxy, ProxyPlace) {
	if s.entry == "edge" {
		e := s.sc.Topology.Edge
		c := s.top.Clusters[0]
		p := ProxyPlace{Cluster: or(e.Cluster, "edge"), Region: or(e.Region, c.Region), Zone: or(e.Zone, c.Zone), Network: or(e.Network, "edge-network")}
		labels := map[string]string{"istio": "ingressgateway"}
		for k, v := range s.selector {
			labels[k] = v
		}
		// The gateway runs where the intent says (Istio scopes the edge's
		// WasmPlugins to that namespace); hand-written configurations
		// without an intent keep it beside the service.
		ns := s.svc.Namespace
		if s.edge != nil && s.edge.GatewayNamespace != "" {
			ns = s.edge.GatewayNamespace
		}
		return input.Proxy{Type: input.Router, Cluster: p.Cluster, Network: p.Network, Region: p.Region, Zone: p.Zone,
			IP: "10.254.0.1", Namespace: ns, Name: "edge-gateway", Labels: labels}, p
	}
	i := slices.IndexFunc(s.top.Clusters, func(c Cluster) bool { return c.Name == s.entry })
	c := s.top.Clusters[i]
	p := ProxyPlace{Cluster: c.Name, Region: c.Region, Zone: c.Zone, Network: c.Network}
	return input.Proxy{Type: input.Sidecar, Cluster: c.Name, Network: c.Network, Region: c.Region, Zone: c.Zone, Subzone: c.SubZone,
		IP: fmt.Sprintf("10.%d.0.1", 100+i), Namespace: s.svc.Namespace, Name: "client-" + c.Name, Labels: map[string]string{"app": "client"}}, p
}

// kube is the Kubernetes side of the entry proxy's cluster at offset t:
// its services and the pods not scaled to zero.
func (s *setup) kube(t time.Duration) []input.Cluster {
	if s.entry == "edge" {
		return nil
	}
	var out []input.Cluster
	for ci := range s.top.Clusters {
		c := &s.top.Clusters[ci]
		if c.Name != s.entry {
			continue
		}
		kc := input.Cluster{ID: c.Name, Network: c.Network, Region: c.Region, Zone: c.Zone, Subzone: c.SubZone}
		for si := range c.Services {
			svc := &c.Services[si]
			ks := input.Service{Name: svc.Name, Namespace: s.svc.Namespace, Labels: s.serviceLabels(svc.Name),
				Ports: []input.Port{{Name: "http", Port: uint32(s.svc.Port)}}}
			for _, ep := range PodEndpoints(ci, si, svc) {
				e := &endpoint{cluster: c, svc: svc, subset: ep.Subset, index: ep.Index, total: ep.Total}
				if s.scaledAt(e, t) {
					continue // Kubernetes deleted the pod: it leaves the EndpointSlice
				}
				labels := map[string]string{"app": svc.Name}
				for k, v := range s.serviceLabels(svc.Name) {
					labels[k] = v
				}
				if ep.Subset != "" {
					labels["version"] = ep.Subset
				}
				ks.Endpoints = append(ks.Endpoints, input.Endpoint{IP: ep.IP, Labels: labels})
			}
			kc.Services = append(kc.Services, ks)
		}
		out = append(out, kc)
	}
	return out
}

// resolvedGateways are the east-west gateways known by host name, at the
// address the topology resolves each name to: what istiod holds after
// resolving them (RESOLVE_HOSTNAME_GATEWAYS). The compiled WorkloadEntries
// of such a cluster carry no address, and Istio puts these there.
func (s *setup) resolvedGateways() []input.NetworkGateway {
	var out []input.NetworkGateway
	for _, c := range s.top.Clusters {
		if c.EastWest.Name == "" || c.Network == "" {
			continue
		}
		out = append(out, input.NetworkGateway{Network: c.Network, Cluster: c.Name, Address: c.EastWest.Address, Port: uint32(c.EastWest.Port)})
	}
	return out
}

func (s *setup) serviceLabels(name string) map[string]string {
	return map[string]string{"app": name}
}

func (s *setup) scaledAt(e *endpoint, t time.Duration) bool {
	for i := range s.sc.Faults {
		f := &s.sc.Faults[i]
		if f.Kind == ServiceScaledToZero && f.Active(t) && hitsEndpoint(f, e) {
			return true
		}
	}
	return false
}

// kubeChanges are the offsets at which the entry cluster's pods change
// (a scale to zero starting, ending or flapping there).
func (s *setup) kubeChanges() []time.Duration {
	if s.entry == "edge" {
		return nil
	}
	var out []time.Duration
	for i := range s.sc.Faults {
		f := &s.sc.Faults[i]
		if f.Kind != ServiceScaledToZero || !slices.ContainsFunc(s.top.Clusters, func(c Cluster) bool {
			return c.Name == s.entry && f.Target.Hits(c.Name, c.Region, c.Zone)
		}) {
			continue
		}
		out = append(out, f.Edges(s.sc.Traffic.Duration)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// generate runs the generator (Istio's) for the entry proxy over the
// configuration and the Kubernetes state at offset t.
func (s *setup) generate(ctx context.Context, cfg string, proxy input.Proxy, t time.Duration) (*xds.Snapshot, error) {
	target := s.entry
	if target == "edge" {
		target = EdgeTarget
	}
	snap, err := s.gen(ctx, input.Input{
		ControlPlane: input.ControlPlane{Cluster: proxy.Cluster, Config: cfg, ConfigName: s.configName(target), SkipOtherKinds: true, Clusters: s.kube(t),
			NetworkGateways: s.resolvedGateways()},
		Proxy: proxy,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: generating the xDS of the %s proxy: %w", s.sc.Path, target, err)
	}
	return snap, nil
}

// run is one configuration's run.
func (s *setup) run(ctx context.Context, name, source string, filter func(string) string, filters *Filters, progress func(string, float64), exps ...Expect) (RunReport, error) {
	sc := s.sc
	target := s.entry
	if target == "edge" {
		target = EdgeTarget
	}
	cfg := filter(s.config[target])
	proxyIn, place := s.place()
	snap, err := s.generate(ctx, cfg, proxyIn, 0)
	if err != nil {
		return RunReport{}, err
	}
	clock := vclock.New(time.Time{})
	start := clock.Now()
	net := NewNetwork(s.top, sc.Faults, start, sc.Traffic.Seed, s.svc.Name)
	net.Place(entryName, place)
	attempts := map[uint64][]AttemptRecord{}
	net.Record = func(a AttemptRecord) {
		if a.RequestID != 0 {
			attempts[a.RequestID] = append(attempts[a.RequestID], a)
		}
	}
	records := make([]RequestRecord, 0, int(sc.Traffic.Rate*sc.Traffic.Duration.Seconds()*1.05)+16)
	var events []Event
	pending := 0
	methods := map[uint64]string{}
	port := uint32(s.svc.Port)
	if s.entry == "edge" {
		port = 80
		if s.edge != nil && s.edge.Port != 0 {
			port = s.edge.Port
		}
	}
	if sc.Traffic.Port != 0 {
		port = uint32(sc.Traffic.Port)
	}
	var proc *pw.Process
	var plugins []*pw.Plugin
	if filters != nil {
		node := pw.Node{ID: proxyIn.Name + "." + proxyIn.Namespace, Cluster: proxyIn.Cluster, Region: proxyIn.Region, Zone: proxyIn.Zone, SubZone: proxyIn.Subzone}
		proc, plugins, err = filters.startFilters(ctx, snap, port, clock, sc.Traffic.Workers, sc.Traffic.Seed, node)
		if err != nil {
			return RunReport{}, fmt.Errorf("%s: %s run: %w", sc.Path, name, err)
		}
		defer func() {
			for _, pl := range plugins {
				pl.Close()
			}
		}()
	}
	proxy, err := envoy.New(envoy.Config{Name: entryName, Snapshot: snap, Clock: clock, Network: net, Seed: sc.Traffic.Seed,
		Process: proc, Filters: plugins,
		OnRecord: func(r *envoy.Record) {
			pending--
			id, _ := strconv.ParseUint(r.Tag, 10, 64)
			records = append(records, RequestRecord{ID: id, Method: methods[id], Start: r.Start.Sub(start), End: r.End.Sub(start), Status: r.Status,
				Flags: strings.Join(r.Flags, ","), Details: r.Details, Attempts: attempts[id]})
			delete(attempts, id)
			delete(methods, id)
		},
		OnEvent: func(e envoy.Event) {
			events = append(events, Event{At: e.At.Sub(start), Proxy: e.Proxy, Kind: e.Kind, Host: e.Host,
				Detail: strings.TrimSpace(e.Cluster + " " + e.Detector)})
		},
	})
	if err != nil {
		return RunReport{}, fmt.Errorf("%s: %w", sc.Path, err)
	}
	if proc != nil {
		proc.HTTPCalls = proxy
	}
	// Kubernetes changes reach the proxy as EDS after the control-plane delay.
	var edsErr error
	for _, t := range s.kubeChanges() {
		at := t + sc.Topology.ControlPlaneDelay
		if at >= sc.Traffic.Duration {
			continue
		}
		next, err := s.generate(ctx, cfg, proxyIn, t)
		if err != nil {
			return RunReport{}, err
		}
		clock.At(start.Add(at), func() {
			n := 0
			for _, cla := range next.Endpoints {
				if err := proxy.SetEndpoints(cla); err == nil {
					n++
				} else if edsErr == nil {
					edsErr = err
				}
			}
			events = append(events, Event{At: at, Proxy: entryName, Kind: "eds", Detail: fmt.Sprintf("Kubernetes change at %s pushed (%d clusters)", t, n)})
		})
	}
	// A fleet drill: the other source clusters' sidecars.
	fl, err := s.startFleet(ctx, filter, filters, clock, net, &pending, attempts, &edsErr)
	if err != nil {
		return RunReport{}, err
	}
	if fl != nil {
		defer fl.close()
	}
	// Traffic: Poisson arrivals at the rate, methods and paths drawn from
	// the seed.
	tr := newTraffic(sc.Traffic, sc.Traffic.Seed, s.entryRate(), s.authority, port, 0)
	tr.start(clock, start, func(id uint64, method string, req envoy.Request) {
		methods[id] = method
		pending++
		proxy.Send(req)
	})
	for t := time.Duration(0); t < sc.Traffic.Duration; t += 10 * time.Second {
		if err := ctx.Err(); err != nil {
			return RunReport{}, err
		}
		clock.RunUntil(start.Add(min(t+10*time.Second, sc.Traffic.Duration)))
		if progress != nil {
			progress(name, min(1, (t+10*time.Second).Seconds()/sc.Traffic.Duration.Seconds()))
		}
	}
	clock.RunWhile(start.Add(sc.Traffic.Duration+drain), func() bool { return pending > 0 })
	if edsErr != nil {
		return RunReport{}, fmt.Errorf("%s: EDS update: %w", sc.Path, edsErr)
	}
	if pending > 0 {
		return RunReport{}, fmt.Errorf("%s: %d requests still in flight %s after the traffic stopped", sc.Path, pending, drain)
	}
	slices.SortFunc(records, func(a, b RequestRecord) int { return cmpU64(a.ID, b.ID) })
	var trans []Transition
	fbs := []FailbackReport{}
	if proc != nil {
		logs := logLines(proc.Logs())
		trans = report.Transitions(logs, start, entryName)
		fbs = report.Failbacks(logs, start, rampSteps(snap, port), sc.Traffic.Duration)
		events = append(events, report.FilterEvents(logs, start, entryName)...)
		slices.SortStableFunc(events, func(a, b Event) int { return cmpDur(a.At, b.At) })
	}
	in := report.Input{Name: name, Config: source, Requests: records, Events: events, Transitions: trans, Warnings: proxy.Warnings(),
		Duration: sc.Traffic.Duration, EntryRegion: place.Region, Regions: s.regions(), Zones: s.zones(), Clusters: clusterNames(s.top)}
	run := report.Build(sc.Faults, exps[0], in)
	run.Failbacks = fbs
	if fl != nil {
		run.Fleet = fl.report(sc.Faults, records)
	}
	for _, e := range exps[1:] {
		for _, x := range report.CheckAll(e, &run, &in) {
			run.Expectations = append(run.Expectations, x)
			run.Passed = run.Passed && x.OK
		}
	}
	return run, nil
}

func cmpDur(a, b time.Duration) int { return cmpU64(uint64(a), uint64(b)) }

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *setup) zones() map[string]string {
	out := map[string]string{}
	for _, c := range s.top.Clusters {
		out[c.Name] = c.Zone
	}
	return out
}

func (s *setup) regions() map[string]string {
	out := map[string]string{}
	for _, c := range s.top.Clusters {
		out[c.Name] = c.Region
	}
	return out
}

// configName names a target's configuration in the generator's errors.
func (s *setup) configName(target string) string {
	if p := s.configPath[target]; p != "" {
		return p
	}
	if target == EdgeTarget {
		return "edge.yaml (compiled)"
	}
	return target + ".yaml (compiled)"
}
