package exchange

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// Options override the exchange file (the CLI flags).
type Options struct {
	Engine *pw.Engine
	// PluginConfig, if non-nil, replaces plugin.configuration.
	PluginConfig []byte
	// VMConfig, if non-nil, replaces plugin.vmConfiguration.
	VMConfig []byte
	RootID   string
	Workers  int
	// LogLevel, if set, replaces logLevel.
	LogLevel string
	// Modules are the modules plugins name with module: NAME.
	Modules map[string][]byte
	// MaxEvents caps the virtual-time events of the run (DefaultMaxEvents
	// if 0; negative for no cap).
	MaxEvents int
}

// MaxWorkers bounds workers: each is a VM of a few MiB that takes
// milliseconds to start, and Envoy's --concurrency is one per core.
const MaxWorkers = 64

// DefaultMaxEvents bounds a run's virtual-time events (ticks, responses,
// timers): a drill of minutes needs thousands; a 1 ms tick over a year of
// advance would need 31 billion.
const DefaultMaxEvents = 1_000_000

// LimitError is a run stopped by a limit: the event cap (an
// *vclock.EventLimitError) or the context (its deadline or cancellation).
type LimitError struct {
	Err error
	// Elapsed is the virtual time covered when the run stopped.
	Elapsed time.Duration
}

func (e *LimitError) Error() string {
	if le := (*vclock.EventLimitError)(nil); errors.As(e.Err, &le) {
		return le.Error() // it says when already
	}
	return fmt.Sprintf("run stopped after %s of virtual time: %v", e.Elapsed, e.Err)
}

func (e *LimitError) Unwrap() error { return e.Err }

// Report is what `detour wasm run` prints.
type Report struct {
	Module     ModuleInfo          `json:"module"`
	Plugins    []PluginInfo        `json:"plugins"`
	Streams    []StreamReport      `json:"streams"`
	Logs       []pw.LogEntry       `json:"logs"`
	Metrics    []pw.Metric         `json:"metrics"`
	Prometheus string              `json:"prometheus"`
	HTTPCalls  []pw.HTTPCallRecord `json:"httpCalls"`
	Traps      []pw.Trap           `json:"traps"`
	Reloads    int                 `json:"reloads"`
	// Elapsed is the virtual time the run covered.
	Elapsed string `json:"elapsed"`
}

// ModuleInfo identifies the module.
type ModuleInfo struct {
	SHA256 string `json:"sha256"`
	ABI    string `json:"abi"`
}

// PluginInfo is the effective filter configuration.
type PluginInfo struct {
	Name          string `json:"name"`
	RootID        string `json:"rootId"`
	VMID          string `json:"vmId"`
	Workers       int    `json:"workers"`
	FailurePolicy string `json:"failurePolicy"`
	Configuration string `json:"configuration"`
	// Module is the plugin's module: NAME or file, when not the default.
	Module    string `json:"module,omitempty"`
	Bootstrap bool   `json:"bootstrap,omitempty"`
}

// StreamReport is one request's outcome.
type StreamReport struct {
	Worker int `json:"worker"`
	// Upstream is the request as the upstream received it (null if it
	// never got there).
	Upstream     *httpsim.Sent        `json:"upstream"`
	Response     *httpsim.Response    `json:"response"`
	LocalReplies []httpsim.LocalReply `json:"localReplies"`
	Complete     bool                 `json:"complete"`

	request [][2]string    // the downstream request headers
	info    *pw.StreamInfo // route and cluster taken
	logs    []pw.LogEntry  // what the stream's contexts logged
}

type callClusters struct {
	known map[string]bool
	rules []Rule
	queue map[string][]Answer
}

func (c *callClusters) HasCluster(n string) bool { return c.known[n] }

// answer is the first matching rule's answer, else the cluster's next
// ordered one.
func answer(rules []Rule, q map[string][]Answer, cluster string, h [][2]string) (Answer, bool) {
	for i := range rules {
		if rules[i].Cluster == cluster && rules[i].Match.matches(h) {
			return rules[i].Answer, true
		}
	}
	return next(q, cluster)
}

func (c *callClusters) HTTPCall(req *pw.HTTPCallRequest) pw.HTTPCallResult {
	a, ok := answer(c.rules, c.queue, req.Cluster, req.Headers)
	if !ok {
		return pw.HTTPCallResult{Status: 200}
	}
	d, _ := time.ParseDuration(orZero(a.Delay.Value))
	return pw.HTTPCallResult{Status: a.Status, Headers: a.Headers, Body: []byte(a.Body), Trailers: a.Trailers, Delay: d, Fault: a.Fault.Value}
}

func orZero(s string) string {
	if s == "" {
		return "0s"
	}
	return s
}

// next pops the cluster's next answer; the last one repeats.
func next(q map[string][]Answer, cluster string) (Answer, bool) {
	as := q[cluster]
	if len(as) == 0 {
		return Answer{}, false
	}
	a := as[0]
	if len(as) > 1 {
		q[cluster] = as[1:]
	}
	return a, true
}

func toUpstream(a Answer) httpsim.UpstreamResponse {
	d, _ := time.ParseDuration(orZero(a.Delay.Value))
	addr := a.Address
	if addr == "" {
		addr = "10.0.0.2:8080"
	}
	var md pw.Metadata
	if a.Metadata != nil {
		md = pw.Metadata(a.Metadata)
	}
	return httpsim.UpstreamResponse{
		Status: a.Status, Headers: a.Headers, Body: []byte(a.Body), Trailers: a.Trailers, Delay: d, Fault: a.Fault.Value,
		Address: addr, HostMetadata: md, Locality: pw.Locality{Region: a.Locality.Region, Zone: a.Locality.Zone, SubZone: a.Locality.SubZone},
	}
}

// Run loads wasm and plays the exchange. An error means the run itself
// failed (the module was rejected or the plugin did not start); traps and
// local replies are results, reported in the Report. Its phases: compile the
// modules, set up the process and its clusters, start the plugins, play the
// requests on the virtual clock, report.
func Run(ctx context.Context, wasm []byte, f *File, opt Options) (*Report, error) {
	e := opt.Engine
	if e == nil {
		var err error
		// The module may be anyone's: bound its callbacks.
		if e, err = pw.NewEngine(ctx, pw.EngineConfig{CallBudget: pw.DefaultCallBudget}); err != nil {
			return nil, err
		}
		defer e.Close(ctx)
	}
	workers, err := f.workers(opt)
	if err != nil {
		return nil, err
	}
	specs, paths := f.plugins()
	mods, first, err := f.compile(ctx, e, wasm, specs, paths, opt)
	if err != nil {
		return nil, err
	}
	p, err := f.process(ctx, opt)
	if err != nil {
		return nil, err
	}
	known, routes := f.world(p)
	pl := &plugins{}
	defer pl.close()
	if err := pl.start(ctx, p, e, mods, specs, paths, workers, opt); err != nil {
		return nil, err
	}
	g := &httpsim.Gateway{Process: p, Filters: pl.chain, Clusters: func(n string) bool { return known[n] }, Router: router(routes)}
	streams := f.play(p.Clock, g)
	if err := p.Clock.Err(); err != nil {
		return nil, &LimitError{Err: err, Elapsed: p.Clock.Since()}
	}
	return f.report(p, first, pl, streams), nil
}

// workers is the number of simulated workers, checked against every
// request before anything is compiled: a cold compile takes seconds.
func (f *File) workers(opt Options) (int, error) {
	workers := f.Workers
	if opt.Workers > 0 {
		workers = opt.Workers
	}
	if workers == 0 {
		workers = 1
	}
	if workers > MaxWorkers {
		return 0, fmt.Errorf("expected 1 to %d workers, got %d", MaxWorkers, workers)
	}
	for i, r := range f.Requests {
		if r.Worker >= workers || r.Worker < 0 {
			return 0, f.errPath(fmt.Sprintf("requests[%d].worker", i), fmt.Sprintf("expected a worker below %d (workers: %d)", workers, workers))
		}
	}
	return workers, nil
}

// compile compiles each plugin's module once: the command line's, a
// --module by name, or a file next to the exchange file. first is the
// first module compiled (the report's).
func (f *File) compile(ctx context.Context, e *pw.Engine, wasm []byte, specs []Plugin, paths []string, opt Options) (mods []*pw.Module, first *pw.Module, err error) {
	mods = make([]*pw.Module, len(specs))
	byName := map[string]*pw.Module{}
	for i, pc := range specs {
		name := pc.Module.Value
		if m, ok := byName[name]; ok {
			mods[i] = m
			continue
		}
		code := wasm
		switch {
		case name == "":
			if code == nil {
				return nil, nil, f.errPath(paths[i], "expected module: no module was given on the command line")
			}
		case opt.Modules[name] != nil:
			code = opt.Modules[name]
		default:
			b, err := os.ReadFile(filepath.Join(filepath.Dir(f.path), name))
			if err != nil {
				return nil, nil, f.errAt(pc.Module, paths[i]+".module", fmt.Sprintf("expected a --module name or a file next to the exchange file: %v", err))
			}
			code = b
		}
		m, err := e.Compile(ctx, code)
		if err != nil {
			if name != "" {
				return nil, nil, fmt.Errorf("module %s: %w", name, err)
			}
			return nil, nil, err
		}
		byName[name] = m
		mods[i] = m
		if first == nil {
			first = m
		}
	}
	return mods, first, nil
}

// process is the simulated Envoy process: its clock (bounded by
// MaxEvents and the context), log level, stats tag rules and node.
func (f *File) process(ctx context.Context, opt Options) (*pw.Process, error) {
	clock := vclock.New(time.Time{})
	clock.MaxEvents = opt.MaxEvents
	if clock.MaxEvents == 0 {
		clock.MaxEvents = DefaultMaxEvents
	}
	clock.Interrupt = ctx.Err
	p := pw.NewProcess(clock)
	if f.LogLevel.Value != "" {
		p.LogLevel, _ = pw.ParseLogLevel(f.LogLevel.Value)
	}
	if opt.LogLevel != "" {
		l, ok := pw.ParseLogLevel(opt.LogLevel)
		if !ok {
			return nil, fmt.Errorf("log level %q: expected trace, debug, info, warn, error or critical", opt.LogLevel)
		}
		p.LogLevel = l
	}
	rules, err := f.tagRules()
	if err != nil {
		return nil, err
	}
	p.Stats.SetTagRules(rules)
	p.Node = pw.Node{ID: f.Node.ID, Cluster: f.Node.Cluster, Region: f.Node.Region, Zone: f.Node.Zone, SubZone: f.Node.SubZone, Metadata: f.Node.Metadata}
	return p, nil
}

// world gives p the file's http_call clusters and returns every cluster
// the file mentions (each exists) and its routes.
func (f *File) world(p *pw.Process) (known map[string]bool, routes []Route) {
	known = map[string]bool{}
	for _, c := range f.Clusters {
		known[c] = true
	}
	for c := range f.Upstreams {
		known[c] = true
	}
	for c := range f.HTTPCalls {
		known[c] = true
	}
	for _, rs := range [][]Rule{f.UpstreamRules, f.HTTPCallRules} {
		for _, r := range rs {
			known[r.Cluster] = true
		}
	}
	routes = f.Routes
	if len(routes) == 0 {
		routes = []Route{{Name: "default", Cluster: "upstream"}}
	}
	for _, r := range routes {
		if r.Cluster != "" {
			known[r.Cluster] = true
		}
	}
	callq := map[string][]Answer{}
	for k, v := range f.HTTPCalls {
		callq[k] = append([]Answer(nil), v...)
	}
	p.HTTPCalls = &callClusters{known: known, rules: f.HTTPCallRules, queue: callq}
	return known, routes
}

// plugins are the started plugins: all of them (closed at the end), the
// filter chain (bootstrap plugins are not in it) and what the report says
// of each.
type plugins struct {
	started, chain []*pw.Plugin
	infos          []PluginInfo
}

func (pl *plugins) close() {
	for _, p := range pl.started {
		p.Close()
	}
}

func (pl *plugins) start(ctx context.Context, p *pw.Process, e *pw.Engine, mods []*pw.Module, specs []Plugin, paths []string, workers int, opt Options) error {
	for i, pc := range specs {
		// Name, root id and vm id may each be empty, as in Envoy; the log
		// prefix names only the non-empty ones (PluginBase::makeLogPrefix).
		name := pc.Name
		rootID := pc.RootID
		if opt.RootID != "" && i == 0 {
			rootID = opt.RootID
		}
		cfg, err := configBytes(&pc.Configuration)
		if err != nil {
			return fmt.Errorf("%s.configuration: %w", paths[i], err)
		}
		if opt.PluginConfig != nil && i == 0 {
			cfg = opt.PluginConfig
		}
		vmcfg, err := configBytes(&pc.VMConfiguration)
		if err != nil {
			return fmt.Errorf("%s.vmConfiguration: %w", paths[i], err)
		}
		if opt.VMConfig != nil && i == 0 {
			vmcfg = opt.VMConfig
		}
		policy, _ := pw.ParseFailurePolicy(pc.FailurePolicy.Value)
		backoff, _ := time.ParseDuration(orZero(pc.ReloadBackoff.Value))
		var env [][2]string
		for k, v := range pc.Env {
			env = append(env, [2]string{k, v})
		}
		sort.Slice(env, func(i, j int) bool { return env[i][0] < env[j][0] })
		spec := pw.PluginSpec{
			Engine: e, Module: mods[i], Workers: workers, FailurePolicy: policy, ReloadBackoff: backoff,
			VM: pw.VMConfig{VMID: pc.VMID, Configuration: vmcfg, Env: env, Seed: 1, Compat: pw.Compat{
				WASI533: pc.Envoy.WASI.Value == "533", LegacyCopyFrom: pc.Envoy.LegacyCopyFrom, LegacyAttributes: pc.Envoy.LegacyAttributes,
			}},
			Plugin: pw.PluginConfig{Name: name, RootID: rootID, Configuration: cfg},
		}
		// Envoy runs plugins with the same vm_id and code in one VM.
		for j, prev := range pl.started {
			if specs[j].VMID == pc.VMID && mods[j] == mods[i] {
				spec.ShareVMWith = prev
				break
			}
		}
		started, err := p.StartPlugin(ctx, spec)
		if err != nil {
			return withLogs(err, p.Logs())
		}
		pl.started = append(pl.started, started)
		if !pc.Bootstrap {
			pl.chain = append(pl.chain, started)
		}
		pl.infos = append(pl.infos, PluginInfo{Name: name, RootID: rootID, VMID: pc.VMID, Workers: workers, FailurePolicy: policy.String(), Configuration: string(cfg),
			Module: pc.Module.Value, Bootstrap: pc.Bootstrap})
	}
	return nil
}

// router matches a request's headers against the file's routes in order.
func router(routes []Route) func(h *pw.Headers) (httpsim.Route, bool) {
	return func(h *pw.Headers) (httpsim.Route, bool) {
		pairs := h.Pairs()
		for _, r := range routes {
			if !r.Match.matches(pairs) {
				continue
			}
			timeout := 15 * time.Second
			if r.Timeout.Value != "" {
				timeout, _ = time.ParseDuration(r.Timeout.Value)
			}
			name := r.Name
			if name == "" {
				name = "route"
			}
			var md pw.Metadata
			if r.Metadata != nil {
				md = pw.Metadata(r.Metadata)
			}
			return httpsim.Route{Name: name, Cluster: r.Cluster, ClusterHeader: r.ClusterHeader, Timeout: timeout, Metadata: md}, true
		}
		return httpsim.Route{}, false
	}
}

// play schedules every request at its time and runs the clock: for the
// file's advance, else until every stream completed (at most ten minutes).
func (f *File) play(clock *vclock.Clock, g *httpsim.Gateway) []*httpsim.Stream {
	upq := map[string][]Answer{}
	for k, v := range f.Upstreams {
		upq[k] = append([]Answer(nil), v...)
	}
	streams := make([]*httpsim.Stream, len(f.Requests))
	start := clock.Now()
	for i := range f.Requests {
		r := f.Requests[i]
		at, _ := time.ParseDuration(orZero(r.At.Value))
		clock.At(start.Add(at), func() {
			req := httpsim.Request{Headers: r.Headers, Trailers: r.Trailers, Worker: r.Worker}
			if r.Body != "" {
				req.Body = [][]byte{[]byte(r.Body)}
			}
			for _, c := range r.BodyChunks {
				req.Body = append(req.Body, []byte(c))
			}
			req.Upstream = func(u *httpsim.UpstreamRequest) httpsim.UpstreamResponse {
				if r.Upstream != nil {
					return toUpstream(*r.Upstream)
				}
				if a, ok := answer(f.UpstreamRules, upq, u.Cluster, u.Headers); ok {
					return toUpstream(a)
				}
				return httpsim.UpstreamResponse{Status: 200, Address: "10.0.0.2:8080"}
			}
			streams[i] = g.Send(req)
		})
	}
	if f.Advance.Value != "" {
		d, _ := time.ParseDuration(f.Advance.Value)
		clock.RunUntil(start.Add(d))
		return streams
	}
	clock.RunWhile(start.Add(10*time.Minute), func() bool {
		for _, s := range streams {
			if s == nil || !s.Complete {
				return true
			}
		}
		return false
	})
	clock.RunPending()
	return streams
}

// report gathers what the run produced; empty lists are [] in JSON.
func (f *File) report(p *pw.Process, first *pw.Module, pl *plugins, streams []*httpsim.Stream) *Report {
	rep := &Report{
		Module:  ModuleInfo{SHA256: hex.EncodeToString(first.SHA256[:]), ABI: first.ABI},
		Plugins: pl.infos,
		Logs:    p.Logs(), Metrics: p.Stats.Snapshot(), HTTPCalls: p.HTTPCallRecords(),
		Elapsed: p.Clock.Since().String(),
	}
	for _, started := range pl.started {
		rep.Reloads += started.Reloads
	}
	for _, t := range p.Traps() {
		t.Message = strings.SplitN(t.Message, "\n", 2)[0]
		rep.Traps = append(rep.Traps, t)
	}
	var prom strings.Builder
	p.Stats.WritePrometheus(&prom)
	rep.Prometheus = prom.String()
	for i, s := range streams {
		sr := StreamReport{Worker: f.Requests[i].Worker, request: f.Requests[i].Headers}
		if s != nil {
			sr.Upstream, sr.Response, sr.LocalReplies, sr.Complete = s.Upstream, s.Response, s.LocalReplies, s.Complete
			sr.info = s.Info()
			for _, l := range rep.Logs {
				if l.Stream == sr.info {
					sr.logs = append(sr.logs, l)
				}
			}
		}
		if sr.LocalReplies == nil {
			sr.LocalReplies = []httpsim.LocalReply{}
		}
		rep.Streams = append(rep.Streams, sr)
	}
	if rep.Streams == nil {
		rep.Streams = []StreamReport{}
	}
	if rep.Logs == nil {
		rep.Logs = []pw.LogEntry{}
	}
	if rep.HTTPCalls == nil {
		rep.HTTPCalls = []pw.HTTPCallRecord{}
	}
	if rep.Traps == nil {
		rep.Traps = []pw.Trap{}
	}
	return rep
}

// withLogs appends what the plugin logged while starting, so a failed
// on_configure (on_plugin_start) shows the plugin's own reasons.
func withLogs(err error, logs []pw.LogEntry) error {
	if len(logs) == 0 {
		return err
	}
	var b strings.Builder
	b.WriteString(err.Error())
	b.WriteString("; the plugin logged:")
	for _, l := range logs {
		fmt.Fprintf(&b, "\n  [%s] %s", l.Level, l.Envoy)
	}
	return fmt.Errorf("%s", b.String())
}
