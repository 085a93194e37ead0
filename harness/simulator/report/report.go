// Package report turns what a simulated run recorded (the entry proxy's
// requests and their attempts, health events, the Detour filters' log, a
// fleet drill's sources) into the report of detour simulate: the figures,
// the measured times, the expectations' verdicts, the JSON, the text
// summary and the timeline's plot. Package sim runs the scenario and hands
// the records over; this package does not link Istio.
package report

import (
	"bytes"
	"encoding/json"
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

// AttemptRecord is one upstream attempt as the network saw it.
type AttemptRecord struct {
	At        time.Duration // since the start of the run
	RequestID uint64
	Proxy     string
	// Cluster is the topology cluster the attempt reached (or tried to).
	Cluster string
	Region  string
	Hop     string
	// Service and Endpoint that answered (pods only, or behind a gateway).
	Service  string
	Endpoint string
	Outcome  string
	Status   int
	Cause    string
	// Faults that shaped the result, by name.
	Faults []string
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

// Run names: plain Istio, a baseline configuration, and Istio with the
// Detour filters.
const (
	RunIstio    = "istio"
	RunBaseline = "baseline"
	RunDetour   = "detour"
)

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
	// region than the entry proxy's among those sent outside every fault's
	// span (a flapping fault's span is whole; failback windows count).
	CrossRegionShare float64 `json:"crossRegionShare"`
	// RegionShare is, per region, the share of the requests that sent an
	// attempt there over the whole run, faults included (residency.go).
	RegionShare map[string]float64 `json:"regionShare"`
	// Phases are the run cut at every fault's start and end.
	Phases      []Phase       `json:"phases"`
	Faults      []FaultResult `json:"faults"`
	Seconds     []Second      `json:"seconds"`
	Events      []EventJSON   `json:"events"`
	Transitions []Transition  `json:"transitions"`
	// Failbacks are the filters' returns of recovered targets (failback.go).
	Failbacks []FailbackReport `json:"failbacks"`
	// Warnings are configuration the Envoy model left out or does not model.
	Warnings     []string      `json:"warnings"`
	Expectations []Expectation `json:"expectations"`
	Passed       bool          `json:"passed"`
	Clusters     []string      `json:"clusters"`
	// Fleet is every source's view in a fleet drill (fleet.go).
	Fleet *FleetReport `json:"fleet,omitempty"`
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
	// FailBackCost is what the way back cost; nil when the fault never
	// ends within the run, is a partition, or its target had no traffic.
	FailBackCost *FailBackCost `json:"failBackCost"`
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
	// P50Ms and P99Ms are the second's latency percentiles (nearest rank;
	// 0 without requests).
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
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
	// Against names the run a relative expectation compares with; Limit is
	// then Factor × its figure (+ SlackMs for latency).
	Against string  `json:"against,omitempty"`
	Factor  float64 `json:"factor,omitempty"`
	SlackMs float64 `json:"slackMs,omitempty"`
	// Waived says why a relative latency limit that was exceeded does not
	// fail (the run has fewer user-visible errors than the other).
	Waived string `json:"waived,omitempty"`
}

// Op is how the measured value compares with the limit: ">=" for the
// minimums, "<=" for the rest.
func (x Expectation) Op() string {
	if strings.HasPrefix(x.Name, "min") {
		return ">="
	}
	return "<="
}

// Measurement windows (see harness/simulator/sim/README.md, "Measured times").
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

// FaultReports describes the fault timeline for the report.
func FaultReports(faults []Fault) []FaultReport {
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
