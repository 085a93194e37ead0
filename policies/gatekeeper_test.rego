package detour.gatekeeper_test

import data.detour.gatekeeper
import data.detour.lib.istio_test

review(obj) := {"review": {"object": obj, "kind": {"kind": obj.kind}}}

test_violation_on_admission_review if {
	doc := json.remove(istio_test.wasm, ["/spec/failStrategy"])
	ids := {v.details.rule | some v in gatekeeper.violation} with input as review(doc)
	ids == {"wasm_fail_closed"}
}

test_no_violation_on_safe_object if {
	count(gatekeeper.violation) == 0 with input as review(istio_test.dr)
}

test_warnings_are_not_violations if {
	doc := json.remove(istio_test.dr, ["/spec/trafficPolicy/outlierDetection/maxEjectionPercent"])
	count(gatekeeper.violation) == 0 with input as review(doc)
}
