// Package strictyaml decodes YAML files strictly, for the harness's file
// formats (exchange files, scenarios): unknown keys and wrong shapes are
// rejected with the file, line, column and field path of the offending
// node, and syntax errors name their line and column.
package strictyaml

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	goyaml "github.com/goccy/go-yaml"
	gyparser "github.com/goccy/go-yaml/parser"
	"go.yaml.in/yaml/v3"
)

// Error is a validation error with its position and field path.
type Error struct {
	File      string
	Line, Col int
	Path      string
	Msg       string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += fmt.Sprintf(":%d:%d", e.Line, e.Col)
	}
	if e.Path != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Path, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// PosError is returned by UnmarshalYAML methods: a message at a node.
type PosError struct {
	Line, Col int
	Msg       string
}

func (e *PosError) Error() string { return e.Msg }

// At returns a PosError at n.
func At(n *yaml.Node, msg string) *PosError { return &PosError{n.Line, n.Column, msg} }

// Scalar is a string that remembers where it was written, so validation
// errors can point at it.
type Scalar struct {
	Value     string
	Line, Col int
}

func (s *Scalar) UnmarshalYAML(n *yaml.Node) error {
	s.Line, s.Col = n.Line, n.Column
	if n.Kind != yaml.ScalarNode {
		return At(n, "expected a scalar")
	}
	s.Value = n.Value
	return nil
}

// Set reports whether the scalar was written in the file.
func (s Scalar) Set() bool { return s.Line > 0 }

// syntaxRE matches the parser's "yaml: line N: message".
var syntaxRE = regexp.MustCompile(`^(?:yaml: )?line ([0-9]+): (.+)$`)

// Root parses b and returns its first document node, or an Error placing
// the syntax error.
func Root(file string, b []byte, what string) (*yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, syntaxError(file, b, err)
	}
	// An explicit empty document ("---") is a null scalar that yaml.v3
	// places on the line after the marker, past the end of "---" alone.
	if len(root.Content) == 0 || isEmpty(root.Content[0]) {
		return nil, &Error{File: file, Line: 1, Col: 1, Msg: "empty " + what}
	}
	return root.Content[0], nil
}

func isEmpty(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == ""
}

// syntaxError places a YAML syntax error. yaml.v3 reports only a line, and
// for an unclosed { or [ the line before the error; goccy/go-yaml's parser
// knows the token's line and column, so its position (and message) is used
// when it also rejects the document. Otherwise the error names yaml.v3's
// line, column 1, if it gave one.
func syntaxError(file string, b []byte, err error) error {
	if _, gerr := gyparser.ParseBytes(b, 0); gerr != nil {
		var se *goyaml.SyntaxError
		if errors.As(gerr, &se) && se.Token != nil && se.Token.Position != nil {
			return &Error{File: file, Line: se.Token.Position.Line, Col: se.Token.Position.Column, Msg: se.Message}
		}
	}
	if m := syntaxRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Col: 1, Msg: m[2]}
	}
	// No line (an unknown anchor): no position rather than a made-up one.
	return &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
}

// Decode checks doc's keys and shapes against v's type, then decodes it
// into v. Errors are *Error.
func Decode(file string, doc *yaml.Node, v any) error {
	if err := Check(file, doc, reflect.TypeOf(v), ""); err != nil {
		return err
	}
	if err := doc.Decode(v); err != nil {
		var pe *PosError
		if errors.As(err, &pe) {
			return &Error{File: file, Line: pe.Line, Col: pe.Col, Msg: pe.Msg}
		}
		// What Check lets through (a key repeated in a map) yaml.v3 reports
		// as "line N: message": keep its line rather than the document's.
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			if m := syntaxRE.FindStringSubmatch(te.Errors[0]); m != nil {
				line, _ := strconv.Atoi(m[1])
				return &Error{File: file, Line: line, Col: 1, Msg: m[2]}
			}
		}
		return &Error{File: file, Line: doc.Line, Col: doc.Column, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	return nil
}

// Locate finds the node at a path such as requests[0].headers.
func Locate(n *yaml.Node, path string) *yaml.Node {
	if path == "" || n == nil {
		return nil
	}
	for _, seg := range strings.Split(path, ".") {
		name, idx := seg, -1
		if i := strings.IndexByte(seg, '['); i >= 0 && strings.HasSuffix(seg, "]") {
			name = seg[:i]
			idx, _ = strconv.Atoi(seg[i+1 : len(seg)-1])
		}
		if name != "" {
			if n.Kind != yaml.MappingNode {
				return nil
			}
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == name {
					next = n.Content[i+1]
				}
			}
			if next == nil {
				return nil
			}
			n = next
		}
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return nil
			}
			n = n.Content[idx]
		}
	}
	return n
}

// Position fills e's line and column from its path when it has none.
func Position(doc *yaml.Node, err error) error {
	var e *Error
	if errors.As(err, &e) && e.Line == 0 {
		if n := Locate(doc, e.Path); n != nil {
			e.Line, e.Col = n.Line, n.Column
		}
	}
	return err
}

// Opaque types are checked by their own UnmarshalYAML (or not at all).
type Opaque interface{ StrictYAMLOpaque() }

var (
	scalarType = reflect.TypeOf(Scalar{})
	nodeType   = reflect.TypeOf(yaml.Node{})
	opaqueType = reflect.TypeOf((*Opaque)(nil)).Elem()
)

// Check rejects unknown keys and wrong shapes with the position and path of
// the offending node.
func Check(file string, n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		if t.Implements(opaqueType) {
			return nil
		}
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	bad := func(msg string) error { return &Error{File: file, Line: n.Line, Col: n.Column, Path: path, Msg: msg} }
	if t == scalarType {
		if n.Kind != yaml.ScalarNode {
			return bad("expected a scalar")
		}
		return nil
	}
	if t == nodeType || t.Implements(opaqueType) || reflect.PointerTo(t).Implements(opaqueType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return bad("expected a mapping")
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if tag != "" && tag != "-" {
				fields[tag] = t.Field(i).Type
				names = append(names, tag)
			}
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			p := join(path, k.Value)
			if !ok {
				sort.Strings(names)
				return &Error{File: file, Line: k.Line, Col: k.Column, Path: p, Msg: "unknown field (expected one of " + strings.Join(names, ", ") + ")"}
			}
			if seen[k.Value] {
				return &Error{File: file, Line: k.Line, Col: k.Column, Path: p, Msg: "field given twice"}
			}
			seen[k.Value] = true
			if err := Check(file, n.Content[i+1], ft, p); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return bad("expected a list")
		}
		for i, it := range n.Content {
			if err := Check(file, it, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return bad("expected a mapping")
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := Check(file, n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
	case reflect.Interface:
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return bad("expected a string")
		}
	case reflect.Int, reflect.Int64, reflect.Uint32:
		if n.Kind != yaml.ScalarNode {
			return bad("expected an integer")
		}
		if _, err := strconv.Atoi(n.Value); err != nil {
			return bad(fmt.Sprintf("expected an integer, got %q", n.Value))
		}
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode {
			return bad("expected a number")
		}
		if _, err := strconv.ParseFloat(n.Value, 64); err != nil {
			return bad(fmt.Sprintf("expected a number, got %q", n.Value))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || (n.Value != "true" && n.Value != "false") {
			return bad(fmt.Sprintf("expected true or false, got %q", n.Value))
		}
	}
	return nil
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}
