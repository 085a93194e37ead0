# METADATA
# title: Gatekeeper entry point
# description: |
#   The same library rules over an admission review, in Gatekeeper's
#   `violation` shape: every deny rule of detour.lib.istio evaluated on
#   input.review.object. A ConstraintTemplate bundles this package with
#   lib/*.rego (renamed under data.lib, where Gatekeeper wants libraries).
package detour.gatekeeper

import data.detour.lib.catalog
import data.detour.lib.istio
import data.detour.lib.util

violation contains {"msg": r.msg, "details": r} if {
	some id, info in catalog.rules
	info.severity == "deny"
	some f in istio[id] with input as input.review.object
	r := util.result(id, "deny", f)
}
