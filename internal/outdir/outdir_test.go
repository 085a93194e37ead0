package outdir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testOwner = Owner{Marker: ".detour-test", Tool: "detour test"}

// deadPID is above Linux's largest pid_max (2^22): no process has it.
const deadPID = 1<<22 + 1

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func mkdir(t *testing.T, dir string, files ...string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, f := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644))
	}
}

func writeAB(w *Writer) error {
	if err := w.WriteFile("a", []byte("a")); err != nil {
		return err
	}
	return w.WriteFile("sub/b", []byte("b"))
}

// A run killed mid-write leaves its temporary directory; the next run
// removes it when the marker proves it is the owner's and its process is
// gone, and leaves everything else alone.
func TestReplaceRemovesStaleTemporaries(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	dead := strconv.Itoa(deadPID)
	live := strconv.Itoa(os.Getppid()) // the go command running this test
	mkdir(t, filepath.Join(parent, ".out.tmp-"+dead+"-111"), testOwner.Marker, "half.yaml")
	mkdir(t, filepath.Join(parent, ".out.old-"+dead+"-222"), testOwner.Marker)
	mkdir(t, filepath.Join(parent, ".out.tmp-"+dead+"-333"), "no-marker.yaml")   // not provably ours
	mkdir(t, filepath.Join(parent, ".out.tmp-"+live+"-444"), testOwner.Marker)   // a run still going
	mkdir(t, filepath.Join(parent, ".other.tmp-"+dead+"-555"), testOwner.Marker) // another target's
	mkdir(t, filepath.Join(parent, ".out.tmp-"+dead+"-666"), ".someone-else")    // another owner's

	require.NoError(t, Replace(context.Background(), dir, testOwner, writeAB))
	assert.ElementsMatch(t, []string{
		".other.tmp-" + dead + "-555",
		".out.tmp-" + dead + "-333",
		".out.tmp-" + dead + "-666",
		".out.tmp-" + live + "-444",
		"out",
	}, entries(t, parent))
}

func TestReplaceInterrupted(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	mkdir(t, dir, testOwner.Marker, "keep")
	ctx, cancel := context.WithCancel(context.Background())
	err := Replace(ctx, dir, testOwner, func(w *Writer) error {
		require.NoError(t, w.WriteFile("a", []byte("a")))
		cancel()
		return w.WriteFile("b", []byte("b"))
	})
	require.ErrorIs(t, err, ErrInterrupted)
	assert.Equal(t, []string{"out"}, entries(t, parent), "the temporary directory is removed")
	assert.Equal(t, []string{testOwner.Marker, "keep"}, entries(t, dir), "the old output is untouched")
}

// SIGINT and SIGTERM during a write end it cleanly instead of killing the
// process with a half-written temporary directory on disk.
func TestReplaceSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			parent := t.TempDir()
			ctx, stop := SignalContext(context.Background())
			defer stop()
			err := Replace(ctx, filepath.Join(parent, "out"), testOwner, func(w *Writer) error {
				require.NoError(t, w.WriteFile("a", []byte("a")))
				require.NoError(t, syscall.Kill(os.Getpid(), sig))
				<-ctx.Done() // delivery is asynchronous; the write goes on until it lands
				return w.WriteFile("b", []byte("b"))
			})
			require.ErrorIs(t, err, ErrInterrupted)
			assert.Empty(t, entries(t, parent))
		})
	}
}

// When the final rename fails, the previous output is put back.
func TestReplaceRestoresOnFailedRename(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	mkdir(t, dir, testOwner.Marker, "keep")
	rename = func(from, to string) error {
		if strings.HasPrefix(filepath.Base(from), ".out.tmp-") {
			return errors.New("forced")
		}
		return os.Rename(from, to)
	}
	defer func() { rename = os.Rename }()
	err := Replace(context.Background(), dir, testOwner, writeAB)
	require.ErrorContains(t, err, "forced")
	assert.Equal(t, []string{"out"}, entries(t, parent))
	assert.Equal(t, []string{testOwner.Marker, "keep"}, entries(t, dir))
}

// When putting the previous output back fails too, the error says where
// it was left, and it is left there (not removed as debris).
func TestReplaceReportsFailedRestore(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	mkdir(t, dir, testOwner.Marker, "keep")
	rename = func(from, to string) error {
		if to == dir {
			return errors.New("forced")
		}
		return os.Rename(from, to)
	}
	defer func() { rename = os.Rename }()
	err := Replace(context.Background(), dir, testOwner, writeAB)
	require.Error(t, err)
	names := entries(t, parent)
	require.Len(t, names, 1, "only the moved-aside output remains")
	old := names[0]
	assert.True(t, strings.HasPrefix(old, ".out.old-"), old)
	assert.Equal(t, dir+": forced (and restoring it from "+filepath.Join(parent, old)+" failed: forced)", err.Error())
	assert.Equal(t, []string{testOwner.Marker, "keep"}, entries(t, filepath.Join(parent, old)))
}

// A fill that fails leaves the previous output as it was and returns the
// fill's error.
func TestReplaceFillError(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	mkdir(t, dir, testOwner.Marker, "keep")
	err := Replace(context.Background(), dir, testOwner, func(w *Writer) error {
		require.NoError(t, w.WriteFile("half", []byte("x")))
		return errors.New("render failed")
	})
	require.EqualError(t, err, dir+": render failed")
	assert.Equal(t, []string{"out"}, entries(t, parent))
	assert.Equal(t, []string{testOwner.Marker, "keep"}, entries(t, dir))
}

func TestReplaceWritesMarkerAndContent(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	require.NoError(t, Replace(context.Background(), dir, testOwner, writeAB))
	assert.Equal(t, []string{testOwner.Marker, "a", "sub"}, entries(t, dir))
	b, err := os.ReadFile(filepath.Join(dir, "sub", "b"))
	require.NoError(t, err)
	assert.Equal(t, "b", string(b))
	// A second run replaces its own output whole.
	require.NoError(t, Replace(context.Background(), dir, testOwner, func(w *Writer) error { return w.WriteFile("c", nil) }))
	assert.Equal(t, []string{testOwner.Marker, "c"}, entries(t, dir))
	assert.Equal(t, []string{"out"}, entries(t, parent))
}

func TestTempPID(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		ok   bool
	}{
		{".out.tmp-42-123", 42, true},
		{".out.old-42-123", 42, true},
		{".out.tmp-123456", 0, false}, // no PID: an older format, not provably stale
		{".out.tmp-x-1", 0, false},
		{".out.tmp-0-1", 0, false},
		{".outer.tmp-42-1", 0, false},
		{"out", 0, false},
	}
	for _, tc := range tests {
		pid, ok := tempPID(tc.name, "out")
		assert.Equal(t, tc.ok, ok, tc.name)
		assert.Equal(t, tc.pid, pid, tc.name)
	}
}

// busyDir makes renames of dir itself fail as they do for a mount point.
func busyDir(t *testing.T, dir string, also func(from, to string) error) {
	t.Helper()
	rename = func(from, to string) error {
		if from == dir || to == dir {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.EBUSY}
		}
		if also != nil {
			if err := also(from, to); err != nil {
				return err
			}
		}
		return os.Rename(from, to)
	}
	t.Cleanup(func() { rename = os.Rename })
}

// An empty mount point as -o (docker run -v $PWD/out:/out ... -o /out)
// cannot be renamed: it is written in place, the same directory, with no
// debris beside or inside it.
func TestReplaceMountPoint(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "out")
		mkdir(t, dir)
		before, err := os.Stat(dir)
		require.NoError(t, err)
		busyDir(t, dir, nil)
		require.NoError(t, Replace(context.Background(), dir, testOwner, writeAB))
		after, err := os.Stat(dir)
		require.NoError(t, err)
		assert.True(t, os.SameFile(before, after), "the same directory, written in place")
		assert.Equal(t, []string{testOwner.Marker, "a", "sub"}, entries(t, dir))
		assert.Equal(t, []string{"out"}, entries(t, parent))
	})
	t.Run("earlier output is replaced whole", func(t *testing.T) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "out")
		mkdir(t, dir, testOwner.Marker, "stale")
		busyDir(t, dir, nil)
		require.NoError(t, Replace(context.Background(), dir, testOwner, writeAB))
		assert.Equal(t, []string{testOwner.Marker, "a", "sub"}, entries(t, dir))
	})
	t.Run("failure while moving in restores the old entries", func(t *testing.T) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "out")
		mkdir(t, dir, testOwner.Marker, "keep")
		busyDir(t, dir, func(from, to string) error {
			if filepath.Base(to) == "sub" {
				return errors.New("forced")
			}
			return nil
		})
		err := Replace(context.Background(), dir, testOwner, writeAB)
		require.ErrorContains(t, err, "forced")
		assert.True(t, strings.HasPrefix(err.Error(), dir+": "), err.Error())
		assert.Equal(t, []string{testOwner.Marker, "keep"}, entries(t, dir))
		assert.Equal(t, []string{"out"}, entries(t, parent))
	})
	t.Run("a foreign directory is still refused", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "out")
		mkdir(t, dir, "notes.txt")
		busyDir(t, dir, nil)
		require.ErrorContains(t, Replace(context.Background(), dir, testOwner, writeAB), "not written by detour test")
		assert.Equal(t, []string{"notes.txt"}, entries(t, dir))
	})
	t.Run("a killed in-place write is cleaned up", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "out")
		mkdir(t, filepath.Join(dir, ".out.tmp-"+strconv.Itoa(deadPID)+"-1"), testOwner.Marker, "half")
		busyDir(t, dir, nil)
		require.NoError(t, Replace(context.Background(), dir, testOwner, writeAB))
		assert.Equal(t, []string{testOwner.Marker, "a", "sub"}, entries(t, dir))
	})
}

// A symlink as -o is followed: the directory it names is written and the
// link stays a link.
func TestReplaceSymlink(t *testing.T) {
	parent := t.TempDir()
	real := filepath.Join(parent, "real")
	mkdir(t, real)
	link := filepath.Join(parent, "out")
	require.NoError(t, os.Symlink("real", link))
	require.NoError(t, Replace(context.Background(), link, testOwner, writeAB))
	fi, err := os.Lstat(link)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeSymlink, "still a symlink")
	assert.Equal(t, []string{testOwner.Marker, "a", "sub"}, entries(t, real))
	assert.Equal(t, []string{"out", "real"}, entries(t, parent))

	foreign := filepath.Join(parent, "foreign")
	mkdir(t, foreign, "notes.txt")
	require.NoError(t, os.Symlink("foreign", filepath.Join(parent, "f")))
	require.ErrorContains(t, Replace(context.Background(), filepath.Join(parent, "f"), testOwner, writeAB), "not written by detour test")

	dangling := filepath.Join(parent, "dangling")
	require.NoError(t, os.Symlink("nowhere", dangling))
	require.ErrorContains(t, Replace(context.Background(), dangling, testOwner, writeAB), dangling+": a symlink to nothing")

	file := filepath.Join(parent, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	require.NoError(t, os.Symlink("file", filepath.Join(parent, "tofile")))
	require.ErrorContains(t, Replace(context.Background(), filepath.Join(parent, "tofile"), testOwner, writeAB), "which is not a directory")
}

// Errors name the path the user gave, not a hidden temporary one.
func TestReplaceErrorsNameTheUsersPath(t *testing.T) {
	parent := t.TempDir()
	file := filepath.Join(parent, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	err := Replace(context.Background(), filepath.Join(file, "out"), testOwner, writeAB)
	require.EqualError(t, err, filepath.Join(file, "out")+": "+file+" is not a directory")

	err = Replace(context.Background(), filepath.Join(file, "x", "out"), testOwner, writeAB)
	require.EqualError(t, err, filepath.Join(file, "x", "out")+": "+file+" is not a directory")

	mkdirTemp = func(dir, pattern string) (string, error) {
		return "", &os.PathError{Op: "mkdir", Path: filepath.Join(dir, pattern+"123"), Err: syscall.EACCES}
	}
	defer func() { mkdirTemp = os.MkdirTemp }()
	out := filepath.Join(parent, "out")
	err = Replace(context.Background(), out, testOwner, writeAB)
	require.EqualError(t, err, out+": cannot write next to it, in "+parent+": permission denied")
	assert.Equal(t, []string{"file"}, entries(t, parent))
}

// A writable directory in a parent where nothing can be created (a volume
// in a read-only container) is written in place.
func TestReplaceReadOnlyParent(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	mkdir(t, dir)
	mkdirTemp = func(in, pattern string) (string, error) {
		if in == parent {
			return "", &os.PathError{Op: "mkdir", Path: filepath.Join(in, pattern+"1"), Err: syscall.EROFS}
		}
		return os.MkdirTemp(in, pattern)
	}
	defer func() { mkdirTemp = os.MkdirTemp }()
	require.NoError(t, Replace(context.Background(), dir, testOwner, writeAB))
	assert.Equal(t, []string{testOwner.Marker, "a", "sub"}, entries(t, dir))
	assert.Equal(t, []string{"out"}, entries(t, parent))
}

// Writers run concurrently (compile writes each intent from the worker
// that compiled it): every file lands, in directories made once each.
func TestWriterConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	err := Replace(context.Background(), dir, testOwner, func(w *Writer) error {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := range 4 {
			wg.Go(func() {
				for i := range 16 {
					p := fmt.Sprintf("ns-%d/svc-%d/clusters/c%d.yaml", i%3, i, g)
					if err := w.WriteFile(p, []byte(p)); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	})
	require.NoError(t, err)
	for g := range 4 {
		for i := range 16 {
			p := fmt.Sprintf("ns-%d/svc-%d/clusters/c%d.yaml", i%3, i, g)
			b, err := os.ReadFile(filepath.Join(dir, p))
			require.NoError(t, err)
			assert.Equal(t, p, string(b))
		}
	}
}
