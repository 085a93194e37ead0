package load

import (
	"github.com/detour-mesh/detour/compiler/intent"
)

// check runs what the CUE schema cannot see. Cross-field constraints live
// in the schema (schemas/detour/checks.cue) so that stock `cue vet` applies
// them too; only facts about how the user wrote the file remain here.
func check(_ *intent.Intent, doc document) Errors {
	var errs Errors
	// CUE reads "selector: {}" as "no constraint" and fills in the default
	// selector; an explicitly empty selector is a mistake worth reporting.
	if p := joinRel(doc.prefix, "spec.exposure.selector"); doc.index.empty(p) {
		errs = append(errs, doc.errorAt("spec.exposure.selector",
			"must select at least one label: an empty selector would export every service"))
	}
	return errs
}
