package main_test

import data.detour.lib.catalog
import data.detour.lib.combined_test
import data.detour.lib.intent_test
import data.detour.lib.istio_test
import data.main

unsafe_intent := intent_test.patched([
	["/spec/detection/consecutive5xx", 0], ["/spec/detection/consecutiveGatewayErrors", 0],
	["/spec/detection/consecutiveLocalOriginFailures", 0],
	["/spec/detection/maxEjectionPercent", 0], ["/spec/detection/alwaysEjectOne", false],
	["/spec/detection/minHealthPercent", 50],
	["/spec/failover/mode", "weighted"],
	["/spec/failover/rules/1", {"from": {"cluster": "east"}, "only": [{"region": "eu-west9"}]}],
	["/spec/service/host", "reviews.other"],
	["/spec/exposure/mtls", "DISABLE"], ["/spec/exposure/selector", {}],
	["/spec/retries/budget", null], ["/spec/retries/perTryTimeout", "3s"],
	["/spec/retries/methods", ["POST"]],
	["/spec/failback/ramp", [100]],
	["/status/whatIf/0/absorbed", false], ["/status/whatIf/0/overloaded", ["west"]],
	["/status/whatIf/0/stranded", ["eu"]],
])

one_zone := intent_test.patched([
	["/spec/clusters", intent_test.one_zone_clusters], ["/status", {}], ["/spec/failover/rules", []],
	["/spec/failback/holdDown", "0s"],
])

one_region := json.patch(one_zone, [{"op": "add", "path": "/spec/clusters/1/zone", "value": "z2"}])

cut_retry := intent_test.patched([["/spec/retries/perTryTimeout", "2s"], ["/spec/detection/maxEjectionPercent", 10]])

unsafe_dr := json.patch(istio_test.dr, [
	{"op": "remove", "path": "/spec/trafficPolicy/outlierDetection"},
	{"op": "add", "path": "/spec/subsets/0/trafficPolicy", "value": {
		"loadBalancer": {"localityLbSetting": {"failoverPriority": ["topology.istio.io/network"]}},
		"outlierDetection": {"minHealthPercent": 50},
		"tls": {"mode": "DISABLE"},
	}},
	{"op": "add", "path": "/spec/host", "value": "reviews.other.svc.cluster.local"},
])

unsafe_vs := json.patch(istio_test.vs, [
	{"op": "add", "path": "/spec/http/0/retries/perTryTimeout", "value": "3s"},
	{"op": "add", "path": "/spec/http/1/retries", "value": {"attempts": 1, "perTryTimeout": "3s"}},
	{"op": "add", "path": "/spec/http/1/route/1", "value": {"destination": {"host": "reviews.backup"}}},
])

unsafe_gateway := json.patch(istio_test.gateway, [
	{"op": "remove", "path": "/spec/servers/0/tls"},
	{"op": "add", "path": "/spec/servers/0/hosts", "value": ["*.local"]},
])

unsafe_wasm := json.remove(istio_test.wasm, ["/spec/sha256", "/spec/failStrategy"])

unsafe_envoyfilter := json.remove(istio_test.envoyfilter, ["/spec/workloadSelector"])

unsafe_combined := combined_test.combine([
	json.remove(combined_test.dr, ["/spec/trafficPolicy/retryBudget"]),
	json.patch(combined_test.vs, [{"op": "add", "path": "/spec/http/0/route/0/destination/subset", "value": "v9"}]),
])

# rules_hit lists the ids of main's deny_/warn_ results for the input.
rules_hit := {r.rule |
	some name, results in main
	regex.match(`^(deny|warn)_`, name)
	some r in results
}

test_unsafe_intent if {
	rules_hit == {
		"outlier_detection_missing", "max_ejection_too_low", "panic_threshold_on_failover",
		"strict_weights", "residency_violation", "unknown_reference", "cross_namespace",
		"eastwest_without_mtls", "exposure_wildcard", "retries_without_budget",
		"retry_exceeds_timeout", "retry_non_idempotent", "failback_cliff",
		"whatif_overload", "whatif_stranded",
	} with input as unsafe_intent
}

test_single_zone_and_region if {
	rules_hit == {"single_zone", "failback_cliff"} with input as one_zone
	rules_hit == {"single_region", "failback_cliff"} with input as one_region
}

test_warnings if {
	rules_hit == {"retry_last_try_cut", "max_ejection_partial"} with input as cut_retry
	some r in main.warn_retry_last_try_cut with input as cut_retry
	r.severity == "warn"
}

test_unsafe_resources if {
	rules_hit == {
		"outlier_detection_missing", "panic_threshold_on_failover", "max_ejection_unset",
		"eastwest_without_mtls", "cross_namespace",
	} with input as unsafe_dr
	rules_hit == {"retry_exceeds_timeout", "retry_last_try_cut", "retry_non_idempotent", "cross_namespace"} with input as unsafe_vs
	rules_hit == {"eastwest_without_mtls", "exposure_wildcard"} with input as unsafe_gateway
	rules_hit == {"wasm_unpinned", "wasm_fail_closed"} with input as unsafe_wasm
	rules_hit == {"envoyfilter_unscoped"} with input as unsafe_envoyfilter
	rules_hit == {"unknown_subset", "retries_without_budget"} with input as unsafe_combined
	rules_hit == {"max_ejection_too_low"} with input as json.patch(istio_test.dr, [{"op": "add", "path": "/spec/trafficPolicy/outlierDetection/maxEjectionPercent", "value": 0}])
}

test_result_shape if {
	some r in main.deny_wasm_fail_closed with input as unsafe_wasm
	r == {
		"msg": "[wasm_fail_closed] WasmPlugin bookinfo/detour-router: spec.failStrategy: failStrategy FAIL_CLOSE turns a filter fault or a failed module fetch into failed requests; fix: set spec.failStrategy: FAIL_OPEN (failover filters must never break traffic)",
		"rule": "wasm_fail_closed",
		"severity": "deny",
		"path": "spec.failStrategy",
	}
}

test_annotation_exception if {
	doc := json.patch(unsafe_wasm, [{"op": "add", "path": "/metadata/annotations", "value": {"policy.detour.dev/except": "wasm_unpinned, other"}}])
	rules_hit == {"wasm_fail_closed"} with input as doc
}

test_safe_inputs_pass if {
	every doc in [intent_test.safe, istio_test.dr, istio_test.vs, istio_test.gateway, istio_test.wasm, istio_test.envoyfilter] {
		count(rules_hit) == 0 with input as doc
	}
	count(rules_hit) == 0 with input as combined_test.combine([combined_test.dr, combined_test.vs])
}

test_catalog_matches_entry_points if {
	entry := {[parts[0][1], parts[0][2]] |
		some name, _ in main
		parts := regex.find_all_string_submatch_n(`^(deny|warn)_(.+)$`, name, 1)
	}
	entry == {[c.severity, id] | some id, c in catalog.rules}
}
