# METADATA
# title: Shared helpers for Detour's policies
# description: |
#   Durations, localities and the finding shape every library rule returns:
#   {"path": field path, "msg": "<where>: <path>: <problem>; fix: <fix>"}.
package detour.lib.util

# finding is what a library rule reports; the entry points in package main
# add the rule id and severity.
finding(where, path, problem, fix) := {
	"path": path,
	"msg": sprintf("%s: %s: %s; fix: %s", [where, path, problem, fix]),
}

# result turns a finding into the object conftest and detour print:
# "msg" is the only key conftest requires, the rest is metadata.
# Other keys of the finding (e.g. "file" in combined mode) pass through.
result(id, severity, f) := object.union(f, {
	"msg": sprintf("[%s] %s", [id, f.msg]),
	"rule": id,
	"severity": severity,
})

# duration_ns reads an Istio/Go duration string; anything else counts as 0
# (unset), which every caller treats as "no limit configured".
duration_ns(d) := time.parse_duration_ns(d) if is_string(d)

duration_ns(d) := 0 if not is_string(d)

# matches_locality is true when locality l ({cluster, region, zone}, empty
# fields match anything) selects cluster c.
matches_locality(l, c) if {
	object.get(l, "cluster", "") in {"", object.get(c, "name", "")}
	object.get(l, "region", "") in {"", object.get(c, "region", "")}
	object.get(l, "zone", "") in {"", object.get(c, "zone", "")}
}

# service_namespace is the namespace of a Kubernetes service host written
# short ("reviews"), as name.namespace, or fully qualified
# (name.namespace.svc.<domain>). Other hosts (ServiceEntry names) have none.
service_namespace(host, own) := own if not contains(host, ".")

service_namespace(host, _) := parts[1] if {
	parts := split(host, ".")
	count(parts) == 2
}

service_namespace(host, _) := parts[1] if {
	parts := split(host, ".")
	count(parts) > 2
	parts[2] == "svc"
}

# fqdn expands a service host the way Istio resolves it in namespace ns.
fqdn(host, ns) := sprintf("%s.%s.svc.cluster.local", [host, ns]) if not contains(host, ".")

fqdn(host, _) := sprintf("%s.svc.cluster.local", [host]) if count(split(host, ".")) == 2

fqdn(host, _) := host if count(split(host, ".")) > 2

# idempotent methods may be retried after the request reached the upstream.
idempotent_methods := {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"}
