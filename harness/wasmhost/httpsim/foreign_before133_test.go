package httpsim_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

// Envoy before 1.33 has no clear_route_cache foreign function (1.33's
// release notes add it): the call is NOT_FOUND, the other functions
// answer as before, and the header change alone re-selects the route
// (automatic refresh).
func TestForeignFunctionsBefore133(t *testing.T) {
	e := newEnv(t, 1, filter{name: "f", config: "foreign", compat: pw.Compat{NoClearRouteCache: true}})
	s := e.run(get(t))
	assert.Equal(t, `compress err=ok uncompress="hello hello hello hello" err=ok`, e.log("compress err"))
	assert.Equal(t, "clear_route_cache err=not found", e.log("clear_route_cache"))
	assert.Equal(t, "backup", s.Upstream.Cluster)
}
