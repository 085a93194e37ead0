// Measurements: what one run recorded becomes the report's figures
// (errors, shares, detection, failover and failback times, expectations).

package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/detour-mesh/detour/harness/simulator/sim/scenario"
)

// Input is what one configuration's run recorded.
type Input struct {
	Name, Config string
	Requests     []RequestRecord
	Events       []Event
	Transitions  []Transition
	Duration     time.Duration
	EntryRegion  string
	Regions      map[string]string // cluster → region
	Zones        map[string]string // cluster → zone
	Clusters     []string          // report order
	Warnings     []string
}

func round(x float64) float64 { return math.Round(x*1e4) / 1e4 }
func secs(d time.Duration) float64 {
	return round(d.Seconds())
}
func ptr(x float64) *float64 { return &x }

// Secs is d in seconds as the report gives times (to 0.1 ms).
func Secs(d time.Duration) float64 { return secs(d) }

// final is the attempt whose answer the user got (the last one), or nil.
func final(r *RequestRecord) *AttemptRecord {
	if len(r.Attempts) == 0 {
		return nil
	}
	return &r.Attempts[len(r.Attempts)-1]
}

// Build computes one run's report from its records, with exp's
// expectations checked.
func Build(faults []Fault, exp Expect, in Input) RunReport {
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
	for i := range faults {
		run.Faults[i].FailBackCost = failBackCost(&faults[i], &run.Faults[i], &in, b)
	}
	run.CrossRegionShare = crossRegionOutsideFaults(faults, &in)
	run.Phases = phases(faults, &in)
	secondLatencies(run.Seconds, &in)
	run.RegionShare = regionShare(&in)
	run.Expectations = CheckAll(exp, &run, &in)
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

func newBuckets(in Input, faults []Fault) *buckets {
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
// (definitions in harness/simulator/sim/README.md).
func measureFault(f *Fault, in Input, b *buckets) FaultResult {
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
func failBack(f *Fault, in Input, b *buckets) *float64 {
	if f.Kind == scenario.Partition {
		return nil
	}
	tg := targets(f, &in)
	share := func(from, to int) (float64, int) { return targetShare(tg, b, from, to) }
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
	if e.MaxLatencyP99 != nil {
		ms := float64(*e.MaxLatencyP99) / float64(time.Millisecond)
		out = append(out, Expectation{Name: "maxLatencyP99", Limit: ms, Measured: ptr(run.LatencyMs.P99), Unit: "ms",
			OK: run.LatencyMs.P99 <= ms})
	}
	if e.MaxCrossRegionShare != nil {
		out = append(out, Expectation{Name: "maxCrossRegionShare", Limit: round(*e.MaxCrossRegionShare), Measured: ptr(run.CrossRegionShare), Unit: "share",
			OK: run.CrossRegionShare <= *e.MaxCrossRegionShare})
	}
	return out
}

// JSON renders the report with a stable field order, indented, newline-terminated.
