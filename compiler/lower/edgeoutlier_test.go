package lower

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// allButOne against Envoy's rule (outlier_detection_impl.cc ejectHost): an
// ejection is allowed while 100 × (ejected + 1) / hosts <= max percent.
func TestAllButOne(t *testing.T) {
	allowed := func(ejected, n int, pct int32) bool { return float64(100*(ejected+1))/float64(n) <= float64(pct) }
	for n, want := range map[int]int32{2: 50, 3: 67, 4: 75, 6: 84, 7: 86, 100: 99} {
		got := allButOne(n)
		assert.Equal(t, want, got, "%d hosts", n)
		assert.True(t, allowed(n-2, n, got), "%d hosts: the %d-th ejection refused", n, n-1)
		assert.False(t, allowed(n-1, n, got), "%d hosts: every host can be ejected", n)
	}
}
