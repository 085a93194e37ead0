// Package policies holds Detour's Rego policies in conftest's layout and
// embeds them, so `detour policy` evaluates the very files that stock
// `conftest test -p policies/` and `opa test policies/` read.
package policies

import (
	"embed"
	"io/fs"
	"strings"
)

//go:embed *.rego lib/*.rego
var files embed.FS

// Modules returns the policy modules (tests excluded) keyed by their path
// inside policies/, e.g. "lib/intent.rego".
func Modules() (map[string]string, error) {
	mods := map[string]string{}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") || strings.HasSuffix(p, "_test.rego") {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		mods[p] = string(b)
		return nil
	})
	return mods, err
}
