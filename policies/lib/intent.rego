# METADATA
# title: Checks over a normalised failover intent
# description: |
#   Input is a FailoverIntent as `detour compile` writes it next to the Istio
#   resources: the normalised intent (every default filled in) with `status`
#   holding the explain analysis (ladders and what-if losses). Each rule is a
#   partial set of findings named by its stable id; package main decides the
#   severity. Defaults passed to object.get mirror docs/intent.md so a
#   hand-written intent that omits a field is judged by the value it gets.
package detour.lib.intent

import data.detour.lib.util

is_intent if {
	input.apiVersion == "detour.dev/v1alpha1"
	input.kind == "FailoverIntent"
}

where := sprintf("FailoverIntent %s/%s", [
	object.get(input, ["metadata", "namespace"], ""),
	object.get(input, ["metadata", "name"], ""),
])

spec := object.get(input, "spec", {})

clusters := object.get(spec, "clusters", [])

cluster_by_name := {c.name: c | some c in clusters}

regions := {object.get(c, "region", "") | some c in clusters}

zones := {object.get(c, "zone", "") | some c in clusters}

# Zone names may repeat across regions ("a", "b"): a zone is region/zone.
region_zones := {sprintf("%s/%s", [object.get(c, "region", ""), object.get(c, "zone", "")]) | some c in clusters}

failover := object.get(spec, "failover", {})

detection := object.get(spec, "detection", {})

retries := object.get(spec, "retries", {})

failback := object.get(spec, "failback", {})

exposure := object.get(spec, "exposure", {})

status := object.get(input, "status", {})

# Every mode but a single cluster fails over somewhere.
fails_over if count(clusters) >= 2

# --- outlier_detection_missing ------------------------------------------------

outlier_detection_missing contains f if {
	is_intent
	fails_over
	object.get(detection, "consecutive5xx", 5) == 0
	object.get(detection, "consecutiveGatewayErrors", 3) == 0
	object.get(detection, "consecutiveLocalOriginFailures", 3) == 0
	object.get(detection, "failurePercentage", null) == null
	f := util.finding(
		where, "spec.detection",
		"every outlier detector is 0, so no endpoint is ever ejected and Istio's locality failover silently does nothing",
		"set spec.detection.consecutiveGatewayErrors (e.g. 3) and consecutive5xx (e.g. 5)",
	)
}

# --- strict_weights ------------------------------------------------------------

strict_weights contains f if {
	is_intent
	object.get(failover, "mode", "auto") == "weighted"
	not object.get(failover, "healthAware", false)
	f := util.finding(
		where, "spec.failover.healthAware",
		"mode weighted with strict weights keeps sending a failed cluster its share, so nothing fails over",
		"set spec.failover.healthAware: true, or except rule strict_weights for a deliberate canary split",
	)
}

# --- single_zone / single_region ----------------------------------------------

single_zone contains f if {
	is_intent
	fails_over
	count(region_zones) == 1
	some z in region_zones
	f := util.finding(
		where, "spec.clusters",
		sprintf("every cluster is in zone %q, so a zone outage leaves no failover target", [z]),
		"add a cluster in another zone (better: another region)",
	)
}

single_region contains f if {
	is_intent
	fails_over
	count(region_zones) > 1
	count(regions) == 1
	some r in regions
	f := util.finding(
		where, "spec.clusters",
		sprintf("every cluster is in region %q, so a region outage leaves no failover target", [r]),
		"add a cluster in another region, or except rule single_region if residency keeps the service in one region",
	)
}

# --- residency_violation --------------------------------------------------------

# edges are the moves of traffic the analysis predicts: ladder tiers and
# what-if moves, each with the field path that shows it.
edges contains {"from": l.from, "to": c.cluster, "path": sprintf("status.ladders[%d].tiers[%d].clusters[%d]", [i, j, k])} if {
	some i, l in object.get(status, "ladders", [])
	some j, t in l.tiers
	some k, c in t.clusters
	c.cluster != l.from
}

edges contains {"from": m.from, "to": m.to, "path": sprintf("status.whatIf[%d].moves[%d]", [i, j])} if {
	some i, w in object.get(status, "whatIf", [])
	some j, m in object.get(w, "moves", [])
	m.from != m.to
}

forbids(rule, _) if object.get(rule, "none", false) == true

forbids(rule, to) if {
	only := object.get(rule, "only", [])
	count(only) > 0
	not matches_any(only, to)
}

forbids(rule, to) if matches_any(object.get(rule, "anyExcept", []), to)

matches_any(locs, c) if {
	some l in locs
	util.matches_locality(l, c)
}

residency_violation contains f if {
	is_intent
	some e in edges
	from := cluster_by_name[e.from]
	to := cluster_by_name[e.to]
	some i, rule in object.get(failover, "rules", [])
	util.matches_locality(object.get(rule, "from", {}), from)
	forbids(rule, to)
	f := util.finding(
		where, e.path,
		sprintf("traffic of cluster %s may fail over to %s (region %s), which spec.failover.rules[%d] forbids", [e.from, e.to, object.get(to, "region", ""), i]),
		"recompile with `detour compile` (the ladder must honour the rule) or correct the rule if the move is allowed",
	)
}

# --- cross_namespace ------------------------------------------------------------

cross_namespace contains f if {
	is_intent
	host := object.get(spec, ["service", "host"], "")
	own := object.get(input, ["metadata", "namespace"], "")
	ns := util.service_namespace(host, own)
	ns != own
	f := util.finding(
		where, "spec.service.host",
		sprintf("host %q is in namespace %q, not the intent's %q: failover never crosses namespaces", [host, ns, own]),
		"write one intent per namespace and give spec.service.host as the short service name",
	)
}

# --- eastwest_without_mtls / exposure_wildcard ----------------------------------

eastwest_without_mtls contains f if {
	is_intent
	mtls := object.get(exposure, "mtls", "ISTIO_MUTUAL")
	mtls != "ISTIO_MUTUAL"
	f := util.finding(
		where, "spec.exposure.mtls",
		sprintf("east-west traffic with mtls %q crosses networks unauthenticated", [mtls]),
		"set spec.exposure.mtls: ISTIO_MUTUAL",
	)
}

# An intent exports exactly its own service (the compiled Gateway lists its
# host); a label selector, which Istio's Gateway cannot enforce, claims an
# export rule nothing keeps. The schema rejects it; this catches documents
# that skipped detour vet.
exposure_wildcard contains f if {
	is_intent
	"selector" in object.keys(exposure)
	f := util.finding(
		where, "spec.exposure.selector",
		"a label selector is not enforced: Istio's east-west Gateway exports services by host name, never by label",
		"remove spec.exposure.selector: the east-west gateways export exactly the intent's service",
	)
}

# --- retries --------------------------------------------------------------------

attempts := object.get(retries, "attempts", 2)

per_try := object.get(retries, "perTryTimeout", "1s")

timeout := object.get(retries, "timeout", "5s")

per_try_ns := util.duration_ns(per_try)

timeout_ns := util.duration_ns(timeout)

# An intent as written may leave the budget out: it then gets the default
# (20 %, docs/intent.md), so only an explicit null or a zero share is none.
budget := object.get(retries, "budget", {"percent": 20, "minConcurrency": 3})

no_budget if budget == null

no_budget if object.get(budget, "percent", 0) <= 0

retries_without_budget contains f if {
	is_intent
	attempts > 0
	no_budget
	f := util.finding(
		where, "spec.retries.budget",
		sprintf("%d retries per request without a budget multiply load on a failing cluster (retry storm)", [attempts]),
		"set spec.retries.budget: {percent: 20, minConcurrency: 3}",
	)
}

retry_exceeds_timeout contains f if {
	is_intent
	attempts > 0
	timeout_ns > 0
	attempts * per_try_ns > timeout_ns
	f := util.finding(
		where, "spec.retries",
		sprintf("attempts (%d) x perTryTimeout (%s) exceeds the route timeout (%s), so the last retries never run", [attempts, per_try, timeout]),
		"lower attempts or perTryTimeout, or raise spec.retries.timeout",
	)
}

# The first try counts against the route timeout too (Istio's attempts are
# retries), so a budget that fits attempts x perTryTimeout may still cut the
# last retry short.
retry_last_try_cut contains f if {
	is_intent
	attempts > 0
	timeout_ns > 0
	attempts * per_try_ns <= timeout_ns
	(attempts + 1) * per_try_ns > timeout_ns
	f := util.finding(
		where, "spec.retries.timeout",
		sprintf("the first try plus %d retries of %s each need more than the route timeout (%s)", [attempts, per_try, timeout]),
		"raise spec.retries.timeout to at least (attempts + 1) x perTryTimeout",
	)
}

retry_non_idempotent contains f if {
	is_intent
	attempts > 0
	some i, m in object.get(retries, "methods", [])
	not upper(m) in util.idempotent_methods
	f := util.finding(
		where, sprintf("spec.retries.methods[%d]", [i]),
		sprintf("%s is not idempotent: a retry after the upstream saw the request can apply it twice", [m]),
		sprintf("remove %s from spec.retries.methods, or keep it with spec.retries.nonIdempotent: true and record the review (annotation policy.detour.dev/except: retry_non_idempotent, with policy.detour.dev/except-reason)", [m]),
	)
}

# Every gRPC call is a POST: the opt-in retries calls that may not be safe
# to repeat, which a team accepts by a reviewed exception.
retry_non_idempotent contains f if {
	is_intent
	attempts > 0
	object.get(retries, "nonIdempotent", false) == true
	object.get(object.get(spec, "service", {}), "protocol", "HTTP") == "GRPC"
	f := util.finding(
		where, "spec.retries.nonIdempotent",
		"every gRPC call is a POST: retrying them can apply a call twice unless the service's methods are idempotent",
		"record the review that the methods are safe to repeat: annotation policy.detour.dev/except: retry_non_idempotent, with policy.detour.dev/except-reason",
	)
}

# --- max_ejection_too_low / max_ejection_partial ---------------------------------

max_ejection_percent := object.get(detection, "maxEjectionPercent", 100)

always_eject_one := object.get(detection, "alwaysEjectOne", true)

# Hosts in the Envoy cluster a locality's clients see: its own endpoints, the
# pods of clusters on the same network, and one east-west gateway endpoint
# per cluster on another network. Envoy caps ejections over that whole pool.
pool_size(c) := object.get(c, "endpoints", 0) + sum([remote_hosts(c, o) | some o in clusters; o.name != c.name])

remote_hosts(c, o) := 1 if object.get(o, "network", "") != object.get(c, "network", "")

remote_hosts(c, o) := max([1, object.get(o, "endpoints", 0)]) if object.get(o, "network", "") == object.get(c, "network", "")

ejectable(c) := n if {
	n := floor((pool_size(c) * max_ejection_percent) / 100)
	not always_eject_one
}

ejectable(c) := max([1, floor((pool_size(c) * max_ejection_percent) / 100)]) if always_eject_one

max_ejection_too_low contains f if {
	is_intent
	fails_over
	some c in clusters
	object.get(c, "endpoints", 0) > 0
	ejectable(c) == 0
	f := util.finding(
		where, "spec.detection.maxEjectionPercent",
		sprintf("cluster %s's pool has %d hosts and maxEjectionPercent %d ejects none of them, so its failures never trigger failover", [c.name, pool_size(c), max_ejection_percent]),
		"set spec.detection.maxEjectionPercent: 100 (or alwaysEjectOne: true)",
	)
}

max_ejection_partial contains f if {
	is_intent
	fails_over
	some c in clusters
	local := object.get(c, "endpoints", 0)
	n := ejectable(c)
	n > 0
	n < local
	f := util.finding(
		where, "spec.detection.maxEjectionPercent",
		sprintf("cluster %s has %d endpoints but maxEjectionPercent %d ejects at most %d of its %d-host pool, so the local tier never fully fails over", [c.name, local, max_ejection_percent, n, pool_size(c)]),
		"set spec.detection.maxEjectionPercent: 100",
	)
}

# --- panic_threshold_on_failover ------------------------------------------------

panic_threshold_on_failover contains f if {
	is_intent
	fails_over
	p := object.get(detection, "minHealthPercent", 0)
	p > 0
	f := util.finding(
		where, "spec.detection.minHealthPercent",
		sprintf("a panic threshold of %d%% sends traffic to ejected hosts once health drops below it instead of failing over", [p]),
		"set spec.detection.minHealthPercent: 0",
	)
}

# --- failback_cliff -------------------------------------------------------------

failback_cliff contains f if {
	is_intent
	fails_over
	util.duration_ns(object.get(failback, "holdDown", "60s")) == 0
	f := util.finding(
		where, "spec.failback.holdDown",
		"without a hold-down a recovering cluster takes its traffic back on its first healthy check and flaps",
		"set spec.failback.holdDown (e.g. 60s)",
	)
}

failback_cliff contains f if {
	is_intent
	fails_over
	ramp := object.get(failback, "ramp", [10, 50, 100])
	count(ramp) < 2
	f := util.finding(
		where, "spec.failback.ramp",
		"a one-step ramp returns all traffic at once to a cold cluster (thundering herd)",
		"ramp in steps, e.g. spec.failback.ramp: [10, 50, 100]",
	)
}

# --- latency_budget_below_cross_region / latency_window_too_short ------------------

latency := object.get(detection, "latency", null)

latency_budget_ns := util.duration_ns(object.get(latency, "p99", "")) if latency != null

cross_region_ns := util.duration_ns(object.get(latency, "crossRegion", "0s")) if latency != null

# A budget the other region can never meet: after a move (for errors or for
# latency) every answer breaches it, and the filters cannot move back.
latency_budget_below_cross_region contains f if {
	is_intent
	fails_over
	count(regions) >= 2
	cross_region_ns > 0
	latency_budget_ns <= cross_region_ns
	f := util.finding(
		where, "spec.detection.latency.p99",
		sprintf("the p99 budget (%s) is not above the cross-region latency (%s): no answer from another region can meet it, so latency failover has nowhere faster to go", [latency.p99, latency.crossRegion]),
		"raise spec.detection.latency.p99 above crossRegion plus the service's own p99, or drop detection.latency",
	)
}

# The filters' window slides in quarters, so it counts the answers of at
# least 3/4 of it; at a cluster's stated load it must gather minRequests.
latency_window_too_short contains f if {
	is_intent
	latency != null
	window_ns := util.duration_ns(object.get(latency, "window", "10s"))
	min_requests := object.get(latency, "minRequests", 20)
	some i, c in clusters
	load := object.get(c, "load", 0)
	load > 0
	seen := ((load * window_ns) * 3) / (4 * 1000000000)
	seen < min_requests
	f := util.finding(
		where, sprintf("spec.clusters[%d].load", [i]),
		sprintf("at %v rps, %s's window of %s (3/4 of it counted as it slides) holds about %v answers, under minRequests (%d): latency failover never fires there", [load, c.name, object.get(latency, "window", "10s"), floor(seen), min_requests]),
		"lengthen spec.detection.latency.window or lower minRequests",
	)
}

# --- whatif_overload / whatif_stranded ------------------------------------------

whatif_overload contains f if {
	is_intent
	some i, w in object.get(status, "whatIf", [])
	object.get(w, "absorbed", true) == false
	over := object.get(w, "overloaded", [])
	count(over) > 0
	f := util.finding(
		where, sprintf("status.whatIf[%d]", [i]),
		sprintf("losing %s %s overloads %s: the remaining tiers cannot absorb its traffic", [w.lost.kind, w.lost.name, concat(", ", over)]),
		"raise capacity on the clusters that take the load, or add a cluster to the ladder",
	)
}

whatif_stranded contains f if {
	is_intent
	some i, w in object.get(status, "whatIf", [])
	stranded := object.get(w, "stranded", [])
	count(stranded) > 0
	f := util.finding(
		where, sprintf("status.whatIf[%d]", [i]),
		sprintf("losing %s %s leaves the traffic of %s with nowhere to go", [w.lost.kind, w.lost.name, concat(", ", stranded)]),
		"add a permitted failover target for those sources, or accept the outage by excepting whatif_stranded",
	)
}

# --- unknown_reference ----------------------------------------------------------

cluster_names := {n | some n, _ in cluster_by_name}

# refs are the localities and names the intent and its status point at.
refs contains {"path": sprintf("spec.failover.order[%d]", [i]), "loc": {"cluster": n}} if {
	some i, n in object.get(failover, "order", [])
}

refs contains {"path": sprintf("spec.failover.rules[%d].from", [i]), "loc": r.from} if {
	some i, r in object.get(failover, "rules", [])
}

refs contains {"path": sprintf("spec.failover.rules[%d].%s[%d]", [i, key, j]), "loc": l} if {
	some i, r in object.get(failover, "rules", [])
	some key in ["only", "anyExcept"]
	some j, l in object.get(r, key, [])
}

refs contains {"path": sprintf("status.ladders[%d].from", [i]), "loc": {"cluster": l.from}} if {
	some i, l in object.get(status, "ladders", [])
}

refs contains {"path": sprintf("status.ladders[%d].tiers[%d].clusters[%d]", [i, j, k]), "loc": {"cluster": c.cluster}} if {
	some i, l in object.get(status, "ladders", [])
	some j, t in l.tiers
	some k, c in t.clusters
}

unknown_reference contains f if {
	is_intent
	some r in refs
	some key, known in {"cluster": cluster_names, "region": regions, "zone": zones}
	v := object.get(r.loc, key, "")
	v != ""
	not v in known
	f := util.finding(
		where, r.path,
		sprintf("%s %q is not one of spec.clusters", [key, v]),
		sprintf("name a cluster, region or zone from spec.clusters (clusters: %s)", [concat(", ", sort(cluster_names))]),
	)
}
