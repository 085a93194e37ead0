// Package outdir replaces an output directory as a whole, all or nothing.
//
// The new content is written into a temporary directory next to the target
// (same parent, so the final step is a rename on one filesystem), which then
// takes the target's place. A marker file in every directory outdir writes
// proves ownership: a non-empty directory without it is never replaced, so a
// mistyped -o cannot wipe someone's work, and debris of a killed run is
// recognised and removed by the next one.
package outdir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Owner names the command that writes a directory and the marker file it
// leaves in it.
type Owner struct {
	Marker string // file name, e.g. ".detour-compile"
	Tool   string // for messages, e.g. "detour compile"
}

// Writer fills the temporary directory. Its methods refuse to work once the
// context is done, so an interrupted run stops at the next file. They are
// safe for concurrent use.
type Writer struct {
	ctx context.Context
	Dir string // the temporary directory being filled

	mu   sync.Mutex
	dirs map[string]bool // directories known to exist
}

// WriteFile writes data to the slash-separated path rel inside the
// directory, creating parent directories.
func (w *Writer) WriteFile(rel string, data []byte) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return fmt.Errorf("%s: output path escapes the output directory", rel)
	}
	p := filepath.Join(w.Dir, filepath.FromSlash(rel))
	if err := w.mkdir(filepath.Dir(p)); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

// mkdir creates d and its parents once per Writer: thousands of files share
// a few directories each, and each MkdirAll costs a stat per level.
func (w *Writer) mkdir(d string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dirs[d] {
		return nil
	}
	// One mkdir when the parent is known to exist; MkdirAll otherwise.
	if parent := filepath.Dir(d); parent == w.Dir || w.dirs[parent] {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	} else if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	if w.dirs == nil {
		w.dirs = map[string]bool{}
	}
	for p := d; p != w.Dir && !w.dirs[p]; p = filepath.Dir(p) {
		w.dirs[p] = true
		if filepath.Dir(p) == p {
			break
		}
	}
	return nil
}

// Err is the context's error: fill functions that write in bulk call it
// between steps.
func (w *Writer) Err() error { return w.ctx.Err() }

// ErrInterrupted is returned (wrapped) when the context ends the write.
var ErrInterrupted = errors.New("interrupted; nothing written")

// Replace writes dir anew: fill writes the content into a temporary
// directory, which then replaces dir. On any error (or when ctx is done
// before the final rename) nothing is left behind and an existing dir is
// untouched. Temporary directories of earlier runs of the same owner that
// were killed (SIGKILL, power loss) are removed first.
//
// A symlink to a directory is followed: the directory it points to is
// written and the link kept. A directory that cannot be renamed (a mount
// point, such as a container's volume) is written in place instead: its old
// entries are swapped for the new ones by renames inside it. Every error
// names dir as the caller gave it.
func Replace(ctx context.Context, dir string, o Owner, fill func(w *Writer) error) error {
	user := filepath.Clean(dir)
	real, err := target(user)
	if err != nil {
		return err
	}
	parent, _ := split(real)
	if err := mkdirParent(parent); err != nil {
		return fmt.Errorf("%s: %w", user, err)
	}
	RemoveStale(real, o)
	if err := owned(real, o); err != nil && !errors.Is(err, os.ErrNotExist) {
		return named(user, err)
	}
	tmp, err := newTemp(parent, real, "tmp", o)
	if err != nil {
		// A writable directory in a read-only parent (a volume mounted
		// into a read-only container) can still be written in place.
		if fi, serr := os.Stat(real); serr == nil && fi.IsDir() {
			if ierr := inPlace(ctx, real, o, fill); ierr == nil {
				return nil
			} else if errors.Is(ierr, ErrInterrupted) || ctx.Err() != nil {
				return named(user, interrupted(ctx, ierr))
			}
		}
		return fmt.Errorf("%s: cannot write next to it, in %s: %w", user, parent, pathErr(err))
	}
	err = fillTemp(ctx, tmp, fill)
	if err == nil {
		err = swap(real, tmp, o)
	}
	os.RemoveAll(tmp) // gone after a successful swap; debris otherwise
	if errors.Is(err, errNotRenamable) {
		err = inPlace(ctx, real, o, fill)
	}
	if err != nil {
		return named(user, interrupted(ctx, err))
	}
	return nil
}

// errNotRenamable is swap's answer for a directory that cannot be moved.
var errNotRenamable = errors.New("cannot be renamed")

// target resolves dir: a symlink is followed to the directory it names;
// anything but a directory or nothing is refused.
func target(dir string) (string, error) {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return dir, nil // mkdirParent says what is in the way
	case err != nil:
		return "", fmt.Errorf("%s: %w", dir, pathErr(err))
	case fi.Mode()&os.ModeSymlink != 0:
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return "", fmt.Errorf("%s: a symlink to nothing (%v); point it at a directory or remove it", dir, pathErr(err))
		}
		if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
			return "", fmt.Errorf("%s: a symlink to %s, which is not a directory", dir, real)
		}
		return real, nil
	case !fi.IsDir():
		return "", fmt.Errorf("%s: exists and is not a directory", dir)
	}
	return dir, nil
}

func split(dir string) (parent, base string) {
	parent, base = filepath.Split(dir)
	if parent == "" {
		parent = "."
	}
	return filepath.Clean(parent), base
}

// mkdirParent creates parent, saying which part of it is in the way.
func mkdirParent(parent string) error {
	for p := parent; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", p)
			}
			break
		}
		if filepath.Dir(p) == p {
			break
		}
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", parent, pathErr(err))
	}
	return nil
}

// pathErr drops the path of a *PathError: callers name the user's path.
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// named prefixes err with the user's path unless it already starts with it.
func named(user string, err error) error {
	if strings.HasPrefix(err.Error(), user+":") {
		return err
	}
	return fmt.Errorf("%s: %w", user, err)
}

// newTemp makes a temporary directory in in, named after dir with the PID
// (which tells a later run whether the writer still lives), holding o's
// marker from its first moment: a run killed while filling leaves a
// directory that proves it is ours.
func newTemp(in, dir, kind string, o Owner) (string, error) {
	_, base := split(dir)
	tmp, err := mkdirTemp(in, tempPrefix(base, kind)+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, o.Marker), []byte("written by "+o.Tool+": the whole directory is replaced on every run\n"), 0o644); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	return tmp, nil
}

// mkdirTemp is os.MkdirTemp; tests replace it to force a failure.
var mkdirTemp = os.MkdirTemp

func fillTemp(ctx context.Context, tmp string, fill func(w *Writer) error) error {
	if err := fill(&Writer{ctx: ctx, Dir: tmp}); err != nil {
		return err
	}
	return ctx.Err()
}

// swap puts tmp in dir's place. An existing dir is moved aside first (a
// rename cannot replace a non-empty directory) and put back if the final
// rename fails.
func swap(dir, tmp string, o Owner) error {
	parent, base := split(dir)
	var old string
	if _, err := os.Stat(dir); err == nil {
		if err := owned(dir, o); err != nil {
			return err
		}
		// Named like tmp (PID and all), so a run killed between the two
		// renames leaves something RemoveStale recognises.
		old = filepath.Join(parent, tempPrefix(base, "old")+filepath.Base(tmp)[len(tempPrefix(base, "tmp")):])
		if err := rename(dir, old); err != nil {
			if busy(err) {
				return errNotRenamable
			}
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := rename(tmp, dir); err != nil {
		if old != "" {
			if rerr := rename(old, dir); rerr != nil {
				return fmt.Errorf("%w (and restoring it from %s failed: %v)", err, old, rerr)
			}
		}
		return err
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}

// busy reports a rename refused because the directory is in use as a mount
// point (EBUSY) or lives on another device than its parent (EXDEV).
func busy(err error) bool {
	return errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EXDEV)
}

// inPlace writes dir when it cannot be renamed: the content is written into
// a temporary directory inside dir (same filesystem), the old entries are
// moved into another one, the new entries moved out into dir, and the old
// ones removed. A failure before the last step puts the old entries back.
func inPlace(ctx context.Context, dir string, o Owner, fill func(w *Writer) error) (err error) {
	tmp, err := newTemp(dir, dir, "tmp", o)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := fillTemp(ctx, tmp, fill); err != nil {
		return err
	}
	old, err := newTemp(dir, dir, "old", o)
	if err != nil {
		return err
	}
	keep := map[string]bool{filepath.Base(tmp): true, filepath.Base(old): true}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var moved []string
	defer func() {
		if err != nil {
			// Put the old entries back; new ones already moved out are
			// removed first.
			news, _ := os.ReadDir(dir)
			for _, e := range news {
				if !keep[e.Name()] {
					os.RemoveAll(filepath.Join(dir, e.Name()))
				}
			}
			for _, name := range moved {
				os.Rename(filepath.Join(old, name), filepath.Join(dir, name))
			}
		}
		os.RemoveAll(old)
	}()
	for _, e := range entries {
		if keep[e.Name()] {
			continue
		}
		if err := rename(filepath.Join(dir, e.Name()), filepath.Join(old, e.Name())); err != nil {
			return err
		}
		moved = append(moved, e.Name())
	}
	news, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	for _, e := range news {
		if err := rename(filepath.Join(tmp, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// rename is os.Rename; tests replace it to force the final step to fail.
var rename = os.Rename

func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%v)", ErrInterrupted, context.Cause(ctx))
	}
	return err
}

func tempPrefix(base, kind string) string { return "." + base + "." + kind + "-" }

// owned returns an error unless dir is empty or holds o's marker.
func owned(dir string, o Owner) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, o.Marker)); err == nil {
		return nil
	}
	return fmt.Errorf("%s: not empty and not written by %s (no %s in it); refusing to replace it: choose another -o or remove it yourself", dir, o.Tool, o.Marker)
}

// RemoveStale removes the temporary directories that a killed run of o left
// next to dir: named like Replace names them, holding o's marker, and made
// by a process that no longer exists. Anything else is left alone.
func RemoveStale(dir string, o Owner) {
	parent, base := split(filepath.Clean(dir))
	// Beside dir, and inside it (where a write in place puts them).
	for _, in := range []string{parent, dir} {
		entries, err := os.ReadDir(in)
		if err != nil {
			continue
		}
		for _, e := range entries {
			pid, ok := tempPID(e.Name(), base)
			if !ok || !e.IsDir() || alive(pid) {
				continue
			}
			p := filepath.Join(in, e.Name())
			if _, err := os.Lstat(filepath.Join(p, o.Marker)); err != nil {
				continue
			}
			os.RemoveAll(p)
		}
	}
}

// tempPID parses ".BASE.tmp-PID-RAND" or ".BASE.old-PID-RAND".
func tempPID(name, base string) (int, bool) {
	for _, kind := range []string{"tmp", "old"} {
		rest, ok := strings.CutPrefix(name, tempPrefix(base, kind))
		if !ok {
			continue
		}
		p, _, ok := strings.Cut(rest, "-")
		if !ok {
			return 0, false
		}
		pid, err := strconv.Atoi(p)
		return pid, err == nil && pid > 0
	}
	return 0, false
}

// alive reports whether process pid exists. Our own PID counts as alive: a
// directory of this very run is never stale.
func alive(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	// EPERM: the process exists but belongs to someone else.
	return err == nil || errors.Is(err, syscall.EPERM)
}

// SignalContext is a context that SIGINT and SIGTERM cancel, for the span of
// a Replace: the write stops at the next file and the temporary directory is
// removed instead of the process dying with it half-written. stop restores
// the default behaviour of the signals.
func SignalContext(parent context.Context) (ctx context.Context, stop context.CancelFunc) {
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}
