// Package walk is the one rule every detour command uses to turn a
// directory argument into input files: walk the whole tree, in lexical
// order, skipping what is never input.
//
// Skipped below the directory given (never the directory itself, so
// `detour policy out/` still reads compiled output when asked to):
//   - hidden directories (.git, .github, editors' state);
//   - cue.mod (CUE's module metadata and vendored schemas);
//   - directories a detour command wrote: they hold its marker file
//     (.detour-compile from `compile -o`, .detour-package from `package -o`),
//     so compiled output kept next to its intents is not read as input.
package walk

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Markers are the files that mark a directory a detour command wrote. The
// writers define their own constants; a test keeps them in this list.
var Markers = []string{".detour-compile", ".detour-package"}

// InputFile reports whether a file name has an input extension: YAML, JSON
// or CUE.
func InputFile(name string) bool {
	switch filepath.Ext(name) {
	case ".yaml", ".yml", ".json", ".cue":
		return true
	}
	return false
}

// Tree lists the input files (InputFile) under root, hidden files included
// only when not inside a skipped directory; hidden files themselves are
// skipped. Files come in lexical order of their paths, which is also the
// order WalkDir visits them.
func Tree(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && SkipDir(p) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(d.Name(), ".") && InputFile(p) {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}

// SkipDir reports whether a directory met during a walk is never input.
func SkipDir(dir string) bool {
	name := filepath.Base(dir)
	if strings.HasPrefix(name, ".") || name == "cue.mod" {
		return true
	}
	for _, m := range Markers {
		if _, err := os.Lstat(filepath.Join(dir, m)); err == nil {
			return true
		}
	}
	return false
}

// Split separates the files of a walk into YAML and JSON files, in order,
// and .cue files grouped by directory (a directory's .cue files are one
// CUE package), directories in the order first met.
func Split(files []string) (plain []string, packages [][]string) {
	at := map[string]int{}
	for _, f := range files {
		if filepath.Ext(f) != ".cue" {
			plain = append(plain, f)
			continue
		}
		d := filepath.Dir(f)
		i, ok := at[d]
		if !ok {
			i = len(packages)
			at[d] = i
			packages = append(packages, nil)
		}
		packages[i] = append(packages[i], f)
	}
	return plain, packages
}
