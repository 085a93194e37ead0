package detour.lib.istio_test

import data.detour.lib.istio

dr := {
	"apiVersion": "networking.istio.io/v1",
	"kind": "DestinationRule",
	"metadata": {"name": "reviews", "namespace": "bookinfo"},
	"spec": {
		"host": "reviews.bookinfo.svc.cluster.local",
		"trafficPolicy": {
			"loadBalancer": {"localityLbSetting": {"enabled": true, "failoverPriority": ["topology.istio.io/network"]}},
			"outlierDetection": {"consecutiveGatewayErrors": 3, "interval": "5s", "baseEjectionTime": "30s", "maxEjectionPercent": 100},
			"tls": {"mode": "ISTIO_MUTUAL"},
		},
		"subsets": [{"name": "v2", "labels": {"version": "v2"}}],
	},
}

vs := {
	"apiVersion": "networking.istio.io/v1",
	"kind": "VirtualService",
	"metadata": {"name": "reviews", "namespace": "bookinfo"},
	"spec": {
		"hosts": ["reviews"],
		"http": [
			{
				"match": [{"method": {"exact": "GET"}}, {"method": {"regex": "^(HEAD|OPTIONS)$"}}],
				"route": [{"destination": {"host": "reviews", "subset": "v2"}}],
				"timeout": "5s",
				"retries": {"attempts": 2, "perTryTimeout": "1s", "retryOn": "connect-failure,gateway-error"},
			},
			{"route": [{"destination": {"host": "reviews"}}], "timeout": "5s"},
		],
	},
}

gateway := {
	"apiVersion": "networking.istio.io/v1",
	"kind": "Gateway",
	"metadata": {"name": "cross-network", "namespace": "istio-system"},
	"spec": {
		"selector": {"istio": "eastwestgateway"},
		"servers": [{"port": {"number": 15443, "name": "tls", "protocol": "TLS"}, "tls": {"mode": "AUTO_PASSTHROUGH"}, "hosts": ["reviews.bookinfo.svc.cluster.local"]}],
	},
}

envoyfilter := {
	"apiVersion": "networking.istio.io/v1alpha3",
	"kind": "EnvoyFilter",
	"metadata": {"name": "previous-priorities", "namespace": "bookinfo"},
	"spec": {"workloadSelector": {"labels": {"istio": "ingressgateway"}}, "configPatches": []},
}

wasm := {
	"apiVersion": "extensions.istio.io/v1alpha1",
	"kind": "WasmPlugin",
	"metadata": {"name": "detour-router", "namespace": "bookinfo"},
	"spec": {
		"url": "oci://ghcr.io/detour-mesh/filters:v1",
		"sha256": "0f4e4c5b7d3d8b1a2c9e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c",
		"failStrategy": "FAIL_OPEN",
		"pluginName": "router",
	},
}

patched(doc, ops) := json.patch(doc, [{"op": "add", "path": p, "value": v} | some [p, v] in ops])

all_rules := [
	"outlier_detection_missing", "panic_threshold_on_failover", "max_ejection_unset",
	"max_ejection_too_low", "eastwest_without_mtls", "cross_namespace", "retry_exceeds_timeout",
	"retry_last_try_cut", "retry_non_idempotent", "exposure_wildcard", "envoyfilter_unscoped",
	"wasm_unpinned", "wasm_fail_closed",
]

test_safe_resources_have_no_findings if {
	every doc in [dr, vs, gateway, envoyfilter, wasm] {
		count({f | some name in all_rules; some f in istio[name]}) == 0 with input as doc
	}
}

test_outlier_detection_missing if {
	doc := json.remove(dr, ["/spec/trafficPolicy/outlierDetection"])
	some f in istio.outlier_detection_missing with input as doc
	f.path == "spec.trafficPolicy.outlierDetection"
	contains(f.msg, "DestinationRule bookinfo/reviews")
}

test_outlier_detection_missing_in_subset if {
	sub := {"name": "v1", "labels": {"version": "v1"}, "trafficPolicy": {"loadBalancer": {"localityLbSetting": {"failover": [{"from": "us-east1", "to": "us-west1"}]}}}}
	doc := patched(json.remove(dr, ["/spec/trafficPolicy"]), [["/spec/subsets/1", sub]])
	some f in istio.outlier_detection_missing with input as doc
	f.path == "spec.subsets[1].trafficPolicy.outlierDetection"
}

test_outlier_detection_locality_disabled_ok if {
	doc := patched(json.remove(dr, ["/spec/trafficPolicy/outlierDetection"]), [["/spec/trafficPolicy/loadBalancer/localityLbSetting/enabled", false]])
	count(istio.outlier_detection_missing) == 0 with input as doc
}

test_panic_threshold_on_failover if {
	doc := patched(dr, [["/spec/trafficPolicy/outlierDetection/minHealthPercent", 50]])
	some f in istio.panic_threshold_on_failover with input as doc
	f.path == "spec.trafficPolicy.outlierDetection.minHealthPercent"
}

# Detour's per-cluster subset at an edge gateway (one host) may panic;
# the same subset with its own locality ladder may not.
test_panic_threshold_one_cluster_subset_ok if {
	doc := json.patch(dr, [{"op": "add", "path": "/spec/subsets/-", "value": {
		"name": "cluster-cluster-1", "labels": {"detour.dev/cluster": "cluster-1"},
		"trafficPolicy": {"outlierDetection": {"consecutiveGatewayErrors": 3, "maxEjectionPercent": 100, "minHealthPercent": 1}},
	}}])
	count(istio.panic_threshold_on_failover) == 0 with input as doc
	ladder := json.patch(doc, [{"op": "add", "path": "/spec/subsets/1/trafficPolicy/loadBalancer", "value": {"localityLbSetting": {"enabled": true}}}])
	some f in istio.panic_threshold_on_failover with input as ladder
	f.path == "spec.subsets[1].trafficPolicy.outlierDetection.minHealthPercent"
	other := json.patch(doc, [{"op": "add", "path": "/spec/subsets/1/labels", "value": {"version": "v1"}}])
	some g in istio.panic_threshold_on_failover with input as other
	g.path == "spec.subsets[1].trafficPolicy.outlierDetection.minHealthPercent"
}

test_max_ejection_unset if {
	doc := json.remove(dr, ["/spec/trafficPolicy/outlierDetection/maxEjectionPercent"])
	some f in istio.max_ejection_unset with input as doc
	contains(f.msg, "10%")
}

test_max_ejection_too_low if {
	doc := patched(dr, [["/spec/trafficPolicy/outlierDetection/maxEjectionPercent", 0]])
	count(istio.max_ejection_too_low) == 1 with input as doc
}

test_dr_tls_disabled if {
	doc := patched(dr, [["/spec/trafficPolicy/tls/mode", "DISABLE"]])
	some f in istio.eastwest_without_mtls with input as doc
	f.path == "spec.trafficPolicy.tls.mode"
}

test_dr_cross_namespace if {
	doc := patched(dr, [["/spec/host", "reviews.other.svc.cluster.local"]])
	some f in istio.cross_namespace with input as doc
	f.path == "spec.host"
}

test_vs_cross_namespace if {
	route := [{"destination": {"host": "reviews"}, "weight": 50}, {"destination": {"host": "reviews.backup"}, "weight": 50}]
	doc := patched(vs, [["/spec/http/1/route", route]])
	some f in istio.cross_namespace with input as doc
	f.path == "spec.http[1].route"
}

test_retry_exceeds_timeout if {
	doc := patched(vs, [["/spec/http/0/retries/perTryTimeout", "3s"]])
	some f in istio.retry_exceeds_timeout with input as doc
	f.path == "spec.http[0].retries"
}

test_retry_last_try_cut if {
	doc := patched(vs, [["/spec/http/0/retries/perTryTimeout", "2s"]])
	some f in istio.retry_last_try_cut with input as doc
	f.path == "spec.http[0].timeout"
	count(istio.retry_exceeds_timeout) == 0 with input as doc
}

# Boundaries as in the intent rules: 5 x 1s within a 5s route timeout is
# no deny but a warn; 4 x 1s (five tries of 1s) fits whole.
test_retry_timeout_boundaries if {
	at_limit := patched(vs, [["/spec/http/0/retries/attempts", 5]])
	count(istio.retry_exceeds_timeout) == 0 with input as at_limit
	count(istio.retry_last_try_cut) == 1 with input as at_limit
	fits := patched(vs, [["/spec/http/0/retries/attempts", 4]])
	count(istio.retry_exceeds_timeout) == 0 with input as fits
	count(istio.retry_last_try_cut) == 0 with input as fits
}

test_retry_non_idempotent_no_method_match if {
	doc := patched(vs, [["/spec/http/1/retries", {"attempts": 2, "perTryTimeout": "1s"}]])
	some f in istio.retry_non_idempotent with input as doc
	f.path == "spec.http[1].retries"

	# Istio's default retryOn includes post-send conditions
	contains(f.msg, "retriable-status-codes")
}

test_retry_non_idempotent_post_match if {
	doc := patched(vs, [["/spec/http/0/match", [{"method": {"exact": "POST"}}]]])
	count(istio.retry_non_idempotent) == 1 with input as doc
}

test_retry_pre_send_only_ok if {
	doc := patched(vs, [["/spec/http/1/retries", {"attempts": 2, "perTryTimeout": "1s", "retryOn": "connect-failure,refused-stream"}]])
	count(istio.retry_non_idempotent) == 0 with input as doc
}

test_gateway_without_mtls if {
	doc := patched(gateway, [["/spec/servers/0/tls/mode", "PASSTHROUGH"]])
	some f in istio.eastwest_without_mtls with input as doc
	f.path == "spec.servers[0].tls.mode"
}

test_gateway_plain_port_15443 if {
	doc := json.remove(gateway, ["/spec/servers/0/tls"])
	some f in istio.eastwest_without_mtls with input as doc
	contains(f.msg, "tls mode none")
}

test_gateway_wildcard if {
	doc := patched(gateway, [["/spec/servers/0/hosts", ["*.local"]]])
	some f in istio.exposure_wildcard with input as doc
	f.path == "spec.servers[0].hosts[0]"
}

test_ingress_gateway_wildcard_ok if {
	# A plain ingress server is not east-west exposure.
	doc := patched(gateway, [["/spec/servers/0", {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "tls": {"mode": "SIMPLE"}, "hosts": ["*"]}]])
	count(istio.exposure_wildcard) == 0 with input as doc
}

test_envoyfilter_unscoped if {
	doc := json.remove(envoyfilter, ["/spec/workloadSelector"])
	some f in istio.envoyfilter_unscoped with input as doc
	f.path == "spec.workloadSelector"
}

test_envoyfilter_target_refs_ok if {
	doc := patched(json.remove(envoyfilter, ["/spec/workloadSelector"]), [["/spec/targetRefs", [{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "edge"}]]])
	count(istio.envoyfilter_unscoped) == 0 with input as doc
}

test_wasm_unpinned if {
	doc := json.remove(wasm, ["/spec/sha256"])
	some f in istio.wasm_unpinned with input as doc
	f.path == "spec.sha256"
}

test_wasm_pinned_by_url_ok if {
	doc := patched(json.remove(wasm, ["/spec/sha256"]), [["/spec/url", "oci://ghcr.io/detour-mesh/filters@sha256:0f4e"]])
	count(istio.wasm_unpinned) == 0 with input as doc
}

test_wasm_fail_closed_by_default if {
	doc := json.remove(wasm, ["/spec/failStrategy"])
	some f in istio.wasm_fail_closed with input as doc
	contains(f.msg, "FAIL_CLOSE")
}

test_wasm_other_api_group_ignored if {
	doc := patched(json.remove(wasm, ["/spec/failStrategy"]), [["/apiVersion", "example.com/v1"]])
	count(istio.wasm_fail_closed) == 0 with input as doc
}

test_outlier_detection_switched_off if {
	doc := patched(dr, [["/spec/trafficPolicy/outlierDetection", {"consecutive5xxErrors": 0, "interval": "5s"}]])
	some f in istio.outlier_detection_missing with input as doc
	contains(f.msg, "every detector")
}

test_outlier_detection_default_5xx_ok if {
	# consecutive5xxErrors unset means Istio's default of 5.
	doc := patched(dr, [["/spec/trafficPolicy/outlierDetection", {"interval": "5s", "maxEjectionPercent": 100}]])
	count(istio.outlier_detection_missing) == 0 with input as doc
}

test_outlier_detection_missing_default_ladder if {
	tp := {"loadBalancer": {"localityLbSetting": {"enabled": true}}}
	doc := patched(dr, [["/spec/trafficPolicy", tp]])
	count(istio.outlier_detection_missing) == 1 with input as doc
}
