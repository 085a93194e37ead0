package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// RequestRecord is one downstream request and what the user got.
type RequestRecord struct {
	ID         uint64
	Start, End time.Duration // since the start of the run
	Method     string
	// Status is the response status the user got; 0 if the stream was reset.
	Status int
	// Flags are Envoy's response flags of the entry proxy (UF, URX, UH, NR, ...).
	Flags string
	// Details is Envoy's response code details (e.g. no_healthy_upstream).
	Details  string
	Attempts []AttemptRecord
}

// Event is a health transition inside a simulated proxy: an outlier
// ejection or un-ejection, a host's health changing (EDS), a priority
// load change. The Envoy model reports them.
type Event struct {
	At     time.Duration
	Proxy  string
	Kind   string // eject, uneject, eds, ...
	Host   string // address
	Detail string
}

// Transition is a state-machine transition of the Detour filters (filled by
// the side-by-side runs with the filters in the chain).
type Transition struct {
	AtS     float64 `json:"atS"`
	Proxy   string  `json:"proxy"`
	Service string  `json:"service"`
	From    string  `json:"from"`
	To      string  `json:"to"`
	Trigger string  `json:"trigger"`
}

// Report is the result of a scenario: one run per configuration (plain
// Istio; with the Detour filters), all on the same topology, traffic,
// faults and seed.
type Report struct {
	Scenario  string        `json:"scenario"`
	Seed      uint64        `json:"seed"`
	DurationS float64       `json:"durationS"`
	Entry     string        `json:"entry"`
	Faults    []FaultReport `json:"faults"`
	Runs      []RunReport   `json:"runs"`
}

// FaultReport describes one fault of the timeline.
type FaultReport struct {
	Name   string   `json:"name"`
	Kind   string   `json:"kind"`
	Target string   `json:"target"`
	StartS float64  `json:"startS"`
	EndS   *float64 `json:"endS"`
}

// RunReport is what one configuration did.
type RunReport struct {
	Name string `json:"name"`
	// Config says which Istio resources ran (compiled intent or a directory).
	Config            string `json:"config"`
	Requests          int    `json:"requests"`
	UserVisibleErrors int    `json:"userVisibleErrors"`
	// IdempotentErrors are the user-visible errors of idempotent requests
	// (GET, HEAD, OPTIONS, PUT, DELETE, TRACE): what retries may hide.
	IdempotentErrors int         `json:"idempotentErrors"`
	ErrorRate        float64     `json:"errorRate"`
	Errors           []ErrorKind `json:"errors"`
	// ResponseFlags counts the entry proxy's response flags over all requests.
	ResponseFlags map[string]int `json:"responseFlags"`
	Attempts      int            `json:"attempts"`
	Retries       int            `json:"retries"`
	// RetryAmplification is attempts per request over the run;
	// PeakRetryAmplification the highest over any second.
	RetryAmplification     float64 `json:"retryAmplification"`
	PeakRetryAmplification float64 `json:"peakRetryAmplification"`
	LatencyMs              Latency `json:"latencyMs"`
	// CrossRegionShare is the share of requests answered from another
	// region than the entry proxy's while no fault was active.
	CrossRegionShare float64       `json:"crossRegionShare"`
	Faults           []FaultResult `json:"faults"`
	Seconds          []Second      `json:"seconds"`
	Events           []EventJSON   `json:"events"`
	Transitions      []Transition  `json:"transitions"`
	// Warnings are configuration the Envoy model left out or does not model.
	Warnings     []string      `json:"warnings"`
	Expectations []Expectation `json:"expectations"`
	Passed       bool          `json:"passed"`
	Clusters     []string      `json:"clusters"`
}

// ErrorKind counts user-visible errors of one cause.
type ErrorKind struct {
	Cause  string `json:"cause"`
	Status int    `json:"status"`
	Flags  string `json:"flags"`
	Count  int    `json:"count"`
}

// Latency percentiles of the users' requests (nearest rank), in ms.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

// FaultResult are the times measured for one fault; nil = never.
type FaultResult struct {
	Name       string   `json:"name"`
	DetectS    *float64 `json:"detectS"`
	FailOverS  *float64 `json:"failOverS"`
	FailBackS  *float64 `json:"failBackS"`
	Errors     int      `json:"errors"`
	DetectedBy string   `json:"detectedBy"`
}

// Second is one second of the run (by request start).
type Second struct {
	T        int `json:"t"`
	Requests int `json:"requests"`
	Errors   int `json:"errors"`
	Retries  int `json:"retries"`
	// Share of the second's requests answered by each cluster, in the
	// order of Run.Clusters; the last entry is "none" (answered by the
	// proxy itself, or reset).
	Share []float64 `json:"share"`
}

// EventJSON is an Event in the report.
type EventJSON struct {
	AtS    float64 `json:"atS"`
	Proxy  string  `json:"proxy"`
	Kind   string  `json:"kind"`
	Host   string  `json:"host"`
	Detail string  `json:"detail"`
}

// Expectation is one checked expectation.
type Expectation struct {
	Name     string   `json:"name"`
	Limit    float64  `json:"limit"`
	Measured *float64 `json:"measured"`
	Unit     string   `json:"unit"`
	OK       bool     `json:"ok"`
}

// Op is how the measured value compares with the limit: ">=" for the
// minimums, "<=" for the rest.
func (x Expectation) Op() string {
	if strings.HasPrefix(x.Name, "min") {
		return ">="
	}
	return "<="
}

// Measurement windows (see harness/sim/README.md, "Measured times").
const (
	bucket    = 100 * time.Millisecond
	stableFor = 5 * time.Second
	preWindow = 10 * time.Second
	// failBackShare: failed back once the target's share is back to this
	// fraction of its share before the fault.
	failBackShare = 0.9
)

// IsUserVisibleError: the user got no response, or a 4xx/5xx. (Every
// simulated upstream answers 200 unless a fault says otherwise.)
func IsUserVisibleError(status int) bool { return status < 200 || status >= 400 }

// runInput is what one configuration's run recorded.
type runInput struct {
	Name, Config string
	Requests     []RequestRecord
	Events       []Event
	Transitions  []Transition
	Duration     time.Duration
	EntryRegion  string
	Regions      map[string]string // cluster → region
	Clusters     []string          // report order
	Warnings     []string
}

func round(x float64) float64 { return math.Round(x*1e4) / 1e4 }
func secs(d time.Duration) float64 {
	return round(d.Seconds())
}
func ptr(x float64) *float64 { return &x }

// final is the attempt whose answer the user got (the last one), or nil.
func final(r *RequestRecord) *AttemptRecord {
	if len(r.Attempts) == 0 {
		return nil
	}
	return &r.Attempts[len(r.Attempts)-1]
}

func buildRun(faults []Fault, exp Expect, in runInput) RunReport {
	run := RunReport{Name: in.Name, Config: in.Config, Requests: len(in.Requests), ResponseFlags: map[string]int{},
		Clusters: append(slices.Clone(in.Clusters), "none"), Events: []EventJSON{}, Transitions: in.Transitions,
		Errors: []ErrorKind{}, Faults: []FaultResult{}, Expectations: []Expectation{}, Warnings: in.Warnings}
	if run.Warnings == nil {
		run.Warnings = []string{}
	}
	if run.Transitions == nil {
		run.Transitions = []Transition{}
	}
	idx := map[string]int{}
	for i, c := range in.Clusters {
		idx[c] = i
	}
	nsec := int(math.Ceil(in.Duration.Seconds()))
	run.Seconds = make([]Second, nsec)
	counts := make([][]int, nsec)
	for i := range run.Seconds {
		run.Seconds[i] = Second{T: i}
		counts[i] = make([]int, len(run.Clusters))
	}
	errs := map[ErrorKind]int{}
	var lat []time.Duration
	for i := range in.Requests {
		r := &in.Requests[i]
		run.Attempts += len(r.Attempts)
		lat = append(lat, r.End-r.Start)
		for _, f := range strings.Split(r.Flags, ",") {
			if f != "" && f != "-" {
				run.ResponseFlags[f]++
			}
		}
		s := int(r.Start / time.Second)
		if s >= nsec {
			s = nsec - 1
		}
		sec := &run.Seconds[s]
		sec.Requests++
		if len(r.Attempts) > 1 {
			sec.Retries += len(r.Attempts) - 1
		}
		at := final(r)
		col := len(in.Clusters)
		if at != nil {
			if j, ok := idx[at.Cluster]; ok {
				col = j
			}
		}
		counts[s][col]++
		if IsUserVisibleError(r.Status) {
			run.UserVisibleErrors++
			if idempotent(r.Method) {
				run.IdempotentErrors++
			}
			sec.Errors++
			errs[ErrorKind{Cause: errorCause(r), Status: r.Status, Flags: r.Flags}]++
		}
	}
	for i := range run.Seconds {
		sec := &run.Seconds[i]
		sec.Share = make([]float64, len(run.Clusters))
		for j, n := range counts[i] {
			if sec.Requests > 0 {
				sec.Share[j] = round(float64(n) / float64(sec.Requests))
			}
		}
		if sec.Requests > 0 {
			run.PeakRetryAmplification = max(run.PeakRetryAmplification, round(float64(sec.Requests+sec.Retries)/float64(sec.Requests)))
		}
	}
	if run.Requests > 0 {
		run.Retries = run.Attempts - countFirstAttempts(in.Requests)
		run.RetryAmplification = round(float64(run.Attempts) / float64(run.Requests))
		run.ErrorRate = round(float64(run.UserVisibleErrors) / float64(run.Requests))
	}
	for k, n := range errs {
		k.Count = n
		run.Errors = append(run.Errors, k)
	}
	sort.Slice(run.Errors, func(i, j int) bool {
		a, b := run.Errors[i], run.Errors[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Cause != b.Cause {
			return a.Cause < b.Cause
		}
		if a.Status != b.Status {
			return a.Status < b.Status
		}
		return a.Flags < b.Flags
	})
	slices.Sort(lat)
	run.LatencyMs = Latency{P50: pct(lat, 50), P90: pct(lat, 90), P99: pct(lat, 99)}
	for _, e := range in.Events {
		run.Events = append(run.Events, EventJSON{AtS: secs(e.At), Proxy: e.Proxy, Kind: e.Kind, Host: e.Host, Detail: e.Detail})
	}
	b := newBuckets(in, faults)
	for i := range faults {
		run.Faults = append(run.Faults, measureFault(&faults[i], in, b))
	}
	// Cross-region share while healthy: requests sent while no fault was
	// active and no fault's failback was still under way.
	crossAll, crossRemote := 0, 0
	for i := range in.Requests {
		r := &in.Requests[i]
		at := final(r)
		if at == nil || !healthyAt(faults, run.Faults, r.Start, in.Duration) {
			continue
		}
		crossAll++
		if reg := in.Regions[at.Cluster]; reg != "" && in.EntryRegion != "" && reg != in.EntryRegion {
			crossRemote++
		}
	}
	if crossAll > 0 {
		run.CrossRegionShare = round(float64(crossRemote) / float64(crossAll))
	}
	run.Expectations = check(exp, &run)
	run.Passed = true
	for _, e := range run.Expectations {
		run.Passed = run.Passed && e.OK
	}
	return run
}

// idempotent methods (RFC 9110 section 9.2.2); an unknown method is not.
func idempotent(m string) bool {
	switch m {
	case "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE":
		return true
	}
	return false
}

func countFirstAttempts(rs []RequestRecord) int {
	n := 0
	for i := range rs {
		if len(rs[i].Attempts) > 0 {
			n++
		}
	}
	return n
}

// errorCause names why a request failed: the network's cause of its last
// attempt, or what the proxy said when it answered by itself.
func errorCause(r *RequestRecord) string {
	if at := final(r); at != nil && at.Cause != "" {
		return at.Cause
	}
	if r.Details != "" {
		return r.Details
	}
	if r.Flags != "" {
		return "response flags " + r.Flags
	}
	return fmt.Sprintf("status %d", r.Status)
}

// healthyAt: no fault active at t, and t is not between a fault's end and
// its measured failback (the whole rest of the run if it never failed back).
func healthyAt(faults []Fault, res []FaultResult, t, dur time.Duration) bool {
	for i := range faults {
		f := &faults[i]
		if f.Active(t) {
			return false
		}
		if t >= f.Start && (f.End == 0 || t >= f.End) {
			back := dur
			if f.End > 0 && res[i].FailBackS != nil {
				back = f.End + time.Duration(*res[i].FailBackS*float64(time.Second))
			}
			if f.End == 0 || t < back {
				return false
			}
		}
	}
	return true
}

func pct(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(float64(p)/100*float64(len(sorted)))) - 1
	k = max(0, min(k, len(sorted)-1))
	return round(float64(sorted[k]) / float64(time.Millisecond))
}

// buckets are 100 ms slices of the run, by request start.
type buckets struct {
	n        int
	requests []int
	errors   []int
	// affected[f][b]: requests of bucket b whose answer came through fault f.
	affected map[string][]int
	// byCluster[c][b]: requests of bucket b answered by cluster c.
	byCluster map[string][]int
}

func newBuckets(in runInput, faults []Fault) *buckets {
	n := int(in.Duration/bucket) + 1
	b := &buckets{n: n, requests: make([]int, n), errors: make([]int, n), affected: map[string][]int{}, byCluster: map[string][]int{}}
	for i := range faults {
		b.affected[faults[i].Name] = make([]int, n)
	}
	for i := range in.Requests {
		r := &in.Requests[i]
		k := min(int(r.Start/bucket), n-1)
		b.requests[k]++
		if IsUserVisibleError(r.Status) {
			b.errors[k]++
		}
		if at := final(r); at != nil {
			for _, f := range at.Faults {
				if a := b.affected[f]; a != nil {
					a[k]++
				}
			}
			if b.byCluster[at.Cluster] == nil {
				b.byCluster[at.Cluster] = make([]int, n)
			}
			b.byCluster[at.Cluster][k]++
		}
	}
	return b
}

// measureFault computes detection, failover and failback for one fault
// (definitions in harness/sim/README.md).
func measureFault(f *Fault, in runInput, b *buckets) FaultResult {
	res := FaultResult{Name: f.Name}
	end := in.Duration
	if f.End > 0 && f.End < end {
		end = f.End
	}
	for _, e := range in.Events {
		if e.At >= f.Start && e.At < end && (e.Kind == "eject" || e.Kind == "unhealthy" || e.Kind == "eds") {
			res.DetectS = ptr(secs(e.At - f.Start))
			res.DetectedBy = e.Kind + " " + e.Host
			break
		}
	}
	for _, t := range in.Transitions {
		at := time.Duration(t.AtS * float64(time.Second))
		if at >= f.Start && at < end && (res.DetectS == nil || secs(at-f.Start) < *res.DetectS) {
			res.DetectS = ptr(secs(at - f.Start))
			res.DetectedBy = "filter " + t.From + " -> " + t.To
			break
		}
	}
	first, last := int(f.Start/bucket), min(int((end-1)/bucket), b.n-1)
	for k := first; k <= last; k++ {
		res.Errors += b.errors[k]
	}
	aff := b.affected[f.Name]
	for k := first; k <= last; k++ {
		stop := min(last, k+int(stableFor/bucket)-1)
		ok := true
		for j := k; j <= stop && ok; j++ {
			ok = b.errors[j] == 0 && aff[j] == 0
		}
		if ok {
			res.FailOverS = ptr(secs(max(0, time.Duration(k)*bucket-f.Start)))
			break
		}
	}
	if f.End > 0 && f.End < in.Duration {
		res.FailBackS = failBack(f, in, b)
	}
	return res
}

// failBack: from the fault's end, the first time from which the target's
// share of answers stays at or above failBackShare of its share before the
// fault, over every 1-second window of the next stableFor.
func failBack(f *Fault, in runInput, b *buckets) *float64 {
	var targets []string
	for c, reg := range in.Regions {
		if (f.Target.Cluster == "" || f.Target.Cluster == c) && (f.Target.Region == "" || f.Target.Region == reg) {
			targets = append(targets, c)
		}
	}
	if f.Kind == Partition {
		return nil
	}
	share := func(from, to int) (float64, int) {
		from, to = max(0, from), min(to, b.n)
		req, hit := 0, 0
		for k := from; k < to; k++ {
			req += b.requests[k]
			for _, c := range targets {
				if bc := b.byCluster[c]; bc != nil {
					hit += bc[k]
				}
			}
		}
		if req == 0 {
			return 0, 0
		}
		return float64(hit) / float64(req), req
	}
	pre, n := share(int((f.Start-preWindow)/bucket), int(f.Start/bucket))
	if n == 0 || pre == 0 {
		return nil
	}
	win := int(time.Second / bucket)
	for k := int(f.End / bucket); k+win <= b.n; k++ {
		s0, r0 := share(k, k+1)
		ok := r0 > 0 && s0 >= failBackShare*pre
		for j := k; j <= k+int((stableFor-time.Second)/bucket) && j+win <= b.n && ok; j++ {
			s, req := share(j, j+win)
			ok = req > 0 && s >= failBackShare*pre
		}
		if ok {
			return ptr(secs(max(0, time.Duration(k)*bucket-f.End)))
		}
	}
	return nil
}

func check(e Expect, run *RunReport) []Expectation {
	out := []Expectation{}
	if e.MaxUserVisibleErrors != nil {
		out = append(out, Expectation{Name: "maxUserVisibleErrors", Limit: float64(*e.MaxUserVisibleErrors), Measured: ptr(float64(run.UserVisibleErrors)), Unit: "requests",
			OK: run.UserVisibleErrors <= *e.MaxUserVisibleErrors})
	}
	if e.MinUserVisibleErrors != nil {
		out = append(out, Expectation{Name: "minUserVisibleErrors", Limit: float64(*e.MinUserVisibleErrors), Measured: ptr(float64(run.UserVisibleErrors)), Unit: "requests",
			OK: run.UserVisibleErrors >= *e.MinUserVisibleErrors})
	}
	if e.MaxIdempotentErrors != nil {
		out = append(out, Expectation{Name: "maxIdempotentErrors", Limit: float64(*e.MaxIdempotentErrors), Measured: ptr(float64(run.IdempotentErrors)), Unit: "requests",
			OK: run.IdempotentErrors <= *e.MaxIdempotentErrors})
	}
	worst := func(get func(FaultResult) *float64) (*float64, bool) {
		var w *float64
		for _, f := range run.Faults {
			v := get(f)
			if v == nil {
				return nil, false
			}
			if w == nil || *v > *w {
				w = v
			}
		}
		return w, true
	}
	for _, d := range []struct {
		name  string
		limit *time.Duration
		get   func(FaultResult) *float64
	}{
		{"maxTimeToDetect", e.MaxTimeToDetect, func(f FaultResult) *float64 { return f.DetectS }},
		{"maxTimeToFailOver", e.MaxTimeToFailOver, func(f FaultResult) *float64 { return f.FailOverS }},
		{"maxTimeToFailBack", e.MaxTimeToFailBack, func(f FaultResult) *float64 { return f.FailBackS }},
	} {
		if d.limit == nil {
			continue
		}
		w, all := worst(d.get)
		x := Expectation{Name: d.name, Limit: secs(*d.limit), Unit: "s", Measured: w}
		x.OK = all && (w == nil || *w <= x.Limit)
		if !all {
			x.Measured = nil // at least one fault never got there
		}
		out = append(out, x)
	}
	if e.MaxRetryAmplification != nil {
		out = append(out, Expectation{Name: "maxRetryAmplification", Limit: *e.MaxRetryAmplification, Measured: ptr(run.PeakRetryAmplification), Unit: "attempts/request (peak second)",
			OK: run.PeakRetryAmplification <= *e.MaxRetryAmplification})
	}
	if e.MaxCrossRegionShare != nil {
		out = append(out, Expectation{Name: "maxCrossRegionShare", Limit: round(*e.MaxCrossRegionShare), Measured: ptr(run.CrossRegionShare), Unit: "share",
			OK: run.CrossRegionShare <= *e.MaxCrossRegionShare})
	}
	return out
}

// JSON renders the report with a stable field order, indented, newline-terminated.
func (r *Report) JSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Passed reports whether every run met every expectation.
func (r *Report) Passed() bool {
	for _, run := range r.Runs {
		if !run.Passed {
			return false
		}
	}
	return true
}

func fmtS(p *float64) string {
	if p == nil {
		return "never"
	}
	return fmt.Sprintf("%.1fs", *p)
}

// Summary is the one-screen text for people: the runs in columns.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  (seed %d, %gs, entry %s)\n", r.Scenario, r.Seed, r.DurationS, r.Entry)
	for _, f := range r.Faults {
		end := "no recovery"
		if f.EndS != nil {
			end = fmt.Sprintf("until %gs", *f.EndS)
		}
		fmt.Fprintf(&b, "  fault %-18s %s %s from %gs %s\n", f.Name, f.Kind, f.Target, f.StartS, end)
	}
	b.WriteString("\n")
	width := 28
	for _, f := range r.Faults {
		width = max(width, len(f.Name)+len(" fail over")+1)
	}
	// With two runs, a third column says what the second changes.
	diff := len(r.Runs) == 2
	row := func(label string, cell func(RunReport) string, delta func(a, b RunReport) string) {
		fmt.Fprintf(&b, "  %-*s", width, label)
		for _, run := range r.Runs {
			fmt.Fprintf(&b, " %-16s", cell(run))
		}
		if diff && delta != nil {
			b.WriteString(" " + delta(r.Runs[0], r.Runs[1]))
		}
		b.WriteString("\n")
	}
	count := func(get func(RunReport) int) func(a, b RunReport) string {
		return func(a, b RunReport) string { return fmt.Sprintf("%+d", get(b)-get(a)) }
	}
	times := func(get func(RunReport) *float64) func(a, b RunReport) string {
		return func(a, b RunReport) string {
			x, y := get(a), get(b)
			switch {
			case x == nil && y == nil:
				return ""
			case x == nil:
				return "now happens"
			case y == nil:
				return "no longer happens"
			}
			d := math.Round((*y-*x)*10) / 10
			if d == 0 {
				return "same"
			}
			return fmt.Sprintf("%+.1fs", d)
		}
	}
	if diff {
		row("", func(run RunReport) string { return run.Name }, func(a, b RunReport) string { return "difference" })
	} else {
		row("", func(run RunReport) string { return run.Name }, nil)
	}
	row("requests", func(run RunReport) string { return fmt.Sprint(run.Requests) }, nil)
	row("user-visible errors", func(run RunReport) string {
		return fmt.Sprintf("%d (%.2f%%)", run.UserVisibleErrors, 100*run.ErrorRate)
	}, count(func(r RunReport) int { return r.UserVisibleErrors }))
	row("  of idempotent requests", func(run RunReport) string { return fmt.Sprint(run.IdempotentErrors) },
		count(func(r RunReport) int { return r.IdempotentErrors }))
	row("retries / amplification", func(run RunReport) string {
		return fmt.Sprintf("%d / %.2fx", run.Retries, run.RetryAmplification)
	}, count(func(r RunReport) int { return r.Retries }))
	row("peak amplification", func(run RunReport) string { return fmt.Sprintf("%.2fx", run.PeakRetryAmplification) }, nil)
	row("latency p50/p90/p99 ms", func(run RunReport) string {
		return fmt.Sprintf("%.0f/%.0f/%.0f", run.LatencyMs.P50, run.LatencyMs.P90, run.LatencyMs.P99)
	}, nil)
	row("cross-region while healthy", func(run RunReport) string { return fmt.Sprintf("%.1f%%", 100*run.CrossRegionShare) }, nil)
	if len(r.Runs) > 0 {
		for i, f := range r.Runs[0].Faults {
			row(f.Name+" detect", func(run RunReport) string { return fmtS(run.Faults[i].DetectS) }, times(func(r RunReport) *float64 { return r.Faults[i].DetectS }))
			row(f.Name+" fail over", func(run RunReport) string { return fmtS(run.Faults[i].FailOverS) }, times(func(r RunReport) *float64 { return r.Faults[i].FailOverS }))
			row(f.Name+" fail back", func(run RunReport) string { return fmtS(run.Faults[i].FailBackS) }, times(func(r RunReport) *float64 { return r.Faults[i].FailBackS }))
		}
	}
	for _, run := range r.Runs {
		if len(run.Transitions) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s: filter transitions\n", run.Name)
		for i, t := range run.Transitions {
			if i == 6 {
				fmt.Fprintf(&b, "  ... %d more in the JSON report\n", len(run.Transitions)-6)
				break
			}
			fmt.Fprintf(&b, "  %7.2fs %s -> %s (%s)\n", t.AtS, t.From, t.To, t.Trigger)
		}
	}
	for _, run := range r.Runs {
		fmt.Fprintf(&b, "\n%s: errors by cause\n", run.Name)
		if len(run.Errors) == 0 {
			b.WriteString("  none\n")
		}
		for i, e := range run.Errors {
			if i == 5 {
				fmt.Fprintf(&b, "  ... %d more causes in the JSON report\n", len(run.Errors)-5)
				break
			}
			flags := e.Flags
			if flags == "" {
				flags = "-"
			}
			fmt.Fprintf(&b, "  %6d  %3d %-8s %s\n", e.Count, e.Status, flags, e.Cause)
		}
		for i, w := range run.Warnings {
			if i == 3 {
				fmt.Fprintf(&b, "  ... %d more model warnings in the JSON report\n", len(run.Warnings)-3)
				break
			}
			fmt.Fprintf(&b, "  model warning: %s\n", w)
		}
		fmt.Fprintf(&b, "%s: traffic share (%s)\n", run.Name, strings.Join(run.Clusters, " / "))
		b.WriteString(shareLine(run, r.Faults))
		for _, x := range run.Expectations {
			verdict := "ok"
			if !x.OK {
				verdict = "FAILED"
			}
			fmt.Fprintf(&b, "  expect %-22s %s %g %s: measured %s  %s\n", x.Name, x.Op(), x.Limit, x.Unit, fmtMeasured(x.Measured), verdict)
		}
	}
	return b.String()
}

func fmtMeasured(p *float64) string {
	if p == nil {
		return "never"
	}
	return fmt.Sprint(*p)
}

// shareLine prints the timeline in one screen: per phase (between fault
// starts and ends) the average share of each cluster and the errors, then
// one sparkline per cluster and one for errors, a column per slice of
// seconds (the JSON has every second).
func shareLine(run RunReport, faults []FaultReport) string {
	var b strings.Builder
	n := len(run.Seconds)
	if n == 0 {
		return ""
	}
	cuts := []int{0, n}
	for _, f := range faults {
		cuts = append(cuts, int(f.StartS))
		if f.EndS != nil {
			cuts = append(cuts, int(*f.EndS))
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	for k := 0; k+1 < len(cuts); k++ {
		from, to := cuts[k], min(cuts[k+1], n)
		if from >= to {
			continue
		}
		req, errs := 0, 0
		shares := make([]float64, len(run.Clusters))
		for _, sec := range run.Seconds[from:to] {
			req += sec.Requests
			errs += sec.Errors
			for j, x := range sec.Share {
				shares[j] += x * float64(sec.Requests)
			}
		}
		parts := make([]string, len(shares))
		for j, x := range shares {
			if req > 0 {
				x /= float64(req)
			}
			parts[j] = fmt.Sprintf("%3.0f%%", 100*x)
		}
		fmt.Fprintf(&b, "  %10s %s  errors %d\n", fmt.Sprintf("%ds-%ds", from, to), strings.Join(parts, " "), errs)
	}
	const width = 60
	per := (n + width - 1) / width
	cols := (n + per - 1) / per
	levels := []rune(" ▁▂▃▄▅▆▇█")
	name := len("errors")
	for _, c := range run.Clusters {
		name = max(name, len(c))
	}
	line := func(label string, val func(from, to int) float64) {
		fmt.Fprintf(&b, "  %-*s |", name, label)
		for c := 0; c < cols; c++ {
			v := val(c*per, min((c+1)*per, n))
			k := int(math.Round(v * float64(len(levels)-1)))
			if v > 0 && k == 0 {
				k = 1 // something is not nothing
			}
			b.WriteRune(levels[k])
		}
		b.WriteString("|\n")
	}
	fmt.Fprintf(&b, "  over time, one column per %ds:\n", per)
	for j, c := range run.Clusters {
		line(c, func(from, to int) float64 {
			req, hit := 0.0, 0.0
			for _, sec := range run.Seconds[from:to] {
				req += float64(sec.Requests)
				hit += sec.Share[j] * float64(sec.Requests)
			}
			if req == 0 {
				return 0
			}
			return hit / req
		})
	}
	// Errors are scaled to the worst column, whose count per second the
	// caption gives.
	errAt := func(from, to int) float64 {
		e := 0
		for _, sec := range run.Seconds[from:to] {
			e += sec.Errors
		}
		return float64(e) / float64(to-from)
	}
	peak := 0.0
	for c := 0; c < cols; c++ {
		peak = max(peak, errAt(c*per, min((c+1)*per, n)))
	}
	line("errors", func(from, to int) float64 {
		if peak == 0 {
			return 0
		}
		return errAt(from, to) / peak
	})
	fmt.Fprintf(&b, "  %-*s  (errors: full height = %.0f/s)\n", name, "", peak)
	return b.String()
}

// faultReports describes the fault timeline for the report.
func faultReports(faults []Fault) []FaultReport {
	out := []FaultReport{}
	for _, f := range faults {
		fr := FaultReport{Name: f.Name, Kind: f.Kind, Target: f.Target.String(), StartS: secs(f.Start)}
		if f.End > 0 {
			fr.EndS = ptr(secs(f.End))
		}
		out = append(out, fr)
	}
	return out
}
