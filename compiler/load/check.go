package load

import (
	"fmt"

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

// checkUnique rejects two intents for the same service in one file or
// directory: each intent owns the resources compiled for its namespace/name.
func checkUnique(srcs []Source) Errors {
	type key struct{ ns, name string }
	seen := map[key]Source{}
	var errs Errors
	for _, s := range srcs {
		k := key{s.Intent.Metadata.Namespace, s.Intent.Metadata.Name}
		if first, ok := seen[k]; ok {
			errs = append(errs, &Error{File: s.File, Line: s.Line, Column: s.Column,
				Msg: fmt.Sprintf("duplicate intent %s/%s (also at %s:%d:%d)", k.ns, k.name, first.File, first.Line, first.Column)})
			continue
		}
		seen[k] = s
	}
	return errs
}
