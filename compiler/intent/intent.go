// Package intent holds the normalised failover intent: the Go mirror of the
// CUE definition #Intent in schemas/detour, with every default filled in.
//
// It is the contract between the loader (which fills it from CUE or YAML),
// the lowering to Istio resources, `detour explain`, the policies (which see
// its JSON form as input) and the harness. Field names and JSON tags follow
// the intent file format exactly, so the JSON of a normalised intent is a
// valid intent file again.
package intent

import (
	"strconv"

	"istio.io/api/networking/v1alpha3"
)

// APIVersion and Kind identify an intent document.
const (
	APIVersion = "detour.dev/v1alpha1"
	Kind       = "FailoverIntent"
)

// Intent is one logical service (same name and namespace in every cluster)
// and where its traffic may go.
type Intent struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`
}

// Metadata names the intent; Name is also the service's short host name
// unless Spec.Service.Host says otherwise.
type Metadata struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels,omitempty"`
	// Annotations carry tooling notes, such as the policy rule ids a team
	// has reviewed and accepted ("policy.detour.dev/except": "id,id").
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Spec is the body of an intent.
type Spec struct {
	Service   Service   `json:"service"`
	Entry     Entry     `json:"entry"`
	Clusters  []Cluster `json:"clusters"`
	Failover  Failover  `json:"failover"`
	Subsets   []Subset  `json:"subsets,omitempty"`
	Compose   *Compose  `json:"compose,omitempty"`
	Exposure  Exposure  `json:"exposure"`
	Detection Detection `json:"detection"`
	Retries   Retries   `json:"retries"`
	Failback  Failback  `json:"failback"`
	Plugins   Plugins   `json:"plugins"`
}

// Service is the workload every cluster runs under the same name and namespace.
type Service struct {
	// Host is the short service name; the FQDN is Host.Namespace.svc.<ClusterDomain>.
	Host          string `json:"host"`
	Port          uint32 `json:"port"`
	Protocol      string `json:"protocol"` // HTTP | HTTP2 | GRPC
	ClusterDomain string `json:"clusterDomain"`
}

// Entry says where failover decisions are taken.
type Entry struct {
	// Kind is "eastWest" (sidecars call remote clusters through their
	// east-west gateways) or "edge" (an edge gateway in front of the clusters).
	Kind string `json:"kind"`
	// Edge is set when Kind is "edge".
	Edge *Edge `json:"edge,omitempty"`
	// Clients (eastWest) selects the client workloads (matchLabels) whose
	// sidecars call the service: the EnvoyFilters and WasmPlugins are
	// scoped to them instead of every sidecar of the namespace.
	Clients map[string]string `json:"clients,omitempty"`
}

// Edge describes the edge (ingress) gateway that fronts the clusters.
type Edge struct {
	Hosts []string `json:"hosts"`
	// GatewaySelector selects the edge gateway pods (matchLabels).
	GatewaySelector map[string]string `json:"gatewaySelector"`
	Port            uint32            `json:"port"`
	// CredentialName is the TLS secret; empty means plain HTTP on Port.
	CredentialName string `json:"credentialName,omitempty"`
	// GatewayNamespace is where the edge gateway pods run. Istio applies a
	// WasmPlugin or EnvoyFilter selector only to pods of the resource's own
	// namespace (or of every namespace from the root namespace), so the
	// edge's filters are emitted there.
	GatewayNamespace string `json:"gatewayNamespace"`
}

// Cluster is one place the service runs.
type Cluster struct {
	Name    string `json:"name"`
	Region  string `json:"region"`
	Zone    string `json:"zone"`
	SubZone string `json:"subZone,omitempty"`
	Network string `json:"network"`
	// EastWestGateway is how other clusters reach this one (mTLS, AUTO_PASSTHROUGH).
	EastWestGateway Address `json:"eastWestGateway"`
	// Capacity is a hint in requests per second the cluster can serve;
	// 0 means unknown (what-if analysis then cannot judge absorption).
	Capacity float64 `json:"capacity,omitempty"`
	// Load is the requests per second the cluster's own locality sends in
	// normal operation; with Capacity it lets what-if analysis judge whether
	// the clusters that remain absorb a loss. nil means unknown; 0 is a
	// cluster whose own callers send nothing (often a standby).
	Load *float64 `json:"load,omitempty"`
	// Weight is the share in percent for mode weighted (strict weights sum to 100),
	// and 0 marks a standby in mode activeStandby.
	Weight *uint32 `json:"weight,omitempty"`
	// Role is "active" or "standby" (activeStandby); derived from Weight when absent.
	Role string `json:"role,omitempty"`
	// Endpoints is the number of service endpoints (pods) expected in the
	// cluster; it sizes outlier ejection. 0 means unknown.
	Endpoints uint32 `json:"endpoints,omitempty"`
}

// Address is a host (IP or DNS name) and port.
type Address struct {
	Address string `json:"address"`
	Port    uint32 `json:"port"`
}

// Failover modes.
const (
	ModeAuto          = "auto"
	ModeNamed         = "named"
	ModeWeighted      = "weighted"
	ModeActiveStandby = "activeStandby"
)

// Failover says how traffic may move between clusters.
type Failover struct {
	Mode string `json:"mode"`
	// Order lists cluster names, most preferred first (mode named).
	Order []string `json:"order,omitempty"`
	// HealthAware keeps a weighted split among healthy clusters and
	// redistributes the share of a failed one (mode weighted).
	HealthAware bool `json:"healthAware,omitempty"`
	// Rules restrict where traffic from a locality may go (data residency).
	Rules []Rule `json:"rules,omitempty"`
}

// Rule restricts the ladder of clusters matching From. Exactly one of
// Only, Any, AnyExcept, None is set.
type Rule struct {
	From      Locality   `json:"from"`
	Only      []Locality `json:"only,omitempty"`
	Any       bool       `json:"any,omitempty"`
	AnyExcept []Locality `json:"anyExcept,omitempty"`
	// None forbids any failover out of the clusters matching From.
	None bool `json:"none,omitempty"`
}

// Locality selects clusters; empty fields match anything, so {} matches all.
type Locality struct {
	Cluster string `json:"cluster,omitempty"`
	Region  string `json:"region,omitempty"`
	Zone    string `json:"zone,omitempty"`
}

// Subset is a version of the service that fails over to the same version
// in other clusters (reviews-v2 to remote reviews-v2).
type Subset struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	// Clusters are the clusters the subset runs in; empty means every one.
	// Its traffic fails over only to these.
	Clusters []string `json:"clusters,omitempty"`
}

// RunsIn reports whether the subset has pods in the named cluster.
func (s Subset) RunsIn(cluster string) bool {
	if len(s.Clusters) == 0 {
		return true
	}
	for _, c := range s.Clusters {
		if c == cluster {
			return true
		}
	}
	return false
}

// SubsetsIn are the subsets that run in the named cluster.
func (sp Spec) SubsetsIn(cluster string) []Subset {
	var out []Subset
	for _, s := range sp.Subsets {
		if s.RunsIn(cluster) {
			out = append(out, s)
		}
	}
	return out
}

// Compose names a team's own VirtualService for the service whose HTTP
// routes the compiler merges into the compiled VirtualService, ahead of
// Detour's own, so that the mesh sees one VirtualService for the host.
type Compose struct {
	// VirtualService is the team's file, relative to the intent's directory.
	VirtualService string `json:"virtualService"`
	// Routes are the file's HTTP routes as the loader checked them: every
	// destination is the service (host written as its FQDN), with a subset
	// of Spec.Subsets or none; no retries, timeout, redirect or method
	// match (Detour owns those). Not part of the file format: the loader
	// fills them from VirtualService.
	Routes []*v1alpha3.HTTPRoute `json:"-"`
}

// RouteName is the name of Routes[i]: its own, or "team-<i>" (Istio would
// name an unnamed route by position, which shifts as routes are added).
func (c *Compose) RouteName(i int) string {
	if n := c.Routes[i].GetName(); n != "" {
		return n
	}
	return "team-" + strconv.Itoa(i)
}

// Exposure is how the east-west gateways export the service. They export
// exactly the intent's service (its host on the compiled Gateway, which
// Istio enforces); the schema rejects a label selector, which Istio's
// Gateway cannot enforce.
type Exposure struct {
	// MTLS is always "ISTIO_MUTUAL".
	MTLS string `json:"mtls"`
}

// Detection configures passive outlier detection.
type Detection struct {
	Consecutive5xx                 uint32             `json:"consecutive5xx"`
	ConsecutiveGatewayErrors       uint32             `json:"consecutiveGatewayErrors"`
	ConsecutiveLocalOriginFailures uint32             `json:"consecutiveLocalOriginFailures"`
	SplitLocalOrigin               bool               `json:"splitLocalOrigin"`
	FailurePercentage              *FailurePercentage `json:"failurePercentage,omitempty"`
	Interval                       Duration           `json:"interval"`
	BaseEjectionTime               Duration           `json:"baseEjectionTime"`
	MaxEjectionPercent             uint32             `json:"maxEjectionPercent"`
	// MinHealthPercent is Istio's panic threshold; 0 (off) for failover tiers.
	MinHealthPercent uint32 `json:"minHealthPercent"`
	// AlwaysEjectOne lets a single-host pool eject its only host.
	AlwaysEjectOne bool `json:"alwaysEjectOne"`
	// SLO, when set, derived the values above ("detect within 2s at 100 rps").
	SLO *SLO `json:"slo,omitempty"`
	// Latency, when set, moves a target's traffic away while its observed
	// 99th percentile breaches P99 and another target is expected faster.
	Latency *LatencyDetection `json:"latency,omitempty"`
}

// LatencyDetection is latency failover: a budget for the 99th percentile
// over a sliding window of at least MinRequests answers. CrossRegion is
// the latency a hop to another region adds (nil: unknown, counted as 0).
type LatencyDetection struct {
	P99         Duration  `json:"p99"`
	Window      Duration  `json:"window"`
	MinRequests uint32    `json:"minRequests"`
	CrossRegion *Duration `json:"crossRegion,omitempty"`
}

// FailurePercentage is Envoy's failure-percentage ejection (EnvoyFilter only).
type FailurePercentage struct {
	Threshold     uint32 `json:"threshold"`
	MinimumHosts  uint32 `json:"minimumHosts"`
	RequestVolume uint32 `json:"requestVolume"`
}

// SLO states detection as a target instead of raw counters.
type SLO struct {
	DetectWithin Duration `json:"detectWithin"`
	RPS          float64  `json:"rps"`
}

// Retries configures route retries and the retry budget.
type Retries struct {
	Attempts              uint32   `json:"attempts"`
	PerTryTimeout         Duration `json:"perTryTimeout"`
	Timeout               Duration `json:"timeout"` // the route timeout
	RetryOn               []string `json:"retryOn"`
	RetryRemoteLocalities bool     `json:"retryRemoteLocalities"`
	// Methods are the request methods that may be retried (idempotent ones).
	Methods []string `json:"methods"`
	// NonIdempotent opts in to retrying what is not idempotent: POST and
	// PATCH in Methods, and every gRPC call (all are POST). A reviewed
	// choice: the policy retry_non_idempotent asks for an exception.
	NonIdempotent bool    `json:"nonIdempotent"`
	Backoff       Backoff `json:"backoff"`
	Budget        *Budget `json:"budget,omitempty"`
}

// Backoff is the retry back-off.
type Backoff struct {
	Base Duration `json:"base"`
	Max  Duration `json:"max"`
}

// Budget caps retries to a share of active requests.
type Budget struct {
	Percent        float64 `json:"percent"`
	MinConcurrency uint32  `json:"minConcurrency"`
}

// Failback says how traffic returns once a preferred cluster recovers.
type Failback struct {
	// HoldDown is how long a recovered cluster must stay healthy first.
	HoldDown Duration `json:"holdDown"`
	// MinHealthyShare is the percent of its endpoints that must be healthy.
	MinHealthyShare uint32 `json:"minHealthyShare"`
	// Ramp is the traffic share, in percent, at each step; the last is 100.
	Ramp []uint32 `json:"ramp"`
	// StepInterval is the time spent on each ramp step.
	StepInterval Duration `json:"stepInterval"`
	// ProbeInterval is the probe period of a cluster that is out or in hold-down.
	ProbeInterval Duration `json:"probeInterval"`
	// FlapHalfLife is the half-life of the flap penalty that raises the hold-down.
	FlapHalfLife Duration `json:"flapHalfLife"`
	// MaxHoldDown caps the raised hold-down.
	MaxHoldDown Duration `json:"maxHoldDown"`
}

// Plugins says whether Detour's Wasm filters (outlier, router, retry) are
// attached to the gateways. The module's URL and digest are compile options,
// not part of the intent, so one intent serves every release of the filters.
type Plugins struct {
	Enabled bool `json:"enabled"`
}
