# METADATA
# title: Checks over Istio resources
# description: |
#   Input is one Istio resource (DestinationRule, VirtualService, Gateway,
#   EnvoyFilter, WasmPlugin, ...) as `detour compile` writes it or as a team
#   edits it by hand; the rules hold for any Istio YAML, not only Detour's.
#   Rules over several resources at once (a VirtualService and the
#   DestinationRules it needs) are in detour.lib.combined.
package detour.lib.istio

import data.detour.lib.util

kind := object.get(input, "kind", "")

spec := object.get(input, "spec", {})

namespace := object.get(input, ["metadata", "namespace"], "default")

where := sprintf("%s %s/%s", [kind, namespace, object.get(input, ["metadata", "name"], "")])

is_kind(k) if {
	kind == k
	startswith(object.get(input, "apiVersion", ""), "networking.istio.io/")
}

is_wasm_plugin if {
	kind == "WasmPlugin"
	startswith(object.get(input, "apiVersion", ""), "extensions.istio.io/")
}

# --- DestinationRule ------------------------------------------------------------

# traffic_policies are the DestinationRule's policies with their paths: the
# service-level one and each subset's (which overrides it field by field).
traffic_policies contains {"path": "spec.trafficPolicy", "tp": tp, "subset": false} if {
	is_kind("DestinationRule")
	tp := spec.trafficPolicy
}

traffic_policies contains {"path": sprintf("spec.subsets[%d].trafficPolicy", [i]), "tp": s.trafficPolicy, "subset": true} if {
	is_kind("DestinationRule")
	some i, s in object.get(spec, "subsets", [])
	s.trafficPolicy
}

# An explicit `enabled: true` turns on Istio's default locality ladder.
locality_failover(tp) if tp.loadBalancer.localityLbSetting.enabled == true

locality_failover(tp) if {
	lb := tp.loadBalancer.localityLbSetting
	object.get(lb, "enabled", true) != false
	some key in ["failover", "failoverPriority", "distribute"]
	count(object.get(lb, key, [])) > 0
}

# The service-level failover also applies to every subset without its own.
dr_fails_over if {
	some p in traffic_policies
	locality_failover(p.tp)
}

has_outlier(tp) if is_object(tp.outlierDetection)

outlier_detection_missing contains f if {
	some p in traffic_policies
	locality_failover(p.tp)
	not has_outlier(p.tp)
	not has_outlier(object.get(spec, "trafficPolicy", {}))
	f := util.finding(
		where, sprintf("%s.outlierDetection", [p.path]),
		"localityLbSetting fails over only when outlier detection ejects endpoints; without outlierDetection Istio silently does nothing",
		sprintf("add %s.outlierDetection with consecutiveGatewayErrors, interval and baseEjectionTime", [p.path]),
	)
}

# Explicit zeros switch Istio's detectors off (consecutive5xxErrors
# defaults to 5 when unset, the others to off).
detectors_off(od) if {
	object.get(od, "consecutive5xxErrors", 5) == 0
	object.get(od, "consecutiveGatewayErrors", 0) == 0
	object.get(od, "consecutiveLocalOriginFailures", 0) == 0
}

outlier_detection_missing contains f if {
	dr_fails_over
	some p in traffic_policies
	detectors_off(p.tp.outlierDetection)
	f := util.finding(
		where, sprintf("%s.outlierDetection", [p.path]),
		"every detector of outlierDetection is 0, so no endpoint is ever ejected and the locality failover never happens",
		"set consecutiveGatewayErrors (e.g. 3) and consecutive5xxErrors (e.g. 5)",
	)
}

panic_threshold_on_failover contains f if {
	dr_fails_over
	some p in traffic_policies
	not one_cluster_subset(p)
	pct := object.get(p.tp, ["outlierDetection", "minHealthPercent"], 0)
	pct > 0
	f := util.finding(
		where, sprintf("%s.outlierDetection.minHealthPercent", [p.path]),
		sprintf("a panic threshold of %d%% sends traffic to ejected hosts instead of failing over", [pct]),
		"set minHealthPercent: 0 on failover tiers",
	)
}

# A subset pinned to one cluster by Detour's cluster label (the filters'
# target at an edge gateway, one east-west gateway host) has nothing to fail
# over to inside it: the filters move its traffic, and a panic threshold
# only keeps Envoy from answering "no healthy upstream" once its one host is
# ejected (docs/intent.md, the detection defaults after a total outage).
one_cluster_subset(p) if {
	p.subset
	some i, s in object.get(spec, "subsets", [])
	sprintf("spec.subsets[%d].trafficPolicy", [i]) == p.path
	s.labels["detour.dev/cluster"]
	not s.trafficPolicy.loadBalancer
}

max_ejection_unset contains f if {
	dr_fails_over
	some p in traffic_policies
	has_outlier(p.tp)
	not p.tp.outlierDetection.maxEjectionPercent
	f := util.finding(
		where, sprintf("%s.outlierDetection.maxEjectionPercent", [p.path]),
		"Istio's default of 10% ejects nothing in a pool of fewer than 10 hosts, so small tiers never fail over",
		"set maxEjectionPercent: 100",
	)
}

max_ejection_too_low contains f if {
	dr_fails_over
	some p in traffic_policies
	pct := p.tp.outlierDetection.maxEjectionPercent
	pct == 0
	f := util.finding(
		where, sprintf("%s.outlierDetection.maxEjectionPercent", [p.path]),
		"maxEjectionPercent 0 never ejects a host, so nothing fails over",
		"set maxEjectionPercent: 100",
	)
}

eastwest_without_mtls contains f if {
	dr_fails_over
	some p in traffic_policies
	mode := object.get(p.tp, ["tls", "mode"], "ISTIO_MUTUAL")
	not mode in {"ISTIO_MUTUAL", "MUTUAL"}
	f := util.finding(
		where, sprintf("%s.tls.mode", [p.path]),
		sprintf("tls mode %s sends failed-over traffic across networks without mutual TLS", [mode]),
		sprintf("set %s.tls.mode: ISTIO_MUTUAL (or drop tls to keep the mesh default)", [p.path]),
	)
}

cross_namespace contains f if {
	dr_fails_over
	host := object.get(spec, "host", "")
	ns := util.service_namespace(host, namespace)
	ns != namespace
	f := util.finding(
		where, "spec.host",
		sprintf("failover for host %s (namespace %s) is configured from namespace %s: failover never crosses namespaces", [host, ns, namespace]),
		"move the DestinationRule into the service's namespace",
	)
}

# --- VirtualService -------------------------------------------------------------

http_routes contains {"path": sprintf("spec.http[%d]", [i]), "route": r} if {
	is_kind("VirtualService")
	some i, r in object.get(spec, "http", [])
}

cross_namespace contains f if {
	some hr in http_routes
	namespaces := {util.service_namespace(d.destination.host, namespace) | some d in object.get(hr.route, "route", [])}
	count(namespaces) > 1
	f := util.finding(
		where, sprintf("%s.route", [hr.path]),
		sprintf("one route sends traffic to services in namespaces %s: failover never crosses namespaces", [concat(", ", sort(namespaces))]),
		"route to one service; fail over between its clusters with a DestinationRule",
	)
}

retry_attempts(r) := object.get(r, ["retries", "attempts"], 0)

retry_per_try_ns(r) := util.duration_ns(object.get(r, ["retries", "perTryTimeout"], ""))

route_timeout_ns(r) := util.duration_ns(object.get(r, "timeout", ""))

retry_exceeds_timeout contains f if {
	some hr in http_routes
	n := retry_attempts(hr.route)
	n > 0
	route_timeout_ns(hr.route) > 0
	n * retry_per_try_ns(hr.route) > route_timeout_ns(hr.route)
	f := util.finding(
		where, sprintf("%s.retries", [hr.path]),
		sprintf("attempts (%d) x perTryTimeout (%s) exceeds the route timeout (%s), so the last retries never run", [n, hr.route.retries.perTryTimeout, hr.route.timeout]),
		"lower attempts or perTryTimeout, or raise the route timeout",
	)
}

retry_last_try_cut contains f if {
	some hr in http_routes
	n := retry_attempts(hr.route)
	n > 0
	route_timeout_ns(hr.route) > 0
	n * retry_per_try_ns(hr.route) <= route_timeout_ns(hr.route)
	(n + 1) * retry_per_try_ns(hr.route) > route_timeout_ns(hr.route)
	f := util.finding(
		where, sprintf("%s.timeout", [hr.path]),
		sprintf("the first try plus %d retries of %s each need more than the route timeout (%s)", [n, hr.route.retries.perTryTimeout, hr.route.timeout]),
		"raise the route timeout to at least (attempts + 1) x perTryTimeout",
	)
}

# Conditions under which the upstream never saw the request; retrying them
# is safe for any method. Istio's default retryOn includes post-send ones.
pre_send_conditions := {"connect-failure", "refused-stream", "reset-before-request", "envoy-ratelimited"}

default_retry_on := "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"

post_send_retry_on(r) := {c |
	some c in split(object.get(r, ["retries", "retryOn"], default_retry_on), ",")
	not trim_space(c) in pre_send_conditions
}

# A route is limited to idempotent methods when every match pins the method
# to one of them (exact, or a regex alternation of plain names).
route_methods(m) := {upper(m.method.exact)} if m.method.exact

route_methods(m) := {upper(trim(x, "^$()")) | some x in split(m.method.regex, "|")} if m.method.regex

idempotent_only(route) if {
	matches := object.get(route, "match", [])
	count(matches) > 0
	every m in matches {
		methods := route_methods(m)
		count(methods) > 0
		every x in methods {
			x in util.idempotent_methods
		}
	}
}

retry_non_idempotent contains f if {
	some hr in http_routes
	retry_attempts(hr.route) > 0
	unsafe := post_send_retry_on(hr.route)
	count(unsafe) > 0
	not idempotent_only(hr.route)
	f := util.finding(
		where, sprintf("%s.retries", [hr.path]),
		sprintf("retries on %s apply to every method, so a POST that reached the upstream can run twice", [concat(",", sort(unsafe))]),
		"add a match on idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) to this route, or retry only on connect-failure,refused-stream,reset-before-request",
	)
}

# --- Gateway (east-west) --------------------------------------------------------

# East-west servers are the ones cross-network traffic enters: Istio's
# AUTO_PASSTHROUGH port 15443 or a server in that TLS mode.
eastwest_servers contains {"path": sprintf("spec.servers[%d]", [i]), "server": s} if {
	is_kind("Gateway")
	some i, s in object.get(spec, "servers", [])
	eastwest_server(s)
}

eastwest_server(s) if s.port.number == 15443

eastwest_server(s) if s.tls.mode == "AUTO_PASSTHROUGH"

eastwest_without_mtls contains f if {
	some es in eastwest_servers
	mode := object.get(es.server, ["tls", "mode"], "none")
	not mode in {"AUTO_PASSTHROUGH", "ISTIO_MUTUAL"}
	f := util.finding(
		where, sprintf("%s.tls.mode", [es.path]),
		sprintf("east-west server with tls mode %s accepts cross-network traffic without mesh mTLS", [mode]),
		"set tls.mode: AUTO_PASSTHROUGH (or ISTIO_MUTUAL)",
	)
}

exposure_wildcard contains f if {
	some es in eastwest_servers
	some j, h in object.get(es.server, "hosts", [])
	wildcard_host(h)
	f := util.finding(
		where, sprintf("%s.hosts[%d]", [es.path, j]),
		sprintf("host %q exports every matching service of the cluster to other networks", [h]),
		"list the exported services' hosts (namespace/name.namespace.svc.cluster.local)",
	)
}

wildcard_host(h) if contains(h, "*")

# --- EnvoyFilter ----------------------------------------------------------------

envoyfilter_unscoped contains f if {
	is_kind("EnvoyFilter")
	not spec.workloadSelector
	count(object.get(spec, "targetRefs", [])) == 0
	f := util.finding(
		where, "spec.workloadSelector",
		"without workloadSelector the patches apply to every proxy in the namespace (every proxy of the mesh in the root namespace)",
		"add spec.workloadSelector.labels selecting the gateway it is meant for",
	)
}

# --- WasmPlugin -----------------------------------------------------------------

wasm_unpinned contains f if {
	is_wasm_plugin
	object.get(spec, "sha256", "") == ""
	url := object.get(spec, "url", "")
	not contains(url, "@sha256:")
	f := util.finding(
		where, "spec.sha256",
		sprintf("module %s is not pinned: a re-pushed tag changes the code every gateway runs", [url]),
		"set spec.sha256 to the digest of the pushed image (detour compile --wasm-sha256), or use url oci://...@sha256:<digest>",
	)
}

wasm_fail_closed contains f if {
	is_wasm_plugin
	strategy := object.get(spec, "failStrategy", "FAIL_CLOSE")
	strategy != "FAIL_OPEN"
	f := util.finding(
		where, "spec.failStrategy",
		sprintf("failStrategy %s turns a filter fault or a failed module fetch into failed requests", [strategy]),
		"set spec.failStrategy: FAIL_OPEN (failover filters must never break traffic)",
	)
}
