package compiler

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Marker is the file Write leaves in every directory it writes. A later
// Write replaces a non-empty directory only if it holds the marker, so a
// mistyped -o can never wipe a directory detour did not write.
const Marker = ".detour-compile"

// Write puts files into dir atomically: they are written into a temporary
// directory next to dir, which then replaces dir with a rename. On any error
// nothing is left behind and an existing dir is untouched.
func Write(dir string, files []File) (err error) {
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
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
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
	for _, f := range files {
		p := filepath.Join(tmp, filepath.FromSlash(f.Path))
		if !filepath.IsLocal(filepath.FromSlash(f.Path)) {
			return fmt.Errorf("%s: output path escapes the output directory", f.Path)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, Marker), []byte("written by detour compile: the whole directory is replaced on every compile\n"), 0o644); err != nil {
		return err
	}
	// Move an existing dir aside first: a rename cannot replace a non-empty
	// directory.
	var old string
	if _, statErr := os.Stat(dir); statErr == nil {
		if err = ownDir(dir); err != nil {
			return err
		}
		old, err = os.MkdirTemp(parent, "."+base+".old-")
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
	if err = os.Rename(tmp, dir); err != nil {
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

// ownDir returns an error unless dir is empty or was written by Write.
func ownDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, Marker)); err == nil {
		return nil
	}
	return fmt.Errorf("%s: not empty and not written by detour compile (no %s in it); refusing to replace it: choose another -o or remove it yourself", dir, Marker)
}
