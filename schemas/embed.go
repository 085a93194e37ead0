// Package schemas embeds the CUE module under this directory (the failover
// intent definitions and the generated Istio CRD definitions) so that the
// detour binary validates with the very files users run `cue vet` against.
package schemas

import "embed"

// FS holds cue.mod/ and every CUE package of the module, rooted at the
// module root.
//
//go:embed cue.mod detour istio
var FS embed.FS

// Module is the CUE module path declared in cue.mod/module.cue.
const Module = "detour.dev/schemas"

// IntentPackage is the import path of the package defining #Intent.
const IntentPackage = Module + "/detour"
