// Package load reads failover intents written in YAML, JSON or CUE,
// validates them against the embedded CUE definition #Intent, fills in
// defaults and derived values, and decodes them into intent.Intent.
//
// Every problem is reported as an Error positioned in the user's file, never
// in the schema, with the field path and what was expected.
package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"
	"cuelang.org/go/encoding/yaml"
	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/detour-mesh/detour/compiler/intent"
)

// Source is one loaded, validated, normalised intent and where it was written.
type Source struct {
	Intent       intent.Intent
	File         string // path as the user gave it
	Line, Column int    // position of the intent document in File
}

// Paths loads files (.yaml, .yml, .json, .cue) and directories (walked
// whole, by the one directory rule: pipeline.dir). On failure it returns
// Errors (all errors found, sorted by file, line, column), and no Sources.
// Stream does the same document by document.
func Paths(paths ...string) ([]Source, error) {
	return collect(paths, nil)
}

// holdsIntent reports whether a YAML or JSON file found by a directory walk
// is meant as intents: one of its documents says kind FailoverIntent or an
// apiVersion of detour.dev. A file that does not parse counts when it names
// FailoverIntent, so a broken intent is reported rather than skipped.
func holdsIntent(r io.ReadSeeker) bool {
	dec := yamlv3.NewDecoder(r)
	for {
		var head struct {
			APIVersion any `yaml:"apiVersion"`
			Kind       any `yaml:"kind"`
		}
		err := dec.Decode(&head)
		if err == io.EOF {
			return false
		}
		if err != nil {
			if _, err := r.Seek(0, io.SeekStart); err != nil {
				return true // unreadable: let the loader say why
			}
			data, _ := io.ReadAll(io.LimitReader(r, maxDoc))
			return mentionsIntent(data)
		}
		if head.Kind == intent.Kind {
			return true
		}
		if v, ok := head.APIVersion.(string); ok && strings.HasPrefix(v, "detour.dev/") {
			return true
		}
	}
}

// CUEPackage loads .cue files of one directory, found by a directory walk,
// as one package, if one of them mentions an intent (ok reports whether
// it did); CUE that is not about intents is skipped.
func CUEPackage(names ...string) (srcs []Source, ok bool, err error) {
	files := make([]userFile, 0, len(names))
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, true, Errors{{File: name, Msg: err.Error()}}
		}
		files = append(files, userFile{name, data})
		ok = ok || mentionsIntent(data)
	}
	if !ok {
		return nil, false, nil
	}
	eng, build := engines.acquire(true)
	if eng == nil {
		if eng, err = build(); err != nil {
			return nil, true, err
		}
	}
	defer engines.release(eng)
	srcs, err = eng.loadCUE(files)
	return srcs, true, err
}

func mentionsIntent(data []byte) bool {
	return bytes.Contains(data, []byte(intent.Kind)) || bytes.Contains(data, []byte("#Intent"))
}

// Bytes loads one in-memory file; its name decides YAML/JSON vs CUE.
func Bytes(name string, data []byte) ([]Source, error) {
	return collect(nil, []Input{{Name: name, R: bytes.NewReader(data)}})
}

// collect runs Stream and gathers its documents: every Source, or every
// error sorted by position.
func collect(paths []string, inputs []Input) ([]Source, error) {
	var (
		srcs []Source
		errs Errors
	)
	err := Stream(context.Background(), paths, inputs, func(d Doc) error {
		srcs = append(srcs, d.Sources...)
		errs = append(errs, d.Errs...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, sortErrors(errs)
	}
	return srcs, nil
}

func statMessage(err error) string {
	if errors.Is(err, os.ErrNotExist) {
		return "no such file or directory"
	}
	return err.Error()
}

func asErrors(err error) Errors {
	if err == nil {
		return nil
	}
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	return Errors{{Msg: err.Error()}}
}

// document is one intent value to validate, with what is needed to report
// its problems in the user's terms.
type document struct {
	file   string    // where the document starts
	files  []string  // every user file the document may come from
	pos    token.Pos // start of the document
	prefix string    // path of the intent inside the file ("" for YAML)
	value  cue.Value // the user's value, not yet unified with #Intent
	index  posIndex
}

// yamlDocs validates the documents of one piece of a YAML/JSON stream
// (Stream splits streams at "---"). n counts the documents that are not
// empty; syntax reports a syntax error, after which the decoder cannot
// resynchronise: the rest of the file is not evaluated.
func (e *engine) yamlDocs(name string, data []byte) (srcs []Source, errs Errors, n int, syntax bool) {
	dec := yaml.NewDecoder(name, bytes.NewReader(data))
	for {
		expr, err := dec.Extract()
		if err == io.EOF {
			break
		}
		if err != nil {
			es := e.fromCUEError(err, []string{name}, nil, "")
			for _, er := range es {
				if er.File != name || !strings.HasPrefix(er.Msg, "invalid YAML: ") {
					continue
				}
				if line, col, ok := syntaxPosition(data, er.Line); ok {
					er.Line, er.Column = line, col
				}
			}
			return srcs, append(errs, es...), n, true
		}
		if lit, ok := expr.(*ast.BasicLit); ok && lit.Kind == token.NULL {
			continue // an empty document between "---" separators
		}
		n++
		if dups := duplicateKeys(name, "", expr); len(dups) > 0 {
			errs = append(errs, dups...)
			continue
		}
		ix := posIndex{}
		ix.set("", expr.Pos()) // where a missing top-level field is reported
		ix.indexExpr("", expr)
		src, es := e.validateExpr(name, expr, ix)
		if len(es) > 0 {
			errs = append(errs, es...)
			continue
		}
		srcs = append(srcs, src)
	}
	return srcs, errs, n, false
}

// validateExpr builds one YAML document and validates it.
func (e *engine) validateExpr(name string, expr ast.Expr, ix posIndex) (Source, Errors) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v := e.ctx.BuildExpr(expr, cue.Filename(name))
	return e.validate(document{file: name, files: []string{name}, pos: expr.Pos(), value: v, index: ix})
}

// guard turns a panic inside the CUE evaluator into an error: a bad file
// must never crash the CLI, and the message says it is our bug.
func guard(file string, load func() ([]Source, error)) (srcs []Source, err error) {
	if err := afterRunaway(file); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			srcs, err = nil, Errors{{File: file, Msg: fmt.Sprintf("internal error while evaluating the intent (please report): %v", r)}}
		}
	}()
	return load()
}

// validate unifies one document with #Intent, reports every problem CUE
// and the Go checks find, and decodes the normalised intent.
func (e *engine) validate(doc document) (Source, Errors) {
	src := Source{File: doc.file}
	if pos := doc.pos.Position(); pos.IsValid() {
		src.Line, src.Column = pos.Line, pos.Column
	}
	if err := doc.value.Err(); err != nil {
		return src, e.fromCUEError(err, doc.files, doc.index, doc.prefix)
	}
	// A document that is not a struct cannot be an intent; say so once
	// instead of listing every missing field.
	if doc.value.IncompleteKind() != cue.StructKind {
		return src, Errors{doc.errorAt("", "expected a FailoverIntent object (apiVersion, kind, metadata, spec)")}
	}
	// A document of another kind gets one error, not one per field.
	kind := doc.value.LookupPath(cue.MakePath(cue.Str("kind")))
	if !kind.Exists() {
		return src, Errors{doc.errorAt("", "not a failover intent: expected apiVersion: "+intent.APIVersion+" and kind: "+intent.Kind)}
	}
	if k, err := kind.String(); err == nil && k != intent.Kind {
		return src, Errors{doc.errorAt("kind", fmt.Sprintf("must be %q, not %q: this file holds failover intents only", intent.Kind, k))}
	}
	u := e.fast.Unify(doc.value)
	ok := u.Validate(cue.Concrete(true)) == nil
	if ok {
		var err error
		if src.Intent, err = decodeIntent(u); err != nil {
			return src, doc.decodeError(e, err)
		}
		ok = crossCheckOK(&src.Intent)
	}
	if !ok {
		// Again with the messages (and the cross-field checks) the fast
		// schema leaves out.
		u = e.intent.Unify(doc.value)
		if err := allErrors(u, 0); err != nil {
			return src, e.fromCUEError(err, doc.files, doc.index, doc.prefix)
		}
		// Only if crossCheckOK is stricter than the schema: the schema
		// decides.
		var err error
		if src.Intent, err = decodeIntent(u); err != nil {
			return src, doc.decodeError(e, err)
		}
	}
	if es := e.compose(&src.Intent, doc); len(es) > 0 {
		return src, es
	}
	normalise(&src.Intent)
	return src, nil
}

// decodeIntent decodes a validated value into the Go types.
func decodeIntent(u cue.Value) (intent.Intent, error) {
	var in intent.Intent
	b, err := u.MarshalJSON()
	if err != nil {
		return in, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, errDecode{err}
	}
	return in, nil
}

// errDecode is the schema and the Go types disagreeing: a bug, not the
// user's fault.
type errDecode struct{ error }

func (doc document) decodeError(e *engine, err error) Errors {
	if _, ok := err.(errDecode); ok {
		return Errors{doc.errorAt("", fmt.Sprintf("internal error: decoding the validated intent: %v", err))}
	}
	return e.fromCUEError(err, doc.files, doc.index, doc.prefix)
}

// allErrors validates v and, where errors were found, each of its fields
// and elements on their own: CUE leaves out missing required fields when a
// value has other errors, so without this the user would learn about them
// only after fixing the rest. Duplicates are dropped by sortErrors.
func allErrors(v cue.Value, depth int) cueerrors.Error {
	err := v.Validate(cue.Concrete(true), cue.All())
	if err == nil {
		return nil
	}
	var all cueerrors.Error
	for _, e := range cueerrors.Errors(err) {
		all = cueerrors.Append(all, e)
	}
	if depth == 4 {
		return all
	}
	var children []cue.Value
	if it, err := v.Fields(); err == nil {
		for it.Next() {
			children = append(children, it.Value())
		}
	} else if it, err := v.List(); err == nil {
		for it.Next() {
			children = append(children, it.Value())
		}
	}
	for _, c := range children {
		// Only the missing fields: other errors of a part seen alone are
		// echoes of the ones above (a derived default of an invalid name).
		for _, ce := range cueerrors.Errors(allErrors(c, depth+1)) {
			if format, _ := ce.Msg(); format == requiredMsg {
				all = cueerrors.Append(all, ce)
			}
		}
	}
	return all
}

// requiredMsg is CUE's message for a missing required field.
const requiredMsg = "field is required but not present"

// errorAt builds an Error for path (relative to the intent), positioned at
// the value the user wrote there or at its nearest written ancestor.
func (doc document) errorAt(path, msg string) *Error {
	full := joinRel(doc.prefix, path)
	pos, ok := doc.index.lookup(full)
	if !ok {
		pos = doc.pos
	}
	file := doc.file
	if pos.IsValid() && pos.Filename() != "" {
		file = pos.Filename()
	}
	return newError(file, pos, full, msg)
}

func joinRel(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case path[0] == '[':
		return prefix + path
	}
	return prefix + "." + path
}

func newError(file string, pos token.Pos, path, msg string) *Error {
	// Without a position (an empty file, a document with no fields) the
	// error points at the file's start: every error keeps file:line:col.
	e := &Error{File: file, Path: path, Msg: msg, Line: 1, Column: 1}
	if p := pos.Position(); p.IsValid() {
		e.Line, e.Column = p.Line, p.Column
	}
	return e
}

// fromCUEError converts CUE's errors into Errors positioned in file. It
// drops the noise a failed disjunction produces (the default's
// "conflicting values", "empty disjunction" headers) when a specific
// message explains the same field.
func (e *engine) fromCUEError(err error, files []string, ix posIndex, prefix string) Errors {
	type item struct {
		path    string
		msg     string
		pos     token.Pos
		generic bool
	}
	var (
		items  []item
		syntax Errors
	)
	for _, ce := range cueerrors.Errors(err) {
		elems := cueerrors.Path(ce)
		if len(elems) > 0 && elems[0] == "#Intent" {
			elems = elems[1:] // the path inside the schema, not the user's
		}
		path := joinRel(prefix, cuePath(elems))
		format, args := ce.Msg()
		msg := fmt.Sprintf(format, args...)
		if msg == "" {
			msg = ce.Error() // a plain error wrapped by CUE (YAML syntax)
		}
		if msg == "import failed" {
			msg = importMessage(ce.Error())
		}
		if e := yamlSyntaxError(msg, files); e != nil {
			syntax = append(syntax, e)
			continue
		}
		// The schema's cross-field checks (hidden field _check) start their
		// message with the path of the field at fault, relative to the
		// intent: report it there.
		if k := slices.Index(elems, "_check"); k >= 1 {
			if i := strings.Index(msg, ": "); i > 0 && strings.HasPrefix(msg, "spec") {
				path = joinRel(prefix, joinRel(cuePath(elems[:k-1]), msg[:i]))
				msg = msg[i+2:]
			}
		}
		it := item{path: path, msg: msg, generic: isGeneric(msg)}
		if strings.Contains(msg, "(mismatched types ") {
			if want := e.kindName(elems); want != "" {
				it.msg = "must be " + want
			}
		}
		// Prefer where the user wrote the field itself; then any position
		// CUE recorded in the user's files; then the nearest parent.
		if msg == "field not allowed" {
			it.msg = "unknown field"
			if fields := e.schemaFields(elems); len(fields) > 0 {
				it.msg += "; expected one of " + strings.Join(fields, ", ")
			}
			it.pos, _ = ix.key(path)
		} else if path != "" {
			it.pos = ix[path]
		}
		if !it.pos.IsValid() {
			for _, p := range cueerrors.Positions(ce) {
				if slices.Contains(files, p.Filename()) {
					it.pos = p
					break
				}
			}
		}
		if !it.pos.IsValid() {
			it.pos, _ = ix.lookup(path)
		}
		items = append(items, it)
	}
	out := syntax
	for _, it := range items {
		// list.MinItems also fails when an element is invalid; only keep
		// the message if the user really wrote fewer than two clusters.
		if strings.HasPrefix(it.msg, "needs at least two clusters") {
			if _, ok := ix[it.path+"[1]"]; ok {
				continue
			}
		}
		if it.generic && slices.ContainsFunc(items, func(o item) bool {
			return !o.generic && related(it.path, o.path)
		}) {
			continue
		}
		file := files[0]
		if it.pos.IsValid() {
			file = it.pos.Filename()
		}
		out = append(out, newError(file, it.pos, it.path, it.msg))
	}
	return out
}

// isGeneric reports CUE messages that a failed default or alternative of a
// disjunction produces; a specific error() message on the same field says
// more.
func isGeneric(msg string) bool {
	return strings.HasPrefix(msg, "conflicting values") ||
		strings.Contains(msg, "errors in empty disjunction") ||
		strings.HasPrefix(msg, "incompatible list lengths") ||
		strings.HasPrefix(msg, "invalid value") ||
		strings.HasPrefix(msg, "value not an instance")
}

// related is true when a and b are the same field, one contains the other,
// or they are elements of the same list.
func related(a, b string) bool {
	if a == b || within(a, b) || within(b, a) {
		return true
	}
	pa, pb := listParent(a), listParent(b)
	return pa != "" && pa == pb
}

func within(child, parent string) bool {
	return parent == "" || strings.HasPrefix(child, parent) && len(child) > len(parent) &&
		(child[len(parent)] == '.' || child[len(parent)] == '[')
}

// listParent returns the list a path is an element of, or "".
func listParent(p string) string {
	if i := strings.LastIndexByte(p, '['); i > 0 && strings.HasSuffix(p, "]") {
		return p[:i]
	}
	return ""
}

// yamlSyntaxRE matches the YAML parser's "file:line: message".
var yamlSyntaxRE = regexp.MustCompile(`^(.+):([0-9]+): (.+)$`)

// yamlSyntaxError recognises a YAML syntax error about one of files; the
// parser gives a line but no column, so the column is 1 until
// syntaxPosition places it.
func yamlSyntaxError(msg string, files []string) *Error {
	m := yamlSyntaxRE.FindStringSubmatch(msg)
	if m == nil || !slices.Contains(files, m[1]) {
		return nil
	}
	line, _ := strconv.Atoi(m[2])
	return &Error{File: m[1], Line: line, Column: 1, Msg: "invalid YAML: " + m[3]}
}

// importMessage turns CUE's "import failed: pos: cannot find package ..."
// into a message saying what can be imported.
func importMessage(full string) string {
	i := strings.Index(full, "cannot find package")
	if i < 0 {
		return full
	}
	msg := full[i:]
	if j := strings.Index(msg, ": "); j > 0 {
		msg = msg[:j]
	}
	return msg + "; an intent can import detour.dev/schemas/... and CUE's standard library"
}
