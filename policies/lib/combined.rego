# METADATA
# title: Checks across several Istio resources
# description: |
#   Input is conftest's combined form (`conftest test --combine`): a list of
#   {path, contents}, one entry per YAML document. These rules need two
#   resources at once, such as a VirtualService and the DestinationRule
#   that defines its subsets; they never fire on a single document.
package detour.lib.combined

import data.detour.lib.util

is_combined if is_array(input)

namespace(doc) := object.get(doc, ["metadata", "namespace"], "default")

where(doc) := sprintf("%s %s/%s", [doc.kind, namespace(doc), object.get(doc, ["metadata", "name"], "")])

# entries are the Istio networking documents with their index in the
# input, which `detour policy` uses to position a finding.
entries contains object.union(e, {"index": i}) if {
	is_combined
	some i, e in input
	is_object(e.contents)
	startswith(object.get(e.contents, "apiVersion", ""), "networking.istio.io/")
}

destination_rules contains dr if {
	some e in entries
	e.contents.kind == "DestinationRule"
	dr := e.contents
}

dr_hosts := {util.fqdn(dr.spec.host, namespace(dr)) | some dr in destination_rules}

defined_subsets := {[util.fqdn(dr.spec.host, namespace(dr)), s.name] |
	some dr in destination_rules
	some s in object.get(dr.spec, "subsets", [])
}

budget_hosts := {util.fqdn(dr.spec.host, namespace(dr)) |
	some dr in destination_rules
	is_object(dr.spec.trafficPolicy.retryBudget)
}

# destinations are the VirtualService route destinations with their paths.
destinations contains {"entry": e, "route": r, "dest": d.destination, "path": sprintf("spec.http[%d].route[%d].destination", [i, j])} if {
	some e in entries
	e.contents.kind == "VirtualService"
	some i, r in object.get(e.contents.spec, "http", [])
	some j, d in object.get(r, "route", [])
}

unknown_subset contains object.union(f, {"file": x.entry.path, "index": x.entry.index}) if {
	some x in destinations
	s := x.dest.subset
	host := util.fqdn(x.dest.host, namespace(x.entry.contents))
	not [host, s] in defined_subsets
	f := util.finding(
		where(x.entry.contents), sprintf("%s.subset", [x.path]),
		sprintf("subset %q of %s is defined by no DestinationRule in the checked files, so the route answers 503 (no healthy upstream)", [s, host]),
		"define the subset in the host's DestinationRule or correct the name",
	)
}

retries_without_budget contains object.union(f, {"file": x.entry.path, "index": x.entry.index}) if {
	some x in destinations
	object.get(x.route, ["retries", "attempts"], 0) > 0
	host := util.fqdn(x.dest.host, namespace(x.entry.contents))
	host in dr_hosts
	not host in budget_hosts
	f := util.finding(
		where(x.entry.contents), sprintf("%s.host", [x.path]),
		sprintf("the route retries but the DestinationRule for %s has no trafficPolicy.retryBudget, so retries multiply load on a failing cluster", [host]),
		"set trafficPolicy.retryBudget {percent: 20, minRetryConcurrency: 3} in that DestinationRule",
	)
}
