package load

import "github.com/detour-mesh/detour/compiler/intent"

// normalise fills in values derived in Go after validation.
func normalise(in *intent.Intent) {}
