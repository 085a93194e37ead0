package load

import (
	"errors"
	"fmt"
	"strconv"

	goyaml "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"cuelang.org/go/cue/ast"
	cuetoken "cuelang.org/go/cue/token"
)

// syntaxPosition locates a YAML syntax error with a column. CUE's YAML
// decoder (go.yaml.in/yaml/v3) reports only a line, and for an unclosed
// bracket the line of the context, counted from 0; a second parser that
// keeps token positions tells where the problem is. An unclosed flow
// collection is reported at the bracket that is not closed, not where the
// parser gave up. ok is false when that parser sees no syntax error, or
// one more than a line away from near, the line CUE's decoder reported (the
// two parsers then disagree on what is wrong).
func syntaxPosition(data []byte, near int) (line, col int, ok bool) {
	_, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	var se *goyaml.SyntaxError
	if !errors.As(err, &se) || se.Token == nil || se.Token.Position == nil {
		return 0, 0, false
	}
	at := se.Token.Position
	if open := unclosedFlow(data, at.Offset); open != nil {
		at = open
	}
	if at.Line < near-1 || at.Line > near+1 {
		return 0, 0, false
	}
	return at.Line, at.Column, true
}

// unclosedFlow is the innermost '[' or '{' still open before offset.
func unclosedFlow(data []byte, offset int) *token.Position {
	var open []*token.Token
	for _, tk := range lexer.Tokenize(string(data)) {
		if tk.Position == nil || tk.Position.Offset >= offset {
			break
		}
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			open = append(open, tk)
		case token.SequenceEndType, token.MappingEndType:
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
		}
	}
	if len(open) == 0 {
		return nil
	}
	return open[len(open)-1].Position
}

// duplicateKeys reports every key written twice in one YAML mapping, at its
// second occurrence. CUE's YAML decoder turns a mapping into a struct where
// a repeated field is unified with the first: equal values merge silently
// and different ones conflict at the first key.
func duplicateKeys(file, path string, x ast.Expr) Errors {
	var errs Errors
	switch x := x.(type) {
	case *ast.StructLit:
		seen := map[string]cuetoken.Pos{}
		for _, d := range x.Elts {
			f, ok := d.(*ast.Field)
			if !ok {
				continue
			}
			name, _, err := ast.LabelName(f.Label)
			if err != nil {
				continue
			}
			p := joinPath(path, name)
			if first, ok := seen[name]; ok {
				fp := first.Position()
				errs = append(errs, newError(file, f.Label.Pos(), p,
					fmt.Sprintf("duplicate key %q (first at line %d, column %d); YAML keys are unique in a mapping", name, fp.Line, fp.Column)))
				continue
			}
			seen[name] = f.Label.Pos()
			errs = append(errs, duplicateKeys(file, p, f.Value)...)
		}
	case *ast.ListLit:
		for i, e := range x.Elts {
			errs = append(errs, duplicateKeys(file, path+"["+strconv.Itoa(i)+"]", e)...)
		}
	}
	return errs
}
