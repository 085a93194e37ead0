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
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Owner names the command that writes a directory and the marker file it
// leaves in it.
type Owner struct {
	Marker string // file name, e.g. ".detour-compile"
	Tool   string // for messages, e.g. "detour compile"
}

// Writer fills the temporary directory. Its methods refuse to work once the
// context is done, so an interrupted run stops at the next file.
type Writer struct {
	ctx context.Context
	Dir string // the temporary directory being filled
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
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
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
func Replace(ctx context.Context, dir string, o Owner, fill func(w *Writer) error) (err error) {
	dir = filepath.Clean(dir)
	if fi, statErr := os.Stat(dir); statErr == nil && !fi.IsDir() {
		return fmt.Errorf("%s: exists and is not a directory", dir)
	}
	parent, base := filepath.Split(dir)
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	RemoveStale(dir, o)
	// The PID in the name tells a later run whether the writer still lives.
	tmp, err := os.MkdirTemp(parent, tempPrefix(base, "tmp")+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	// The marker goes in first: a run killed while filling leaves a
	// directory that proves it is ours.
	if err := os.WriteFile(filepath.Join(tmp, o.Marker), []byte("written by "+o.Tool+": the whole directory is replaced on every run\n"), 0o644); err != nil {
		return err
	}
	if err := fill(&Writer{ctx: ctx, Dir: tmp}); err != nil {
		return interrupted(ctx, err)
	}
	if err := ctx.Err(); err != nil {
		return interrupted(ctx, err)
	}
	// Move an existing dir aside first: a rename cannot replace a non-empty
	// directory.
	var old string
	if _, statErr := os.Stat(dir); statErr == nil {
		if err = owned(dir, o); err != nil {
			return err
		}
		old, err = os.MkdirTemp(parent, tempPrefix(base, "old")+strconv.Itoa(os.Getpid())+"-")
		if err != nil {
			return err
		}
		if err = os.Remove(old); err != nil {
			return err
		}
		if err = os.Rename(dir, old); err != nil {
			return err
		}
	} else if !errors.Is(statErr, os.ErrNotExist) {
		return statErr
	}
	if err = rename(tmp, dir); err != nil {
		if old != "" {
			if rerr := os.Rename(old, dir); rerr != nil {
				return fmt.Errorf("%w (and restoring %s from %s failed: %v)", err, dir, old, rerr)
			}
		}
		return err
	}
	if old != "" {
		return os.RemoveAll(old)
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
	parent, base := filepath.Split(filepath.Clean(dir))
	if parent == "" {
		parent = "."
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, ok := tempPID(e.Name(), base)
		if !ok || !e.IsDir() || alive(pid) {
			continue
		}
		p := filepath.Join(parent, e.Name())
		if _, err := os.Lstat(filepath.Join(p, o.Marker)); err != nil {
			continue
		}
		os.RemoveAll(p)
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
