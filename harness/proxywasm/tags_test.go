package proxywasm

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExtractTags(t *testing.T) {
	value, err := NewTagRule("value", `(_value=([a-zA-Z]+))`, "")
	require.NoError(t, err)
	whole, err := NewTagRule("whole", `(\.x\d)`, "")
	require.NoError(t, err)
	fixed, err := NewTagRule("mesh", "", "detour")
	require.NoError(t, err)
	rules := append([]TagRule{value, whole, fixed}, DefaultTagRules()...)
	tests := []struct {
		name, want string
		tags       []Tag
	}{
		{"wasmcustom.c_value=foo_n", "wasmcustom.c_n", []Tag{{"value", "foo"}, {"mesh", "detour"}}},
		// Without a second group the first is the value.
		{"wasmcustom.a.x7", "wasmcustom.a", []Tag{{"whole", ".x7"}, {"mesh", "detour"}}},
		{"wasmcustom.upstream_rq_503", "wasmcustom.upstream_rq", []Tag{{"mesh", "detour"}, {"envoy.response_code", "503"}}},
		// Only the digit is cut: Envoy reports upstream_rq_xx{response_code_class="5"}.
		{"wasmcustom.upstream_rq_5xx", "wasmcustom.upstream_rq_xx", []Tag{{"mesh", "detour"}, {"envoy.response_code_class", "5"}}},
	}
	for _, tc := range tests {
		got, tags := extractTags(rules, tc.name)
		assert.Equal(t, tc.want, got, tc.name)
		assert.Equal(t, tc.tags, tags, tc.name)
	}
	_, err = NewTagRule("x", `no_group`, "")
	assert.ErrorContains(t, err, "capture group")
	_, err = NewTagRule("x", `a`, "b")
	assert.ErrorContains(t, err, "regex or fixed_value")
}
