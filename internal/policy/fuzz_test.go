package policy

import (
	"os"
	"strings"
	"testing"

	"github.com/detour-mesh/detour/internal/yamltest"
)

// FuzzReadFile feeds arbitrary YAML streams to the document reader and the
// path positioner: no panic; every error names the file; every document
// and every field path's position is inside the file, at or after the
// start of its document.
func FuzzReadFile(f *testing.F) {
	for _, name := range []string{"testdata/unsafe/resources.yaml", "testdata/unsafe/intent.yaml", "testdata/warnonly/gateway.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "spec.http[0].retries")
	}
	f.Add([]byte("---\n---\n"), "a[1][2].b")
	f.Add([]byte("- 1\n- [2\n"), "[0]")
	f.Add([]byte("a: 1\n---\nb:\n  c: [1, {d: 2}]\n"), "b.c[1].d")
	f.Add([]byte("a: 1\r\n---\r\nb: {c: 2}\r\n"), "b.c")
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		docs, err := Parse("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml:") {
				t.Fatalf("error without the file prefix: %v", err)
			}
			return
		}
		last := yamltest.LastLine(data)
		for i, d := range docs {
			if d.File != "fuzz.yaml" {
				t.Fatalf("document %d names file %q", i, d.File)
			}
			if d.Line < 1 || d.Line > last || d.Column < 1 {
				t.Fatalf("document %d starts at %d:%d, outside the file's %d lines", i, d.Line, d.Column, last)
			}
			if i > 0 && d.Line < docs[i-1].Line {
				t.Fatalf("document %d starts at line %d, before document %d (line %d)", i, d.Line, i-1, docs[i-1].Line)
			}
			line, col := d.Position(path)
			if line < d.Line || line > last || col < 1 {
				t.Fatalf("%q in document %d (line %d) placed at %d:%d, outside it (file of %d lines)", path, i, d.Line, line, col, last)
			}
		}
	})
}
