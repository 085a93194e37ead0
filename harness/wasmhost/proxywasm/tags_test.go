package proxywasm

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func rules(t *testing.T, specs ...[3]string) []TagRule {
	t.Helper()
	out := DefaultTagRules() // Envoy adds the defaults first
	for _, s := range specs {
		r, err := NewTagRules(s[0], s[1], s[2])
		require.NoError(t, err)
		out = append(out, r...)
	}
	return out
}

func TestExtractTags(t *testing.T) {
	rs := rules(t,
		[3]string{"value", `(_value=([a-zA-Z]+))`, ""},
		[3]string{"whole", `(\.x\d)`, ""},
		[3]string{"mesh", "", "detour"},
		// A second rule for a tag name that already matched is skipped
		// (it would cut "_n" from the first name).
		[3]string{"value", `(_n)`, ""},
	)
	tests := []struct {
		name, want string
		tags       []Tag
	}{
		{"wasmcustom.c_value=foo_n", "wasmcustom.c_n", []Tag{{"value", "foo"}, {"mesh", "detour"}}},
		// Without a second group the first is the value.
		{"wasmcustom.a.x7", "wasmcustom.a", []Tag{{"whole", ".x7"}, {"mesh", "detour"}}},
		{"wasmcustom.upstream_rq_503", "wasmcustom.upstream_rq", []Tag{{"envoy.response_code", "503"}, {"mesh", "detour"}}},
		// Only the digit is cut: Envoy reports upstream_rq_xx{response_code_class="5"}.
		{"wasmcustom.upstream_rq_5xx", "wasmcustom.upstream_rq_xx", []Tag{{"envoy.response_code_class", "5"}, {"mesh", "detour"}}},
	}
	for _, tc := range tests {
		got, tags := extractTags(rs, tc.name)
		assert.Equal(t, tc.want, got, tc.name)
		assert.Equal(t, tc.tags, tags, tc.name)
	}
}

func TestNewTagRules(t *testing.T) {
	// A name alone selects Envoy's default rule of that name.
	r, err := NewTagRules("envoy.response_code", "", "")
	require.NoError(t, err)
	require.Len(t, r, 1)
	assert.Equal(t, `_rq(_(\d{3}))$`, r[0].Regex.String())
	_, err = NewTagRules("mine", "", "")
	assert.ErrorContains(t, err, "no default regex")
	_, err = NewTagRules("x", `no_group`, "")
	assert.ErrorContains(t, err, "capture group")
	_, err = NewTagRules("x", `(a)`, "b")
	assert.ErrorContains(t, err, "not both")
}
