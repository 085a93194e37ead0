package load

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestYAMLSyntaxColumn: a YAML syntax error is reported with the column of
// the problem; an unclosed bracket at the bracket.
func TestYAMLSyntaxColumn(t *testing.T) {
	tests := []struct {
		name, src string
		want      string
	}{
		{"unclosed flow sequence", "a:\n  b: [x, y\nc: 1\n", "in.yaml:2:6: invalid YAML: did not find expected ',' or ']'"},
		{"unclosed flow mapping", "a: {b: 1\nc: 2\n", "in.yaml:1:4: invalid YAML: did not find expected ',' or '}'"},
		{"reserved character", "a:\n  b: @x\n", "in.yaml:2:6: invalid YAML: found character that cannot start any token"},
		{"tab indentation", "a:\n\t- b\n", "in.yaml:2:1: invalid YAML: found character that cannot start any token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Bytes("in.yaml", []byte(tc.src))
			assert.EqualError(t, err, tc.want)
		})
	}
}
