package proxywasm

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSplitPath: the stack split of a property path is strings.Split's,
// for paths longer than the stack buffer too, and allocates nothing for
// Envoy's attribute paths.
func TestSplitPath(t *testing.T) {
	for _, p := range []string{"", "a", "xds\x00cluster_name", "upstream\x00address", "\x00", "a\x00", "\x00a",
		"a\x00\x00b", strings.Repeat("s\x00", 12) + "end"} {
		var buf [maxPathSegments]string
		assert.Equal(t, strings.Split(p, "\x00"), splitPath([]byte(p), &buf), "%q", p)
	}
	b := []byte("upstream\x00request_attempt_count")
	allocs := testing.AllocsPerRun(100, func() {
		var buf [maxPathSegments]string
		if len(splitPath(b, &buf)) != 2 {
			t.Fatal("two segments")
		}
	})
	assert.Zero(t, allocs)
}
