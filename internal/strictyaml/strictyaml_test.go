package strictyaml

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type inner struct {
	N int     `yaml:"n"`
	F float64 `yaml:"f"`
	S Scalar  `yaml:"s"`
}

type doc struct {
	Name  string           `yaml:"name"`
	Items []inner          `yaml:"items"`
	ByKey map[string]inner `yaml:"byKey"`
	On    bool             `yaml:"on"`
}

func decode(t *testing.T, src string) error {
	t.Helper()
	n, err := Root("f.yaml", []byte(src), "document")
	if err != nil {
		return err
	}
	var d doc
	return Decode("f.yaml", n, &d)
}

func TestErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"empty", "", "f.yaml:1:1: empty document"},
		{"explicit empty document", "---", "f.yaml:1:1: empty document"},
		{"comment and marker", "# nothing\n---\n", "f.yaml:1:1: empty document"},
		{"unknown", "name: a\nnmae: b\n", "f.yaml:2:1: nmae: unknown field (expected one of byKey, items, name, on)"},
		{"twice", "name: a\nname: b\n", "f.yaml:2:1: name: field given twice"},
		{"list expected", "items: {n: 1}\n", "f.yaml:1:8: items: expected a list"},
		{"int", "items: [{n: x}]\n", `f.yaml:1:13: items[0].n: expected an integer, got "x"`},
		{"float", "items: [{f: x}]\n", `f.yaml:1:13: items[0].f: expected a number, got "x"`},
		{"bool", "on: yes\n", `f.yaml:1:5: on: expected true or false, got "yes"`},
		{"scalar", "items: [{s: [1]}]\n", `f.yaml:1:13: items[0].s: expected a scalar`},
		{"map value", "byKey: {a: {m: 1}}\n", `f.yaml:1:13: byKey.a.m: unknown field (expected one of f, n, s)`},
		{"map key twice", "byKey:\n  a: {n: 1}\n  a: {n: 2}\n", `f.yaml:3:1: mapping key "a" already defined at line 2`},
		{"alias", "x: &a {n: 1}\n", `f.yaml:1:1: x: unknown field`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := decode(t, tc.src)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	require.NoError(t, decode(t, "name: a\nitems: [{n: 1, f: 1.5, s: x}]\nbyKey: {k: {n: 2}}\non: true\n"))
}

// Syntax errors carry the offending token's line and column (yaml.v3 alone
// gives a line, one early for an unclosed flow collection), or yaml.v3's
// line when only it rejects the document.
func TestSyntaxErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unclosed sequence", "name: [a\n", "f.yaml:1:7: sequence end token ']' not found"},
		{"unclosed mapping", "name: {a: b\nitems: []\n", "f.yaml:2:1: ',' or '}' must be specified"},
		{"tab indent", "byKey:\n\ta: {n: 1}\n", "f.yaml:2:1: found character '\t' that cannot start any token"},
		{"value in scalar", "name: \"x\" y\n", "f.yaml:1:11: value is not allowed in this context. map key-value is pre-defined"},
		{"unknown anchor", "name: &x a\nitems: *y\n", "f.yaml: unknown anchor 'y' referenced"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Root("f.yaml", []byte(tc.src), "document")
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.EqualError(t, err, tc.want)
		})
	}
}

func TestLocateAndPosition(t *testing.T) {
	n, err := Root("f.yaml", []byte("items:\n  - {n: 1}\n  - {n: 2}\n"), "document")
	require.NoError(t, err)
	got := Locate(n, "items[1].n")
	require.NotNil(t, got)
	assert.Equal(t, [2]int{3, 9}, [2]int{got.Line, got.Column})
	assert.Nil(t, Locate(n, "items[5]"))
	assert.Nil(t, Locate(n, "nothing.here"))
	err = Position(n, &Error{File: "f.yaml", Path: "items[1]", Msg: "bad"})
	assert.EqualError(t, err, "f.yaml:3:5: items[1]: bad")
}
