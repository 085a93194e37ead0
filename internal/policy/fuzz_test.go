package policy

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadFile feeds arbitrary YAML streams to the document reader and the
// path positioner: errors are fine, panics are not.
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
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		p := filepath.Join(dir, "doc.yaml")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		docs, err := readFile(p)
		if err != nil {
			return
		}
		for _, d := range docs {
			line, _ := d.Position(path)
			if line < 0 {
				t.Fatalf("negative line %d for %q", line, path)
			}
		}
	})
}
