package exchange_test

// Every test package accepts -update, so `go test ./... -update` works from
// the root even where a package has no golden files.
import _ "github.com/detour-mesh/detour/internal/golden"
