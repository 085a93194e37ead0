package load

import (
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/build"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/detour-mesh/detour/schemas"
)

type userFile struct {
	name string
	data []byte
}

// loadCUE loads .cue files as one package instance; an
// `import "detour.dev/schemas/detour"` resolves to the embedded definitions
// without anything on disk.
//
// A file (or package) holds intents in one of two shapes: the whole value
// is one intent (it has a kind field), or every top-level field whose value
// has kind "FailoverIntent" is an intent; other top-level fields are helpers
// and are ignored.
func (eng *engine) loadCUE(files []userFile) ([]Source, error) {
	// Only CUE can make evaluation explode (comprehensions, list builtins);
	// YAML is bounded by its alias limit and its size.
	return bounded(files[0].name, func() ([]Source, error) {
		return guard(files[0].name, func() ([]Source, error) { return eng.loadCUEFiles(files) })
	})
}

func (eng *engine) loadCUEFiles(files []userFile) ([]Source, error) {
	userNames := make([]string, len(files))
	for i, f := range files {
		userNames[i] = f.name
	}
	eng.mu.Lock()
	defer eng.mu.Unlock()
	inst, err := eng.userInstance(files)
	if err != nil {
		return nil, eng.fromCUEError(err, userNames, nil, "")
	}
	ix := posIndex{}
	start := token.NoPos
	for _, f := range inst.Files {
		ix.indexDecls("", f.Decls)
		if !start.IsValid() && len(f.Decls) > 0 {
			start = f.Pos()
		}
	}
	ix.set("", start)
	v := eng.ctx.BuildInstance(inst)
	if err := v.Err(); err != nil {
		// Err holds the first problem only; Validate lists them all.
		if verr := v.Validate(cue.All()); verr != nil {
			err = verr
		}
		return nil, eng.fromCUEError(err, userNames, ix, "")
	}

	var docs []document
	if v.LookupPath(cue.MakePath(cue.Str("kind"))).Exists() {
		pos, ok := ix.lookup("kind")
		if ok {
			start = pos
		}
		docs = append(docs, document{file: fileAt(start, userNames[0]), files: userNames, pos: start, value: v, index: ix})
	} else {
		it, err := v.Fields()
		if err != nil {
			return nil, eng.fromCUEError(err, userNames, ix, "")
		}
		for it.Next() {
			fv := it.Value()
			k, err := fv.LookupPath(cue.MakePath(cue.Str("kind"))).String()
			if err != nil || k != "FailoverIntent" {
				continue
			}
			prefix := cuePath([]string{it.Selector().Unquoted()})
			pos, _ := ix.key(prefix)
			docs = append(docs, document{file: fileAt(pos, userNames[0]), files: userNames, pos: pos, prefix: prefix, value: fv, index: ix})
		}
	}
	if len(docs) == 0 {
		// A broken top-level field may be the intent the user meant.
		if err := v.Validate(cue.Concrete(true), cue.All()); err != nil {
			return nil, eng.fromCUEError(err, userNames, ix, "")
		}
		return nil, Errors{{File: userNames[0], Line: 1, Column: 1,
			Msg: "no intent in file; expected a value with kind: \"FailoverIntent\" at the top level or in a top-level field"}}
	}
	var (
		srcs []Source
		errs Errors
	)
	for _, d := range docs {
		src, es := eng.validate(d)
		if len(es) > 0 {
			errs = append(errs, es...)
			continue
		}
		srcs = append(srcs, src)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return srcs, nil
}

func fileAt(pos token.Pos, fallback string) string {
	if pos.IsValid() && pos.Filename() != "" {
		return pos.Filename()
	}
	return fallback
}

// userInstance builds the package of the user's files without cue/load: the
// files are parsed as they are, imports of detour.dev/schemas/... resolve to
// the embedded module's instances (parsed once per process), the standard
// library to CUE's builtins, and anything else is an error.
func (e *engine) userInstance(files []userFile) (*build.Instance, error) {
	bctx := build.NewContext()
	inst := bctx.NewInstance("", func(pos token.Pos, path string) *build.Instance {
		if strings.HasPrefix(path, schemas.Module+"/") {
			if imp, err := e.schemaInstance(path); err == nil {
				return imp
			}
		} else if first, _, _ := strings.Cut(path, "/"); !strings.Contains(first, ".") {
			return nil // the standard library, built into CUE
		}
		bad := bctx.NewInstance(path, nil)
		bad.Err = cueerrors.Newf(pos, "cannot find package %q", path)
		return bad
	})
	for _, f := range files {
		syntax, err := parser.ParseFile(f.name, f.data, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		if err := inst.AddSyntax(syntax); err != nil {
			return nil, err
		}
	}
	if err := inst.Complete(); err != nil {
		return nil, err
	}
	return inst, nil
}
