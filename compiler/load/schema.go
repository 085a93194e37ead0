package load

import (
	"fmt"
	"io/fs"
	"path"
	"sync"
	"testing/fstest"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueload "cuelang.org/go/cue/load"

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
	intent cue.Value
	files  fstest.MapFS // the embedded module, copied once for user overlays
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
	insts := cueload.Instances([]string{"./detour"}, e.config(e.files, nil))
	if err := insts[0].Err; err != nil {
		return nil, fmt.Errorf("loading embedded schema: %w", err)
	}
	pkg := e.ctx.BuildInstance(insts[0])
	if err := pkg.Err(); err != nil {
		return nil, fmt.Errorf("building embedded schema: %w", err)
	}
	e.intent = pkg.LookupPath(cue.ParsePath("#Intent"))
	if err := e.intent.Err(); err != nil {
		return nil, fmt.Errorf("embedded schema has no #Intent: %w", err)
	}
	return e, nil
}

// config loads from fsys (the embedded module plus any user files under
// user/); names maps user/... back to the paths the user gave.
func (e *engine) config(fsys fs.FS, names map[string]string) *cueload.Config {
	return &cueload.Config{
		FS:         fsys,
		Dir:        "/",
		ModuleRoot: "/",
		FromFSPath: func(p string) string {
			if n, ok := names[path.Clean("/"+p)]; ok {
				return n
			}
			return schemaPrefix + p
		},
	}
}
