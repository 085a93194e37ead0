package compiler

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/detour-mesh/detour/internal/golden"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name    string
		before  map[string]string // existing content of dir; nil = absent
		asFile  bool              // dir exists as a regular file
		files   []File
		wantErr string
		want    map[string]string
	}{
		{
			name:  "new directory",
			files: []File{{"ns/a/intent.yaml", []byte("a")}, {"ns/a/clusters/x.yaml", []byte("x")}},
			want:  map[string]string{"ns/a/intent.yaml": "a", "ns/a/clusters/x.yaml": "x"},
		},
		{
			name:   "replaces an existing output directory whole",
			before: map[string]string{Marker: "m", "stale.yaml": "old", "ns/a/intent.yaml": "old"},
			files:  []File{{"ns/a/intent.yaml", []byte("new")}},
			want:   map[string]string{"ns/a/intent.yaml": "new"},
		},
		{
			name:   "an existing empty directory is used",
			before: map[string]string{},
			files:  []File{{"a.yaml", []byte("a")}},
			want:   map[string]string{"a.yaml": "a"},
		},
		{
			name:    "refuses a directory it did not write",
			before:  map[string]string{"notes.txt": "precious"},
			files:   []File{{"a.yaml", []byte("x")}},
			wantErr: "not written by detour compile",
			want:    map[string]string{"notes.txt": "precious"},
		},
		{
			name:    "error leaves the existing directory untouched",
			before:  map[string]string{Marker: "m", "keep.yaml": "keep"},
			files:   []File{{"ok.yaml", []byte("x")}, {"../escape.yaml", []byte("x")}},
			wantErr: "escapes the output directory",
			want:    map[string]string{"keep.yaml": "keep"},
		},
		{
			name:    "a file in the way",
			asFile:  true,
			files:   []File{{"a.yaml", []byte("x")}},
			wantErr: "is not a directory",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "out")
			if tc.before != nil {
				require.NoError(t, os.MkdirAll(dir, 0o755))
			}
			for p, c := range tc.before {
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644))
			}
			if tc.asFile {
				require.NoError(t, os.WriteFile(dir, []byte("file"), 0o644))
			}
			err := Write(dir, tc.files)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			if tc.want != nil {
				got := golden.ReadTree(t, dir)
				if tc.wantErr == "" {
					assert.Contains(t, got, Marker, "a written directory carries the marker")
					delete(got, Marker)
				} else if _, ok := tc.before[Marker]; ok {
					delete(got, Marker)
				}
				assert.Equal(t, tc.want, got)
			}
			// Nothing but the output directory remains next to it.
			entries, err := os.ReadDir(parent)
			require.NoError(t, err)
			require.Len(t, entries, 1)
			assert.Equal(t, "out", entries[0].Name())
		})
	}
}
