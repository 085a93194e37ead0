package timeline_test

// Every test package imports golden so that `go test ./... -update` works.
import _ "github.com/detour-mesh/detour/internal/golden"
