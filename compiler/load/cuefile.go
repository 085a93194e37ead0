package load

import (
	"path/filepath"
	"testing/fstest"

	"cuelang.org/go/cue"
	cueload "cuelang.org/go/cue/load"
	"cuelang.org/go/cue/token"
)

type userFile struct {
	name string
	data []byte
}

// loadCUE loads .cue files as one package instance. The files are placed
// inside the embedded schema module, so `import "detour.dev/schemas/detour"`
// resolves to the embedded definitions without anything on disk.
//
// A file (or package) holds intents in one of two shapes: the whole value
// is one intent (it has a kind field), or every top-level field whose value
// has kind "FailoverIntent" is an intent; other top-level fields are helpers
// and are ignored.
func loadCUE(files []userFile) ([]Source, error) {
	return guard(files[0].name, func() ([]Source, error) { return loadCUEFiles(files) })
}

func loadCUEFiles(files []userFile) ([]Source, error) {
	eng, err := getEngine()
	if err != nil {
		return nil, err
	}
	fsys := make(fstest.MapFS, len(eng.files)+len(files))
	for k, v := range eng.files {
		fsys[k] = v
	}
	names := map[string]string{}
	args := make([]string, len(files))
	userNames := make([]string, len(files))
	for i, f := range files {
		p := "user/" + filepath.Base(f.name) // one directory: one package
		fsys[p] = &fstest.MapFile{Data: f.data, Mode: 0o444}
		names["/"+p] = f.name
		args[i] = "/" + p
		userNames[i] = f.name
	}
	eng.mu.Lock()
	defer eng.mu.Unlock()
	insts := cueload.Instances(args, eng.config(fsys, names))
	inst := insts[0]
	if inst.Err != nil {
		return nil, fromCUEError(inst.Err, userNames, nil, "")
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
		return nil, fromCUEError(err, userNames, ix, "")
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
			return nil, fromCUEError(err, userNames, ix, "")
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
