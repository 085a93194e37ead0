package proxywasm

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// StaleSharedData hands a guest's read the version before the latest
// write, so the guest's compare-and-swap set with that cas fails; a key
// written once has no earlier version and reads current.
func TestStaleSharedDataForcesCASMismatch(t *testing.T) {
	p := NewProcess(nil)
	asked := 0
	p.StaleSharedData = func(vmID, key string) bool { asked++; return key == "k" }
	assert.Equal(t, StatusOK, p.SetSharedData("vm", "k", []byte("v1"), 0))
	v, cas1, st := p.guestGetSharedData("vm", "k")
	assert.Equal(t, StatusOK, st)
	assert.Equal(t, "v1", string(v), "one version only: read current")
	assert.Zero(t, asked)
	assert.Equal(t, StatusOK, p.SetSharedData("vm", "k", []byte("v2"), cas1))

	v, cas, _ := p.guestGetSharedData("vm", "k")
	assert.Equal(t, "v1", string(v))
	assert.Equal(t, cas1, cas)
	assert.Equal(t, StatusCasMismatch, p.SetSharedData("vm", "k", []byte("v3"), cas))
	cur, curCas, _ := p.GetSharedData("vm", "k")
	assert.Equal(t, "v2", string(cur), "the Go-side read is never stale")
	assert.Equal(t, StatusOK, p.SetSharedData("vm", "k", []byte("v3"), curCas))

	p.StaleSharedData = func(string, string) bool { return false }
	v, _, _ = p.guestGetSharedData("vm", "k")
	assert.Equal(t, "v3", string(v))
}
