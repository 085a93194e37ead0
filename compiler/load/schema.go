package load

import (
	"fmt"
	"io/fs"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing/fstest"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/ast/astutil"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueload "cuelang.org/go/cue/load"
	"cuelang.org/go/cue/token"

	"github.com/detour-mesh/detour/schemas"
)

// schemaPrefix marks positions inside the embedded schema in error
// positions, so they are never mistaken for the user's file.
const schemaPrefix = "$detour/schemas/"

// engine holds the CUE context and the compiled #Intent, built once per
// process: per intent only unify, validate and decode remain. cue.Value is
// not safe for concurrent use, so every evaluation holds mu.
type engine struct {
	mu     sync.Mutex
	ctx    *cue.Context
	pkg    cue.Value // the schema package
	intent cue.Value // #Intent
	// fast is #Intent with every "X | error(msg)" reduced to X and without
	// the cross-field checks (_check), which crossCheckOK does in Go: with
	// them it accepts and produces exactly the same values, but CUE need
	// not evaluate the message disjuncts. Valid intents (the common case)
	// are checked with it; an intent it or crossCheckOK rejects is checked
	// again with intent for messages.
	fast  cue.Value
	files fstest.MapFS               // the embedded module, read once
	insts map[string]*build.Instance // its packages, loaded on first import
}

var (
	engineOnce sync.Once
	theEngine  *engine
	engineErr  error
)

func getEngine() (*engine, error) {
	engineOnce.Do(func() { theEngine, engineErr = newEngine() })
	return theEngine, engineErr
}

// engines lends engines to Stream's workers: the first is getEngine's,
// further ones are built on demand (up to GOMAXPROCS) and kept for later
// loads in the process.
var engines enginePool

type enginePool struct {
	mu    sync.Mutex
	cond  *sync.Cond
	idle  []*engine
	built int // engines in existence, theEngine included
}

// acquire returns an idle engine, or a function that builds one when fewer
// than GOMAXPROCS exist (the caller runs it on its own goroutine). With
// wait, it waits for an engine to be released; without, it returns
// neither when none is idle and no more may be built.
func (p *enginePool) acquire(wait bool) (*engine, func() (*engine, error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cond == nil {
		p.cond = sync.NewCond(&p.mu)
	}
	for {
		if n := len(p.idle); n > 0 {
			e := p.idle[n-1]
			p.idle = p.idle[:n-1]
			return e, nil
		}
		if p.built < max(1, runtime.GOMAXPROCS(0)) {
			p.built++
			build := newEngine
			if p.built == 1 {
				build = getEngine
			}
			return nil, func() (*engine, error) {
				e, err := build()
				if err != nil {
					p.mu.Lock()
					p.built--
					p.mu.Unlock()
					p.cond.Signal()
				}
				return e, err
			}
		}
		if !wait {
			return nil, nil
		}
		p.cond.Wait()
	}
}

func (p *enginePool) release(e *engine) {
	p.mu.Lock()
	p.idle = append(p.idle, e)
	p.mu.Unlock()
	p.cond.Signal()
}

func newEngine() (*engine, error) {
	e := &engine{ctx: cuecontext.New(), files: fstest.MapFS{}}
	err := fs.WalkDir(schemas.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(schemas.FS, p)
		if err != nil {
			return err
		}
		e.files[p] = &fstest.MapFile{Data: b, Mode: 0o444}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading embedded schemas: %w", err)
	}
	inst, err := e.schemaInstance(schemas.IntentPackage)
	if err != nil {
		return nil, fmt.Errorf("loading embedded schema: %w", err)
	}
	pkg := e.ctx.BuildInstance(inst)
	if err := pkg.Err(); err != nil {
		return nil, fmt.Errorf("building embedded schema: %w", err)
	}
	e.pkg = pkg
	e.intent = pkg.LookupPath(cue.ParsePath("#Intent"))
	if err := e.intent.Err(); err != nil {
		return nil, fmt.Errorf("embedded schema has no #Intent: %w", err)
	}

	fastInst := cueload.Instances([]string{"./detour"}, e.config(e.files))[0]
	if fastInst.Err != nil {
		return nil, fmt.Errorf("loading embedded schema: %w", fastInst.Err)
	}
	for _, f := range fastInst.Files {
		dropMessages(f)
	}
	fast := e.ctx.BuildInstance(fastInst)
	e.fast = fast.LookupPath(cue.ParsePath("#Intent"))
	if err := e.fast.Err(); err != nil {
		return nil, fmt.Errorf("building the fast schema: %w", err)
	}
	return e, nil
}

// dropMessages rewrites "X | error(msg)" to X throughout f. error() is
// bottom, so the disjunction means X; only the message is lost. It also
// drops the cross-field checks (the hidden field _check): crossCheckOK does
// them in Go on the decoded intent, once.
func dropMessages(f *ast.File) {
	astutil.Apply(f, nil, func(c astutil.Cursor) bool {
		if b, ok := c.Node().(*ast.BinaryExpr); ok && b.Op == token.OR && isErrorCall(b.Y) {
			c.Replace(b.X)
		}
		if fd, ok := c.Node().(*ast.Field); ok {
			if id, ok := fd.Label.(*ast.Ident); ok && id.Name == "_check" {
				c.Delete()
			}
		}
		return true
	})
}

func isErrorCall(x ast.Expr) bool {
	call, ok := x.(*ast.CallExpr)
	if !ok {
		return false
	}
	id, ok := call.Fun.(*ast.Ident)
	return ok && id.Name == "error"
}

// schemaInstance loads a package of the embedded module once and keeps it
// for every user file importing it.
func (e *engine) schemaInstance(importPath string) (*build.Instance, error) {
	if inst, ok := e.insts[importPath]; ok {
		return inst, inst.Err
	}
	rel := "./" + strings.TrimPrefix(importPath, schemas.Module+"/")
	inst := cueload.Instances([]string{rel}, e.config(e.files))[0]
	if e.insts == nil {
		e.insts = map[string]*build.Instance{}
	}
	e.insts[importPath] = inst
	return inst, inst.Err
}

// config loads packages of the embedded module; positions in it are
// prefixed so that they are never mistaken for the user's file.
func (e *engine) config(fsys fs.FS) *cueload.Config {
	return &cueload.Config{
		FS:         fsys,
		Dir:        "/",
		ModuleRoot: "/",
		FromFSPath: func(p string) string { return schemaPrefix + strings.TrimPrefix(p, "/") },
	}
}

// listElems names the definition of the elements of the intent's lists of
// structs.
var listElems = map[string]string{
	"clusters":  "#Cluster",
	"subsets":   "#Subset",
	"rules":     "#Rule",
	"only":      "#Locality",
	"anyExcept": "#Locality",
}

// schemaValue returns the schema's value for the field at elems (a CUE
// error path). elems may start with the name of a top-level field of a CUE
// file; the intent part starts at metadata or spec, else it is a top-level
// field of the intent.
func (e *engine) schemaValue(elems []string) (cue.Value, bool) {
	if e == nil || len(elems) == 0 {
		return cue.Value{}, false
	}
	start := slices.IndexFunc(elems, func(s string) bool { return s == "metadata" || s == "spec" })
	if start < 0 {
		start = len(elems) - 1
	}
	v := e.intent
	for i, el := range elems[start:] {
		if _, err := strconv.Atoi(el); err == nil {
			// An element of a list: look up the element's definition, as
			// list values with validators do not expose their element type.
			def, ok := listElems[elems[start+i-1]]
			if !ok {
				return cue.Value{}, false
			}
			v = e.pkg.LookupPath(cue.ParsePath(def))
			continue
		}
		v = lookupField(v, el)
	}
	return v, v.Exists()
}

// schemaFields lists the fields #Intent allows in the struct holding the
// field at elems, for "unknown field" messages.
func (e *engine) schemaFields(elems []string) []string {
	if e == nil || len(elems) == 0 {
		return nil
	}
	v, ok := e.schemaValue(elems[:len(elems)-1])
	if len(elems) == 1 {
		v, ok = e.intent, true
	}
	if !ok {
		return nil
	}
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return nil
	}
	var names []string
	for it.Next() {
		names = append(names, it.Selector().Unquoted())
	}
	return names
}

// kindName says in words what kind of value the schema expects at elems.
func (e *engine) kindName(elems []string) string {
	v, ok := e.schemaValue(elems)
	if !ok {
		return ""
	}
	switch k := v.IncompleteKind(); {
	case k == cue.StructKind:
		// Name the fields of a small object: "budget: 20%" should learn
		// what to write instead.
		if it, err := v.Fields(cue.Optional(true)); err == nil {
			var names []string
			for it.Next() {
				names = append(names, it.Selector().Unquoted())
			}
			if len(names) > 0 && len(names) <= 6 {
				return "an object with fields " + strings.Join(names, ", ")
			}
		}
		return "an object (key: value fields)"
	case k == cue.ListKind:
		return "a list"
	case k == cue.StringKind:
		return "a string"
	case k == cue.IntKind:
		return "a whole number"
	case k&^(cue.IntKind|cue.FloatKind) == 0 && k != 0:
		return "a number"
	case k == cue.BoolKind:
		return "true or false"
	}
	return ""
}

// lookupField finds a regular, optional or required field of v.
func lookupField(v cue.Value, name string) cue.Value {
	sel := cue.Str(name)
	for _, s := range []cue.Selector{sel, sel.Optional(), sel.Required()} {
		if f := v.LookupPath(cue.MakePath(s)); f.Exists() {
			return f
		}
	}
	return v.LookupPath(cue.MakePath(sel))
}
