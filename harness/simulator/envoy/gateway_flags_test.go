package envoy

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestFlagsMergedOnce: a gateway record's response flags are the router's
// then the response's, each named once (contains decides which are new).
func TestFlagsMergedOnce(t *testing.T) {
	for _, tc := range []struct {
		have []string
		flag string
		want bool
	}{
		{nil, "UF", false},
		{[]string{"URX"}, "UF", false},
		{[]string{"URX", "UF"}, "UF", true},
		{[]string{"UF"}, "UF", true},
	} {
		assert.Equal(t, tc.want, contains(tc.have, tc.flag), "%v has %s", tc.have, tc.flag)
	}
}
