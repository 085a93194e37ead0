# METADATA
# title: Rule catalogue
# description: |
#   One entry per rule id of package main: its severity and a one-line title.
#   `detour policy` reads it for SARIF rule descriptors; a test keeps it in
#   step with the deny_/warn_ rules.
package detour.lib.catalog

rules := {
	"outlier_detection_missing": {"severity": "deny", "title": "Failover without outlier detection"},
	"strict_weights": {"severity": "deny", "title": "Strict weights where health-aware failover is expected"},
	"single_zone": {"severity": "deny", "title": "No failover target outside a single zone"},
	"single_region": {"severity": "warn", "title": "No failover target outside a single region"},
	"residency_violation": {"severity": "deny", "title": "Failover ladder breaks a residency rule"},
	"cross_namespace": {"severity": "deny", "title": "Failover across namespaces"},
	"eastwest_without_mtls": {"severity": "deny", "title": "East-west traffic without mTLS"},
	"exposure_wildcard": {"severity": "deny", "title": "East-west exposure by wildcard"},
	"retries_without_budget": {"severity": "deny", "title": "Retries without a retry budget"},
	"retry_exceeds_timeout": {"severity": "deny", "title": "Retry attempts x per-try timeout above the route timeout"},
	"retry_last_try_cut": {"severity": "warn", "title": "First try plus retries above the route timeout"},
	"retry_non_idempotent": {"severity": "deny", "title": "Retries of non-idempotent methods"},
	"max_ejection_too_low": {"severity": "deny", "title": "Max ejection percent ejects nothing for the pool size"},
	"max_ejection_partial": {"severity": "warn", "title": "Max ejection percent cannot eject a whole local tier"},
	"max_ejection_unset": {"severity": "warn", "title": "Max ejection percent left at Istio's 10% default"},
	"panic_threshold_on_failover": {"severity": "deny", "title": "Panic threshold enabled on a failover tier"},
	"failback_cliff": {"severity": "deny", "title": "Failback without hold-down or ramp"},
	"latency_budget_below_cross_region": {"severity": "deny", "title": "Latency budget at or below the cross-region latency"},
	"latency_window_too_short": {"severity": "warn", "title": "Latency window too short for minRequests at the stated load"},
	"wasm_unpinned": {"severity": "deny", "title": "WasmPlugin not pinned by sha256"},
	"wasm_fail_closed": {"severity": "deny", "title": "WasmPlugin not FAIL_OPEN"},
	"envoyfilter_unscoped": {"severity": "deny", "title": "EnvoyFilter without workloadSelector"},
	"whatif_overload": {"severity": "deny", "title": "What-if loss the remaining tiers cannot absorb"},
	"whatif_stranded": {"severity": "warn", "title": "What-if loss that leaves traffic nowhere to go"},
	"unknown_reference": {"severity": "deny", "title": "Reference to an unknown cluster, region or zone"},
	"unknown_subset": {"severity": "deny", "title": "Route to a subset no DestinationRule defines"},
}
