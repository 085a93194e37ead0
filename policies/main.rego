# METADATA
# title: Detour policy entry points
# description: |
#   conftest's layout: package main with deny_<id> / warn_<id> rules, one per
#   stable rule id, so each can be excepted on its own
#   (`exception contains rules if {...; rules := ["<id>"]}` in a team's
#   policy, `detour policy --except <id>`, or the annotation
#   policy.detour.dev/except: "<id>,..." on the checked resource).
#   The logic lives in the detour.lib.* packages, evaluated over `input`, so
#   a Gatekeeper template can reuse it with `with input as input.review.object`.
package main

import data.detour.lib.combined
import data.detour.lib.intent
import data.detour.lib.istio
import data.detour.lib.util

excepted(id) if {
	some x in split(input.metadata.annotations["policy.detour.dev/except"], ",")
	trim_space(x) == id
}

# Failover without outlier detection.
deny_outlier_detection_missing contains r if {
	some f in (intent.outlier_detection_missing | istio.outlier_detection_missing)
	not excepted("outlier_detection_missing")
	r := util.result("outlier_detection_missing", "deny", f)
}

# Strict weights where health-aware failover is expected.
deny_strict_weights contains r if {
	some f in intent.strict_weights
	not excepted("strict_weights")
	r := util.result("strict_weights", "deny", f)
}

# No failover target outside a single zone.
deny_single_zone contains r if {
	some f in intent.single_zone
	not excepted("single_zone")
	r := util.result("single_zone", "deny", f)
}

# No failover target outside a single region.
warn_single_region contains r if {
	some f in intent.single_region
	not excepted("single_region")
	r := util.result("single_region", "warn", f)
}

# Failover ladder breaks a residency rule.
deny_residency_violation contains r if {
	some f in intent.residency_violation
	not excepted("residency_violation")
	r := util.result("residency_violation", "deny", f)
}

# Failover across namespaces.
deny_cross_namespace contains r if {
	some f in (intent.cross_namespace | istio.cross_namespace)
	not excepted("cross_namespace")
	r := util.result("cross_namespace", "deny", f)
}

# East-west traffic without mTLS.
deny_eastwest_without_mtls contains r if {
	some f in (intent.eastwest_without_mtls | istio.eastwest_without_mtls)
	not excepted("eastwest_without_mtls")
	r := util.result("eastwest_without_mtls", "deny", f)
}

# East-west exposure by wildcard.
deny_exposure_wildcard contains r if {
	some f in (intent.exposure_wildcard | istio.exposure_wildcard)
	not excepted("exposure_wildcard")
	r := util.result("exposure_wildcard", "deny", f)
}

# Retries without a retry budget.
deny_retries_without_budget contains r if {
	some f in (intent.retries_without_budget | combined.retries_without_budget)
	not excepted("retries_without_budget")
	r := util.result("retries_without_budget", "deny", f)
}

# Retry attempts x per-try timeout above the route timeout.
deny_retry_exceeds_timeout contains r if {
	some f in (intent.retry_exceeds_timeout | istio.retry_exceeds_timeout)
	not excepted("retry_exceeds_timeout")
	r := util.result("retry_exceeds_timeout", "deny", f)
}

# First try plus retries above the route timeout.
warn_retry_last_try_cut contains r if {
	some f in (intent.retry_last_try_cut | istio.retry_last_try_cut)
	not excepted("retry_last_try_cut")
	r := util.result("retry_last_try_cut", "warn", f)
}

# Retries of non-idempotent methods.
deny_retry_non_idempotent contains r if {
	some f in (intent.retry_non_idempotent | istio.retry_non_idempotent)
	not excepted("retry_non_idempotent")
	r := util.result("retry_non_idempotent", "deny", f)
}

# Max ejection percent ejects nothing for the pool size.
deny_max_ejection_too_low contains r if {
	some f in (intent.max_ejection_too_low | istio.max_ejection_too_low)
	not excepted("max_ejection_too_low")
	r := util.result("max_ejection_too_low", "deny", f)
}

# Max ejection percent cannot eject a whole local tier.
warn_max_ejection_partial contains r if {
	some f in intent.max_ejection_partial
	not excepted("max_ejection_partial")
	r := util.result("max_ejection_partial", "warn", f)
}

# Max ejection percent left at Istio's 10% default.
warn_max_ejection_unset contains r if {
	some f in istio.max_ejection_unset
	not excepted("max_ejection_unset")
	r := util.result("max_ejection_unset", "warn", f)
}

# Panic threshold enabled on a failover tier.
deny_panic_threshold_on_failover contains r if {
	some f in (intent.panic_threshold_on_failover | istio.panic_threshold_on_failover)
	not excepted("panic_threshold_on_failover")
	r := util.result("panic_threshold_on_failover", "deny", f)
}

# Failback without hold-down or ramp.
deny_failback_cliff contains r if {
	some f in intent.failback_cliff
	not excepted("failback_cliff")
	r := util.result("failback_cliff", "deny", f)
}

# Latency budget at or below the cross-region latency.
deny_latency_budget_below_cross_region contains r if {
	some f in intent.latency_budget_below_cross_region
	not excepted("latency_budget_below_cross_region")
	r := util.result("latency_budget_below_cross_region", "deny", f)
}

# Latency window too short for minRequests at the stated load.
warn_latency_window_too_short contains r if {
	some f in intent.latency_window_too_short
	not excepted("latency_window_too_short")
	r := util.result("latency_window_too_short", "warn", f)
}

# WasmPlugin not pinned by sha256.
deny_wasm_unpinned contains r if {
	some f in istio.wasm_unpinned
	not excepted("wasm_unpinned")
	r := util.result("wasm_unpinned", "deny", f)
}

# WasmPlugin not FAIL_OPEN.
deny_wasm_fail_closed contains r if {
	some f in istio.wasm_fail_closed
	not excepted("wasm_fail_closed")
	r := util.result("wasm_fail_closed", "deny", f)
}

# EnvoyFilter without workloadSelector.
deny_envoyfilter_unscoped contains r if {
	some f in istio.envoyfilter_unscoped
	not excepted("envoyfilter_unscoped")
	r := util.result("envoyfilter_unscoped", "deny", f)
}

# What-if loss the remaining tiers cannot absorb.
deny_whatif_overload contains r if {
	some f in intent.whatif_overload
	not excepted("whatif_overload")
	r := util.result("whatif_overload", "deny", f)
}

# What-if loss that leaves traffic nowhere to go.
warn_whatif_stranded contains r if {
	some f in intent.whatif_stranded
	not excepted("whatif_stranded")
	r := util.result("whatif_stranded", "warn", f)
}

# Reference to an unknown cluster, region or zone.
deny_unknown_reference contains r if {
	some f in intent.unknown_reference
	not excepted("unknown_reference")
	r := util.result("unknown_reference", "deny", f)
}

# Route to a subset no DestinationRule defines.
deny_unknown_subset contains r if {
	some f in combined.unknown_subset
	not excepted("unknown_subset")
	r := util.result("unknown_subset", "deny", f)
}
