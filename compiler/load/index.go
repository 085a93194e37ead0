package load

import (
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"
)

// posIndex maps a field path ("spec.clusters[0].name") to where the user
// wrote its value, so checks made in Go (and CUE errors whose positions are
// all in the schema) point into the user's file.
type posIndex map[string]token.Pos

// indexExpr records the positions of every field and list element under x.
func (ix posIndex) indexExpr(path string, x ast.Expr) {
	switch x := x.(type) {
	case *ast.StructLit:
		ix.indexDecls(path, x.Elts)
	case *ast.ListLit:
		for i, e := range x.Elts {
			p := path + "[" + strconv.Itoa(i) + "]"
			ix.set(p, e.Pos())
			ix.indexExpr(p, e)
		}
	case *ast.BinaryExpr:
		// detour.#Intent & {...}: the literal operands hold the user's fields.
		if x.Op == token.AND {
			ix.indexExpr(path, x.X)
			ix.indexExpr(path, x.Y)
		}
	case *ast.ParenExpr:
		ix.indexExpr(path, x.X)
	}
}

func (ix posIndex) indexDecls(path string, decls []ast.Decl) {
	for _, d := range decls {
		switch d := d.(type) {
		case *ast.Field:
			name, _, err := ast.LabelName(d.Label)
			if err != nil || strings.HasPrefix(name, "#") || strings.HasPrefix(name, "_") {
				continue
			}
			p := joinPath(path, name)
			ix.set(p, d.Value.Pos())
			ix.setKey(p, d.Label.Pos())
			ix.indexExpr(p, d.Value)
		case *ast.EmbedDecl:
			ix.indexExpr(path, d.Expr)
		}
	}
}

// set keeps the first position seen: the user's own literal comes before
// anything a comprehension or a second file adds.
func (ix posIndex) set(path string, pos token.Pos) {
	if _, ok := ix[path]; !ok && pos.IsValid() {
		ix[path] = pos
	}
}

func (ix posIndex) setKey(path string, pos token.Pos) {
	if pos.IsValid() {
		ix.set(path+"\x00key", pos)
	}
}

// lookup returns the position of path, or of its nearest ancestor that the
// user wrote (a missing required field is reported at its parent).
func (ix posIndex) lookup(path string) (token.Pos, bool) {
	for {
		if p, ok := ix[path]; ok {
			return p, true
		}
		if path == "" {
			return token.NoPos, false
		}
		path = parentPath(path)
	}
}

// key returns the position of the field's label (for "unknown field").
func (ix posIndex) key(path string) (token.Pos, bool) {
	p, ok := ix[path+"\x00key"]
	return p, ok
}

func joinPath(parent, name string) string {
	if !isIdent(name) {
		name = strconv.Quote(name)
		if parent == "" {
			return name
		}
		return parent + "[" + name + "]"
	}
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '-'):
		default:
			return false
		}
	}
	return true
}

// cuePath converts CUE's path elements (["spec","clusters","0","name"]) to
// the form used in messages and in the index ("spec.clusters[0].name").
func cuePath(elems []string) string {
	var p string
	for _, e := range elems {
		if _, err := strconv.Atoi(e); err == nil {
			p += "[" + e + "]"
			continue
		}
		if uq, err := strconv.Unquote(e); err == nil {
			e = uq
		}
		p = joinPath(p, e)
	}
	return p
}
