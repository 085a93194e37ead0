package detour.lib.intent_test

import data.detour.lib.intent

# safe is a normalised intent with its explain status that no rule flags.
safe := {
	"apiVersion": "detour.dev/v1alpha1",
	"kind": "FailoverIntent",
	"metadata": {"name": "reviews", "namespace": "bookinfo"},
	"spec": {
		"service": {"host": "reviews", "port": 9080, "protocol": "HTTP", "clusterDomain": "cluster.local"},
		"entry": {"kind": "eastWest"},
		"clusters": [
			{"name": "east", "region": "us-east1", "zone": "us-east1-b", "network": "net-east", "eastWestGateway": {"address": "10.0.0.10", "port": 15443}, "capacity": 800, "load": 300, "endpoints": 3},
			{"name": "west", "region": "us-west1", "zone": "us-west1-a", "network": "net-west", "eastWestGateway": {"address": "10.0.1.10", "port": 15443}, "capacity": 800, "load": 300, "endpoints": 3},
			{"name": "eu", "region": "eu-west1", "zone": "eu-west1-b", "network": "net-eu", "eastWestGateway": {"address": "10.0.2.10", "port": 15443}, "capacity": 800, "load": 300, "endpoints": 3},
		],
		"failover": {"mode": "auto", "rules": [{"from": {"region": "eu-west1"}, "none": true}]},
		"exposure": {"mtls": "ISTIO_MUTUAL"},
		"detection": {
			"consecutive5xx": 5, "consecutiveGatewayErrors": 3, "consecutiveLocalOriginFailures": 3,
			"splitLocalOrigin": true, "interval": "5s", "baseEjectionTime": "30s",
			"maxEjectionPercent": 100, "minHealthPercent": 0, "alwaysEjectOne": true,
		},
		"retries": {
			"attempts": 2, "perTryTimeout": "1s", "timeout": "5s",
			"retryOn": ["connect-failure", "gateway-error"], "retryRemoteLocalities": true,
			"methods": ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"],
			"backoff": {"base": "25ms", "max": "250ms"},
			"budget": {"percent": 20, "minConcurrency": 3},
		},
		"failback": {"holdDown": "60s", "minHealthyShare": 50, "ramp": [10, 50, 100], "stepInterval": "30s"},
		"plugins": {"enabled": true},
	},
	"status": {
		"ladders": [
			{"from": "east", "tiers": [{"priority": 0, "clusters": [{"cluster": "east", "percent": 100}]}, {"priority": 1, "clusters": [{"cluster": "west", "percent": 100}]}]},
			{"from": "eu", "tiers": [{"priority": 0, "clusters": [{"cluster": "eu", "percent": 100}]}]},
		],
		"whatIf": [{
			"lost": {"kind": "cluster", "name": "east"},
			"moves": [{"from": "east", "to": "west", "percent": 100, "rps": 300}],
			"absorbed": true, "overloaded": [], "stranded": [],
		}],
	},
}

# patched applies JSON-patch "add" operations (add replaces existing members).
patched(ops) := json.patch(safe, [{"op": "add", "path": p, "value": v} | some [p, v] in ops])

test_safe_intent_has_no_findings if {
	findings := {[name, f] |
		some name in [
			"outlier_detection_missing", "strict_weights", "single_zone", "single_region",
			"residency_violation", "cross_namespace", "eastwest_without_mtls", "exposure_wildcard",
			"retries_without_budget", "retry_exceeds_timeout", "retry_last_try_cut",
			"retry_non_idempotent", "max_ejection_too_low", "max_ejection_partial",
			"panic_threshold_on_failover", "failback_cliff", "whatif_overload",
			"whatif_stranded", "unknown_reference",
			"latency_budget_below_cross_region", "latency_window_too_short",
		]
		some f in intent[name]
	} with input as safe
	count(findings) == 0
}

test_not_an_intent if {
	count(intent.strict_weights) == 0 with input as object.union(patched([["/spec/failover/mode", "weighted"]]), {"kind": "Other"})
}

test_outlier_detection_missing if {
	doc := patched([["/spec/detection/consecutive5xx", 0], ["/spec/detection/consecutiveGatewayErrors", 0], ["/spec/detection/consecutiveLocalOriginFailures", 0]])
	some f in intent.outlier_detection_missing with input as doc
	f.path == "spec.detection"
	contains(f.msg, "silently does nothing")
}

test_outlier_detection_failure_percentage_counts if {
	doc := patched([
		["/spec/detection/consecutive5xx", 0], ["/spec/detection/consecutiveGatewayErrors", 0],
		["/spec/detection/consecutiveLocalOriginFailures", 0],
		["/spec/detection/failurePercentage", {"threshold": 50, "minimumHosts": 1, "requestVolume": 20}],
	])
	count(intent.outlier_detection_missing) == 0 with input as doc
}

test_strict_weights if {
	doc := patched([["/spec/failover/mode", "weighted"]])
	some f in intent.strict_weights with input as doc
	f.path == "spec.failover.healthAware"
}

test_strict_weights_health_aware_ok if {
	doc := patched([["/spec/failover/mode", "weighted"], ["/spec/failover/healthAware", true]])
	count(intent.strict_weights) == 0 with input as doc
}

one_zone_clusters := [
	{"name": "a", "region": "r1", "zone": "z1", "network": "n1"},
	{"name": "b", "region": "r1", "zone": "z1", "network": "n2"},
]

test_single_zone if {
	doc := patched([["/spec/clusters", one_zone_clusters], ["/status", {}], ["/spec/failover/rules", []]])
	some f in intent.single_zone with input as doc
	contains(f.msg, "z1")
	count(intent.single_region) == 0 with input as doc
}

test_single_region if {
	doc := patched([["/spec/clusters/1/zone", "z2"], ["/spec/clusters", one_zone_clusters], ["/status", {}], ["/spec/failover/rules", []]])
	clusters := [one_zone_clusters[0], object.union(one_zone_clusters[1], {"zone": "z2"})]
	doc2 := json.patch(doc, [{"op": "add", "path": "/spec/clusters", "value": clusters}])
	some f in intent.single_region with input as doc2
	contains(f.msg, "r1")
	count(intent.single_zone) == 0 with input as doc2
}

test_residency_violation_in_ladder if {
	# The eu ladder reaching west breaks rule 0 (eu: none).
	ladder := {"from": "eu", "tiers": [{"priority": 0, "clusters": [{"cluster": "eu", "percent": 100}]}, {"priority": 1, "clusters": [{"cluster": "west", "percent": 100}]}]}
	doc := patched([["/status/ladders/1", ladder]])
	some f in intent.residency_violation with input as doc
	f.path == "status.ladders[1].tiers[1].clusters[0]"
}

test_residency_only_and_any_except if {
	rules := [
		{"from": {"cluster": "east"}, "only": [{"region": "eu-west1"}]},
		{"from": {"cluster": "east"}, "anyExcept": [{"zone": "us-west1-a"}]},
	]
	doc := patched([["/spec/failover/rules", rules]])
	paths := {[f.path, f.msg] | some f in intent.residency_violation} with input as doc

	# both rules forbid east -> west, once in the ladder and once in the what-if move
	count(paths) == 4
}

test_residency_allowed_move if {
	rules := [{"from": {"cluster": "east"}, "only": [{"region": "us-west1"}]}]
	doc := patched([["/spec/failover/rules", rules]])
	count(intent.residency_violation) == 0 with input as doc
}

test_cross_namespace if {
	some f in intent.cross_namespace with input as patched([["/spec/service/host", "reviews.other.svc.cluster.local"]])
	contains(f.msg, `"other"`)
}

test_cross_namespace_same_ns_ok if {
	count(intent.cross_namespace) == 0 with input as patched([["/spec/service/host", "reviews.bookinfo"]])
	count(intent.cross_namespace) == 0 with input as patched([["/spec/service/host", "api.example.com"]])
}

test_eastwest_without_mtls if {
	some f in intent.eastwest_without_mtls with input as patched([["/spec/exposure/mtls", "DISABLE"]])
	f.path == "spec.exposure.mtls"
}

test_exposure_wildcard_empty if {
	some f in intent.exposure_wildcard with input as patched([["/spec/exposure/selector", {}]])
	f.path == "spec.exposure.selector"
}

test_exposure_wildcard_any_selector if {
	some f in intent.exposure_wildcard with input as patched([["/spec/exposure/selector", {"app": "reviews"}]])
	f.path == "spec.exposure.selector"
	count(intent.exposure_wildcard) == 0 with input as safe
}

test_retries_without_budget if {
	doc := json.patch(safe, [{"op": "replace", "path": "/spec/retries/budget", "value": null}])
	some f in intent.retries_without_budget with input as doc
	f.path == "spec.retries.budget"
	count(intent.retries_without_budget) == 1 with input as patched([["/spec/retries/budget/percent", 0]])
}

test_retries_budget_defaulted_when_left_out if {
	count(intent.retries_without_budget) == 0 with input as json.remove(safe, ["/spec/retries/budget"])
}

test_retries_without_budget_no_retries_ok if {
	doc := json.patch(safe, [{"op": "replace", "path": "/spec/retries/budget", "value": null}, {"op": "replace", "path": "/spec/retries/attempts", "value": 0}])
	count(intent.retries_without_budget) == 0 with input as doc
}

test_retry_exceeds_timeout if {
	doc := patched([["/spec/retries/attempts", 3], ["/spec/retries/perTryTimeout", "2s"], ["/spec/retries/timeout", "5s"]])
	some f in intent.retry_exceeds_timeout with input as doc
	contains(f.msg, "attempts (3) x perTryTimeout (2s)")
	count(intent.retry_last_try_cut) == 0 with input as doc
}

test_retry_last_try_cut if {
	doc := patched([["/spec/retries/attempts", 2], ["/spec/retries/perTryTimeout", "2s"], ["/spec/retries/timeout", "5s"]])
	some f in intent.retry_last_try_cut with input as doc
	f.path == "spec.retries.timeout"
	count(intent.retry_exceeds_timeout) == 0 with input as doc
}

# Boundaries: attempts x perTryTimeout equal to the timeout still fits (no
# deny, but the first try cuts the last retry: warn); (attempts + 1) x
# perTryTimeout equal to the timeout fits whole (neither).
test_retry_timeout_boundaries if {
	at_limit := patched([["/spec/retries/attempts", 5], ["/spec/retries/perTryTimeout", "1s"], ["/spec/retries/timeout", "5s"]])
	count(intent.retry_exceeds_timeout) == 0 with input as at_limit
	count(intent.retry_last_try_cut) == 1 with input as at_limit
	fits := patched([["/spec/retries/attempts", 4], ["/spec/retries/perTryTimeout", "1s"], ["/spec/retries/timeout", "5s"]])
	count(intent.retry_exceeds_timeout) == 0 with input as fits
	count(intent.retry_last_try_cut) == 0 with input as fits
}

test_retry_non_idempotent if {
	doc := patched([["/spec/retries/methods", ["GET", "post"]]])
	some f in intent.retry_non_idempotent with input as doc
	f.path == "spec.retries.methods[1]"
}

test_retry_non_idempotent_grpc_opt_in if {
	doc := patched([["/spec/service/protocol", "GRPC"], ["/spec/retries/nonIdempotent", true]])
	some f in intent.retry_non_idempotent with input as doc
	f.path == "spec.retries.nonIdempotent"
}

test_retry_non_idempotent_grpc_without_opt_in_ok if {
	doc := patched([["/spec/service/protocol", "GRPC"], ["/spec/retries/nonIdempotent", false]])
	count(intent.retry_non_idempotent) == 0 with input as doc
}

test_retry_non_idempotent_without_retries_ok if {
	doc := patched([["/spec/retries/methods", ["POST"]], ["/spec/retries/attempts", 0]])
	count(intent.retry_non_idempotent) == 0 with input as doc
}

test_max_ejection_too_low if {
	# 3 local endpoints + 2 remote gateways = 5 hosts; 10% of 5 ejects none.
	doc := patched([["/spec/detection/maxEjectionPercent", 10], ["/spec/detection/alwaysEjectOne", false]])
	some f in intent.max_ejection_too_low with input as doc
	contains(f.msg, "5 hosts")
}

test_max_ejection_always_eject_one_rescues if {
	doc := patched([["/spec/detection/maxEjectionPercent", 10]])
	count(intent.max_ejection_too_low) == 0 with input as doc
	count(intent.max_ejection_partial) == 3 with input as doc
}

test_max_ejection_same_network_pool if {
	# On one network the remote pods join the pool directly: 3 + 3 + 3 hosts.
	doc := patched([
		["/spec/clusters/1/network", "net-east"], ["/spec/clusters/2/network", "net-east"],
		["/spec/detection/maxEjectionPercent", 20], ["/spec/detection/alwaysEjectOne", false],
	])
	count(intent.max_ejection_too_low) == 0 with input as doc
	some f in intent.max_ejection_partial with input as doc
	contains(f.msg, "at most 1 of its 9-host pool")
}

test_max_ejection_partial_ok_at_100 if {
	count(intent.max_ejection_partial) == 0 with input as safe
}

test_panic_threshold_on_failover if {
	some f in intent.panic_threshold_on_failover with input as patched([["/spec/detection/minHealthPercent", 50]])
	contains(f.msg, "50%")
}

test_failback_cliff_hold_down if {
	some f in intent.failback_cliff with input as patched([["/spec/failback/holdDown", "0s"]])
	f.path == "spec.failback.holdDown"
}

test_failback_cliff_ramp if {
	some f in intent.failback_cliff with input as patched([["/spec/failback/ramp", [100]]])
	f.path == "spec.failback.ramp"
}

test_whatif_overload if {
	w := {"lost": {"kind": "region", "name": "us-east1"}, "moves": [], "absorbed": false, "overloaded": ["west"], "stranded": []}
	some f in intent.whatif_overload with input as patched([["/status/whatIf/0", w]])
	f.path == "status.whatIf[0]"
	contains(f.msg, "overloads west")
}

test_whatif_not_absorbed_without_capacity_data if {
	w := {"lost": {"kind": "cluster", "name": "east"}, "moves": [], "absorbed": false, "overloaded": [], "stranded": []}
	count(intent.whatif_overload) == 0 with input as patched([["/status/whatIf/0", w]])
}

test_whatif_stranded if {
	w := {"lost": {"kind": "cluster", "name": "eu"}, "moves": [], "absorbed": false, "overloaded": [], "stranded": ["eu"]}
	some f in intent.whatif_stranded with input as patched([["/status/whatIf/0", w]])
	contains(f.msg, "traffic of eu")
}

test_unknown_reference if {
	doc := patched([
		["/spec/failover/order", ["east", "sotuh"]],
		["/spec/failover/rules/0/from", {"region": "eu-west9"}],
		["/spec/failover/rules/0/only", [{"zone": "nowhere"}]],
		["/status/ladders/0/tiers/1/clusters/0/cluster", "ghost"],
	])
	paths := {f.path | some f in intent.unknown_reference} with input as doc
	paths == {"spec.failover.order[1]", "spec.failover.rules[0].from", "spec.failover.rules[0].only[0]", "status.ladders[0].tiers[1].clusters[0]"}
}

test_single_zone_same_name_other_region if {
	# Zone "z1" of region r2 is another zone than "z1" of r1.
	clusters := [intent_test_zone("r1"), intent_test_zone("r2")]
	doc := patched([["/spec/clusters", clusters], ["/status", {}], ["/spec/failover/rules", []]])
	count(intent.single_zone) == 0 with input as doc
	count(intent.single_region) == 0 with input as doc
}

intent_test_zone(region) := {"name": region, "region": region, "zone": "z1", "network": region}

test_retry_timeout_defaults if {
	# A hand-written intent that omits perTryTimeout and timeout gets 1s and 5s.
	doc := json.patch(safe, [
		{"op": "remove", "path": "/spec/retries/perTryTimeout"},
		{"op": "remove", "path": "/spec/retries/timeout"},
		{"op": "replace", "path": "/spec/retries/attempts", "value": 6},
	])
	some f in intent.retry_exceeds_timeout with input as doc
	contains(f.msg, "attempts (6) x perTryTimeout (1s) exceeds the route timeout (5s)")
}

test_latency_safe if {
	count(intent.latency_budget_below_cross_region) == 0 with input as patched([["/spec/detection/latency", {"p99": "300ms", "window": "10s", "minRequests": 20, "crossRegion": "40ms"}]])
	count(intent.latency_window_too_short) == 0 with input as patched([["/spec/detection/latency", {"p99": "300ms", "window": "10s", "minRequests": 20, "crossRegion": "40ms"}]])

	# Unknown cross-region latency: nothing to compare.
	count(intent.latency_budget_below_cross_region) == 0 with input as patched([["/spec/detection/latency", {"p99": "30ms"}]])
}

test_latency_budget_below_cross_region if {
	some f in intent.latency_budget_below_cross_region with input as patched([["/spec/detection/latency", {"p99": "40ms", "crossRegion": "40ms"}]])
	f.path == "spec.detection.latency.p99"
	contains(f.msg, "(40ms) is not above the cross-region latency (40ms)")
	count(intent.latency_budget_below_cross_region) == 0 with input as patched([["/spec/detection/latency", {"p99": "41ms", "crossRegion": "40ms"}]])
}

test_latency_window_too_short if {
	# 300 rps x 3/4 x 100ms = 22.5 answers: enough for 20, not for 23.
	count(intent.latency_window_too_short) == 0 with input as patched([["/spec/detection/latency", {"p99": "50ms", "window": "100ms", "minRequests": 20}]])
	fs := intent.latency_window_too_short with input as patched([["/spec/detection/latency", {"p99": "50ms", "window": "100ms", "minRequests": 23}]])
	count(fs) == 3
	some f in fs
	f.path == "spec.clusters[0].load"
	contains(f.msg, "holds about 22 answers, under minRequests (23)")
}
