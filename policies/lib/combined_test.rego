package detour.lib.combined_test

import data.detour.lib.combined

dr := {
	"apiVersion": "networking.istio.io/v1",
	"kind": "DestinationRule",
	"metadata": {"name": "reviews", "namespace": "bookinfo"},
	"spec": {
		"host": "reviews.bookinfo.svc.cluster.local",
		"trafficPolicy": {"retryBudget": {"percent": 20, "minRetryConcurrency": 3}},
		"subsets": [{"name": "v2", "labels": {"version": "v2"}}],
	},
}

vs := {
	"apiVersion": "networking.istio.io/v1",
	"kind": "VirtualService",
	"metadata": {"name": "reviews", "namespace": "bookinfo"},
	"spec": {"hosts": ["reviews"], "http": [{
		"route": [{"destination": {"host": "reviews", "subset": "v2"}}],
		"retries": {"attempts": 2, "perTryTimeout": "1s"},
	}]},
}

combine(docs) := [{"path": sprintf("out/%d.yaml", [i]), "contents": d} | some i, d in docs]

test_consistent_set_has_no_findings if {
	count(combined.unknown_subset) == 0 with input as combine([dr, vs])
	count(combined.retries_without_budget) == 0 with input as combine([dr, vs])
}

test_single_document_never_fires if {
	count(combined.unknown_subset) == 0 with input as vs
}

test_unknown_subset if {
	doc := json.patch(vs, [{"op": "add", "path": "/spec/http/0/route/0/destination/subset", "value": "v3"}])
	some f in combined.unknown_subset with input as combine([dr, doc])
	f.path == "spec.http[0].route[0].destination.subset"
	f.file == "out/1.yaml"
	f.index == 1
}

test_unknown_subset_other_namespace if {
	# The DestinationRule for reviews in another namespace does not count.
	other := json.patch(dr, [{"op": "add", "path": "/metadata/namespace", "value": "other"}, {"op": "add", "path": "/spec/host", "value": "reviews"}])
	count(combined.unknown_subset) == 1 with input as combine([other, vs])
}

test_retries_without_budget if {
	doc := json.remove(dr, ["/spec/trafficPolicy/retryBudget"])
	some f in combined.retries_without_budget with input as combine([doc, vs])
	f.path == "spec.http[0].route[0].destination.host"
}
