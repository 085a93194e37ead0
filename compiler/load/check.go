package load

import "fmt"

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
