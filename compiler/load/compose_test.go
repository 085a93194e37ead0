package load

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// composeIntent is a valid intent whose spec.compose names file.
func composeIntent(file string) string {
	b, err := os.ReadFile("testdata/invalid/compose-file-retries.yaml")
	if err != nil {
		panic(err)
	}
	return strings.Replace(string(b), "compose/retries.yaml", file, 1)
}

const teamVS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-canary}
spec:
  hosts: [reviews]
  http:
    - route:
        - destination: {host: reviews, subset: v2}
`

// TestComposeFileBounds: the file spec.compose names is read only inside
// the intent's directory and only up to MaxComposeBytes; the cases need a
// file system layout (a symbolic link, a large file) the fixtures of the
// error table do not hold.
func TestComposeFileBounds(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		setup func(t *testing.T, dir string)
		want  string // "" = valid
	}{
		{"inside, below a directory", "team/vs.yaml", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "team", "vs.yaml"), teamVS)
		}, ""},
		{"a link that stays inside", "vs.yaml", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "team", "real.yaml"), teamVS)
			require.NoError(t, os.Symlink(filepath.Join("team", "real.yaml"), filepath.Join(dir, "vs.yaml")))
		}, ""},
		{"a link out of the directory", "vs.yaml", func(t *testing.T, dir string) {
			outside := filepath.Join(t.TempDir(), "vs.yaml")
			write(t, outside, teamVS)
			require.NoError(t, os.Symlink(outside, filepath.Join(dir, "vs.yaml")))
		}, `intent.yaml:25:21: spec.compose.virtualService: "vs.yaml" leads out of the intent's directory (a symbolic link); the file must be inside it`},
		{"a directory", "vs.yaml", func(t *testing.T, dir string) {
			require.NoError(t, os.Mkdir(filepath.Join(dir, "vs.yaml"), 0o755))
		}, `intent.yaml:25:21: spec.compose.virtualService: "vs.yaml" is not a regular file`},
		{"at the size limit", "vs.yaml", func(t *testing.T, dir string) {
			pad := MaxComposeBytes - len(teamVS) - 1
			write(t, filepath.Join(dir, "vs.yaml"), teamVS+"#"+strings.Repeat("x", pad-1)+"\n")
		}, ""},
		{"over the size limit", "vs.yaml", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "vs.yaml"), teamVS+"#"+strings.Repeat("x", MaxComposeBytes)+"\n")
		}, `intent.yaml:25:21: spec.compose.virtualService: "vs.yaml" is larger than 256 KiB; a composed VirtualService holds one service's routes`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			file := filepath.Join(dir, "intent.yaml")
			write(t, file, composeIntent(tc.path))
			srcs, err := Paths(file)
			if tc.want == "" {
				require.NoError(t, err)
				require.Len(t, srcs, 1)
				require.NotNil(t, srcs[0].Intent.Spec.Compose)
				routes := srcs[0].Intent.Spec.Compose.Routes
				require.Len(t, routes, 1)
				assert.Equal(t, "reviews.bookinfo.svc.cluster.local", routes[0].Route[0].Destination.Host, "hosts are written as the FQDN")
				return
			}
			require.Error(t, err)
			assert.Empty(t, srcs)
			assert.Equal(t, tc.want, strings.TrimPrefix(err.Error(), dir+string(filepath.Separator)))
		})
	}
}

func write(t *testing.T, file, data string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
	require.NoError(t, os.WriteFile(file, []byte(data), 0o644))
}

// FuzzComposeFile feeds arbitrary bytes as the file spec.compose names.
// The loader must not panic, must report every problem in the intent or in
// that file, and whatever it accepts routes only to the intent's service
// and subsets. The seed corpus (every team file of the fixtures and the
// examples) runs as a test.
func FuzzComposeFile(f *testing.F) {
	for _, glob := range []string{"testdata/*/compose/*", "../../examples/*/routes/*.yaml"} {
		files, err := filepath.Glob(glob)
		require.NoError(f, err)
		for _, p := range files {
			b, err := os.ReadFile(p)
			require.NoError(f, err)
			f.Add(b)
		}
	}
	intentYAML := composeIntent("vs.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		file, team := filepath.Join(dir, "intent.yaml"), filepath.Join(dir, "vs.yaml")
		write(t, file, intentYAML)
		write(t, team, string(data))
		srcs, err := Paths(file)
		if err != nil {
			var errs Errors
			require.ErrorAs(t, err, &errs)
			for _, e := range errs {
				assert.Contains(t, []string{file, team}, e.File)
				assert.NotContains(t, e.Msg, "internal error")
			}
			return
		}
		require.Len(t, srcs, 1)
		c := srcs[0].Intent.Spec.Compose
		require.NotEmpty(t, c.Routes)
		for _, r := range c.Routes {
			require.NotEmpty(t, r.Route)
			assert.Nil(t, r.Retries)
			assert.Nil(t, r.Timeout)
			for _, d := range r.Route {
				assert.Equal(t, "reviews.bookinfo.svc.cluster.local", d.Destination.Host)
				assert.Contains(t, []string{"", "v1", "v2"}, d.Destination.Subset)
			}
		}
	})
}
