// Package config is the configuration format of Detour's Wasm filters: the
// JSON that the compiler writes into WasmPlugin.pluginConfig and that the
// filters read in their plugin-start callback.
//
// It is defined once, here, in plain Go that depends on encoding/json only,
// so the filters (built for GOOS=wasip1) import it as they are. The CUE
// definition #PluginConfig in schemas/detour mirrors it; a test keeps the two
// equal. Durations are integers in milliseconds so the filters need no
// duration parser.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Version is the configuration format this package reads and writes. A
// filter refuses (and fails open on) a configuration of another version.
const Version = "v1"

// Routing headers. The router filter sets HeaderCluster to the cluster it
// picked and the compiled VirtualService routes on it; HeaderCell carries the
// region a request failed over to so later hops stay there. Both are control
// headers: the router strips any value a client sends.
const (
	HeaderCluster = "x-detour-cluster"
	HeaderCell    = "x-detour-cell"
)

// HeaderShed is set on the local reply the retry filter sends when the
// retry budget refuses a retry (value "retry-budget"): the request failed
// and was shed, not retried.
const HeaderShed = "x-detour-shed"

// Root IDs (WasmPlugin.pluginName) of the three filters that one module exposes.
const (
	PluginOutlier = "detour-outlier"
	PluginRouter  = "detour-router"
	PluginRetry   = "detour-retry"
	// PluginCombined runs all three filters in one HTTP context: what the
	// compiler emits by default (the three with --split-filters; measured
	// in RATIONALE.md, "Filter module layout").
	PluginCombined = "detour"
)

// Failover modes, as in the intent.
const (
	ModeAuto          = "auto"
	ModeNamed         = "named"
	ModeWeighted      = "weighted"
	ModeActiveStandby = "activeStandby"
)

// Config is what every Detour filter of one proxy receives. Each filter reads
// the parts it needs; all three get the same document so they agree on the
// ladder.
type Config struct {
	Version string `json:"version"`
	// Service is the destination the filters act on; other requests pass untouched.
	Service Service `json:"service"`
	// Local is the cluster the proxy runs in; empty for an edge gateway.
	Local string `json:"local,omitempty"`
	// Mode is the failover mode; HealthAware refines ModeWeighted.
	Mode        string `json:"mode"`
	HealthAware bool   `json:"healthAware,omitempty"`
	// TierByLocality (auto at an edge gateway, which is in no cluster): the
	// filters tier the targets by the proxy's own locality (node.locality:
	// its zone, then its region, then the rest), as Envoy's locality load
	// balancing does under Istio's defaults; the targets' priorities are
	// ignored. Without a node locality the targets keep one tier.
	TierByLocality bool `json:"tierByLocality,omitempty"`
	// Composed: the team's routes (intent spec.compose) come before
	// Detour's own route for a target and match the same routing header,
	// so an answer to a request the router sent to a target may come from
	// a version subset's cluster, which is none of the targets. The
	// outlier part then reads each answer's cluster (xds.cluster_name)
	// instead of taking the router's pick for it.
	Composed bool `json:"composed,omitempty"`
	// Targets is the failover ladder seen from this proxy, in priority order.
	Targets   []Target  `json:"targets"`
	Headers   Headers   `json:"headers"`
	Detection Detection `json:"detection"`
	Retry     Retry     `json:"retry"`
	Failback  Failback  `json:"failback"`
	// Cell is how the router signs the cell header it sets and checks
	// the one it receives (plugins/cell); absent means the defaults.
	Cell *Cell `json:"cell,omitempty"`
}

// Cell configures the cell header's signature. The keys are not here:
// this document is readable wherever the WasmPlugin is (the API server,
// the proxy's config dump), so the keys come from an environment variable
// of the proxy, which Istio hands to the VM (WasmPlugin vmConfig.env,
// valueFrom HOST).
type Cell struct {
	// KeyEnv names that variable; empty means DefaultCellKeyEnv.
	KeyEnv string `json:"keyEnv,omitempty"`
	// MaxAgeMs is how long a signed header is honoured after the hop that
	// set it; 0 means DefaultCellMaxAgeMs.
	MaxAgeMs uint32 `json:"maxAgeMs,omitempty"`
}

// Cell defaults, and the longest max age accepted.
const (
	DefaultCellKeyEnv   = "DETOUR_CELL_KEYS"
	DefaultCellMaxAgeMs = 10000
	MaxCellMaxAgeMs     = 300000
)

// CellSettings is c.Cell with the defaults filled in.
func (c *Config) CellSettings() Cell {
	var out Cell
	if c.Cell != nil {
		out = *c.Cell
	}
	if out.KeyEnv == "" {
		out.KeyEnv = DefaultCellKeyEnv
	}
	if out.MaxAgeMs == 0 {
		out.MaxAgeMs = DefaultCellMaxAgeMs
	}
	return out
}

// Service names the destination.
type Service struct {
	// Host is the service FQDN (name.namespace.svc.domain).
	Host string `json:"host"`
	Port uint32 `json:"port"`
	// Authorities are the request authorities (Host headers) that address
	// the service, e.g. the edge hostnames; Host itself always matches.
	Authorities []string `json:"authorities,omitempty"`
}

// Target is one cluster on the ladder.
type Target struct {
	Cluster string `json:"cluster"`
	// Priority is the tier, 0 first; a tier is used when the ones before it
	// cannot take the traffic.
	Priority int `json:"priority"`
	// Weight is the target's share, in percent, of the traffic its tier takes.
	Weight  uint32 `json:"weight"`
	Region  string `json:"region"`
	Zone    string `json:"zone"`
	Standby bool   `json:"standby,omitempty"`
}

// Headers are the header names the filters set and the routes match.
type Headers struct {
	Cluster string `json:"cluster"`
	Cell    string `json:"cell"`
}

// Detection is the outlier filter's passive health check.
type Detection struct {
	Consecutive5xx                 uint32 `json:"consecutive5xx"`
	ConsecutiveGatewayErrors       uint32 `json:"consecutiveGatewayErrors"`
	ConsecutiveLocalOriginFailures uint32 `json:"consecutiveLocalOriginFailures"`
	// FailurePercentage is 0 when failure-percentage ejection is off.
	FailurePercentage    uint32 `json:"failurePercentage,omitempty"`
	FailureRequestVolume uint32 `json:"failureRequestVolume,omitempty"`
	IntervalMs           uint32 `json:"intervalMs"`
	BaseEjectionMs       uint32 `json:"baseEjectionMs"`
	MaxEjectionPercent   uint32 `json:"maxEjectionPercent"`
	// MaxEjectionMs caps base × times-ejected; 0 means 10 × base (Envoy's
	// default max_ejection_time ratio).
	MaxEjectionMs uint32 `json:"maxEjectionMs,omitempty"`
	// ProbePath is the path the outlier filter probes an ejected target on
	// once its ejection time is over; empty means "/".
	ProbePath string `json:"probePath,omitempty"`
	// ProbeStatus is the status a probe must answer to un-eject; 0 means any
	// status below 500.
	ProbeStatus uint32 `json:"probeStatus,omitempty"`
	// ProbeSubsets: the compiler emits, per target, a probe subset
	// (ProbeSubsetPrefix + SubsetPrefix + cluster) without outlier
	// detection, and the outlier filter probes through it, so a probe
	// reaches the target's hosts even when Envoy has ejected every one of
	// them in the subset that carries traffic. Unset, probes go through
	// the traffic subset (a configuration compiled before probe subsets).
	ProbeSubsets bool `json:"probeSubsets,omitempty"`
	// Latency, when set, is latency failover (plugins/latency).
	Latency *Latency `json:"latency,omitempty"`
}

// Latency moves a target's traffic away while the 99th percentile of its
// answers over the last WindowMs exceeds P99Ms (with at least MinRequests
// answers in the window) and another target is expected to be faster;
// CrossRegionMs is what a hop to another region adds to that expectation.
type Latency struct {
	P99Ms         uint32 `json:"p99Ms"`
	WindowMs      uint32 `json:"windowMs"`
	MinRequests   uint32 `json:"minRequests"`
	CrossRegionMs uint32 `json:"crossRegionMs,omitempty"`
}

// Retry is the retry filter's cross-cluster retry and its budget.
type Retry struct {
	Attempts        uint32   `json:"attempts"`
	PerTryTimeoutMs uint32   `json:"perTryTimeoutMs"`
	RetryOn         []string `json:"retryOn"`
	Methods         []string `json:"methods"`
	// BudgetPercent caps retries to this percent of active requests (0 = no budget).
	BudgetPercent        float64 `json:"budgetPercent,omitempty"`
	BudgetMinConcurrency uint32  `json:"budgetMinConcurrency,omitempty"`
	// MaxBodyBytes is the largest request body the retry filter buffers to
	// re-send; a larger body is not retried. 0 means DefaultMaxBodyBytes.
	MaxBodyBytes uint32 `json:"maxBodyBytes,omitempty"`
}

// DefaultMaxBodyBytes is Retry.MaxBodyBytes when the configuration leaves it 0.
const DefaultMaxBodyBytes = 64 << 10

// SubsetPrefix makes a target's DestinationRule subset name: the compiler
// emits one subset per target cluster, named SubsetPrefix + cluster.
const SubsetPrefix = "cluster-"

// ClusterName is the Envoy cluster Istio builds for a target's subset,
// outbound|PORT|SUBSET|FQDN, the name http_call needs.
func (c *Config) ClusterName(target string) string {
	return "outbound|" + itoa(c.Service.Port) + "|" + SubsetPrefix + target + "|" + c.Service.Host
}

// ProbeSubsetPrefix prefixes a target's subset name to make its probe
// subset's: the same endpoints, no outlier detection (Detection.ProbeSubsets).
const ProbeSubsetPrefix = "probe-"

// ProbeClusterName is the Envoy cluster the outlier filter probes target
// through: its probe subset's when the compiler emitted them, else the
// traffic subset's.
func (c *Config) ProbeClusterName(target string) string {
	if !c.Detection.ProbeSubsets {
		return c.ClusterName(target)
	}
	return "outbound|" + itoa(c.Service.Port) + "|" + ProbeSubsetPrefix + SubsetPrefix + target + "|" + c.Service.Host
}

func itoa(u uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			return string(b[i:])
		}
	}
}

// Failback is how the router returns traffic to a recovered cluster.
type Failback struct {
	// HoldDownMs is the hold-down of a target's first recovery; repeated
	// ejections raise it (FlapHalfLifeMs).
	HoldDownMs      uint32   `json:"holdDownMs"`
	MinHealthyShare uint32   `json:"minHealthyShare"`
	Ramp            []uint32 `json:"ramp"`
	StepIntervalMs  uint32   `json:"stepIntervalMs"`
	// ProbeIntervalMs is the fixed period of the probes of a target that is
	// out or in hold-down; 0 means DefaultProbeIntervalMs.
	ProbeIntervalMs uint32 `json:"probeIntervalMs,omitempty"`
	// FlapHalfLifeMs is the half-life of a target's flap penalty (one unit
	// per ejection); each unit multiplies the hold-down by 3. 0 means
	// DefaultFlapHalfLifeMs.
	FlapHalfLifeMs uint32 `json:"flapHalfLifeMs,omitempty"`
	// MaxHoldDownMs caps the raised hold-down; 0 means 60 × HoldDownMs.
	MaxHoldDownMs uint32 `json:"maxHoldDownMs,omitempty"`
}

// Failback defaults for the optional fields.
const (
	DefaultProbeIntervalMs = 500
	DefaultFlapHalfLifeMs  = 30000
)

// Parse decodes and validates a configuration. Unknown fields are errors, so
// a filter never silently ignores a setting it does not understand.
func Parse(data []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("plugin config: %w", err)
	}
	if dec.More() {
		return Config{}, errors.New("plugin config: trailing data after the JSON object")
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate reports the first inconsistency, naming the field.
func (c Config) Validate() error {
	switch {
	case c.Version != Version:
		return fmt.Errorf("plugin config: version: got %q, want %q", c.Version, Version)
	case c.Service.Host == "":
		return errors.New("plugin config: service.host: must not be empty")
	case c.Service.Port == 0 || c.Service.Port > 65535:
		return fmt.Errorf("plugin config: service.port: %d is not a port", c.Service.Port)
	case !headerName(c.Headers.Cluster) || !headerName(c.Headers.Cell):
		return fmt.Errorf("plugin config: headers: %q and %q must be lower-case header names", c.Headers.Cluster, c.Headers.Cell)
	case len(c.Targets) == 0:
		return errors.New("plugin config: targets: at least one target is needed")
	}
	switch c.Mode {
	case ModeAuto, ModeNamed, ModeWeighted, ModeActiveStandby:
	default:
		return fmt.Errorf("plugin config: mode: %q is not one of auto, named, weighted, activeStandby", c.Mode)
	}
	seen := map[string]bool{}
	prev := 0
	for i, t := range c.Targets {
		switch {
		case t.Cluster == "":
			return fmt.Errorf("plugin config: targets[%d].cluster: must not be empty", i)
		case seen[t.Cluster]:
			return fmt.Errorf("plugin config: targets[%d].cluster: %q is listed twice", i, t.Cluster)
		case t.Priority < prev:
			return fmt.Errorf("plugin config: targets[%d].priority: %d after %d; targets must be in priority order", i, t.Priority, prev)
		case t.Weight > 100:
			return fmt.Errorf("plugin config: targets[%d].weight: %d exceeds 100", i, t.Weight)
		}
		seen[t.Cluster] = true
		prev = t.Priority
	}
	if c.Detection.MaxEjectionPercent > 100 {
		return fmt.Errorf("plugin config: detection.maxEjectionPercent: %d exceeds 100", c.Detection.MaxEjectionPercent)
	}
	if p := c.Detection.ProbePath; p != "" && p[0] != '/' {
		return fmt.Errorf("plugin config: detection.probePath: %q must start with /", p)
	}
	if s := c.Detection.ProbeStatus; s != 0 && (s < 100 || s > 599) {
		return fmt.Errorf("plugin config: detection.probeStatus: %d is not an HTTP status", s)
	}
	if m := c.Detection.MaxEjectionMs; m != 0 && m < c.Detection.BaseEjectionMs {
		return fmt.Errorf("plugin config: detection.maxEjectionMs: %d is below baseEjectionMs %d", m, c.Detection.BaseEjectionMs)
	}
	if l := c.Detection.Latency; l != nil {
		switch {
		case l.P99Ms == 0:
			return errors.New("plugin config: detection.latency.p99Ms: must be at least 1")
		case l.WindowMs < l.P99Ms:
			return fmt.Errorf("plugin config: detection.latency.windowMs: %d is below p99Ms %d", l.WindowMs, l.P99Ms)
		case l.MinRequests == 0:
			return errors.New("plugin config: detection.latency.minRequests: must be at least 1")
		}
	}
	if c.Retry.BudgetPercent < 0 || c.Retry.BudgetPercent > 100 {
		return fmt.Errorf("plugin config: retry.budgetPercent: %g is not within 0..100", c.Retry.BudgetPercent)
	}
	if m := c.Failback.MaxHoldDownMs; m != 0 && m < c.Failback.HoldDownMs {
		return fmt.Errorf("plugin config: failback.maxHoldDownMs: %d is below holdDownMs %d", m, c.Failback.HoldDownMs)
	}
	for i, r := range c.Failback.Ramp {
		if r == 0 || r > 100 || (i > 0 && r <= c.Failback.Ramp[i-1]) {
			return fmt.Errorf("plugin config: failback.ramp[%d]: %d; ramp steps must increase strictly within 1..100", i, r)
		}
	}
	if n := len(c.Failback.Ramp); n > 0 && c.Failback.Ramp[n-1] != 100 {
		return errors.New("plugin config: failback.ramp: the last step must be 100")
	}
	if cl := c.Cell; cl != nil {
		if cl.KeyEnv != "" && !envName(cl.KeyEnv) {
			return fmt.Errorf("plugin config: cell.keyEnv: %q is not an environment variable name (letters, digits, '_', not starting with a digit)", cl.KeyEnv)
		}
		if cl.MaxAgeMs > MaxCellMaxAgeMs {
			return fmt.Errorf("plugin config: cell.maxAgeMs: %d exceeds %d", cl.MaxAgeMs, MaxCellMaxAgeMs)
		}
	}
	return nil
}

// envName reports a C identifier, what Istio's WasmPlugin env names must be.
func envName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// headerName reports a lower-case HTTP header name (letters, digits, '-').
func headerName(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
