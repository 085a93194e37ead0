package compiler

import (
	"cmp"
	"context"
	"sync"
	"sync/atomic"

	"github.com/detour-mesh/detour/compiler/load"

	"github.com/detour-mesh/detour/internal/outdir"
)

// Marker is the file Write leaves in every directory it writes. A later
// Write replaces a non-empty directory only if it holds the marker, so a
// mistyped -o can never wipe a directory detour did not write.
const Marker = ".detour-compile"

var owner = outdir.Owner{Marker: Marker, Tool: "detour compile"}

// Write puts files into dir atomically: they are written into a temporary
// directory next to dir, which then replaces dir with a rename. On any error
// nothing is left behind and an existing dir is untouched.
func Write(dir string, files []File) error {
	return WriteContext(context.Background(), dir, files)
}

// WriteContext is Write that stops, leaving nothing behind, when ctx is done
// (the CLI cancels it on SIGINT and SIGTERM). Temporary directories that a
// killed compile left next to dir are removed first.
func WriteContext(ctx context.Context, dir string, files []File) error {
	return outdir.Replace(ctx, dir, owner, func(w *outdir.Writer) error {
		for _, f := range files {
			if err := w.WriteFile(f.Path, f.Data); err != nil {
				return err
			}
		}
		return nil
	})
}

// Streamed counts what WriteStream wrote.
type Streamed struct {
	Intents, Files int
}

// WriteStream is load.Stream, Compile and WriteContext in one pass, for
// inputs of any size: each intent is compiled and its files written (into
// the temporary directory that replaces dir at the end) by the worker that
// validated it, as soon as it is valid, so memory does not grow with the
// number of intents and loading, rendering and writing share the cores.
// The output is the same as Compile's and Write's: one directory per
// intent, whose files do not depend on the order of the work.
//
// Invalid input (any load.Error, or two intents for one service) writes
// nothing: the error is load.Errors, sorted by position, and dir is left as
// it was. Everything is still validated, to report every problem at once.
func WriteStream(ctx context.Context, dir string, paths []string, inputs []load.Input, opts Options) (Streamed, error) {
	var (
		res      Streamed
		files    atomic.Int64
		failed   atomic.Bool
		mu       sync.Mutex
		writeErr error
		errs     load.Errors
		seen     Seen
	)
	err := outdir.Replace(ctx, dir, owner, func(w *outdir.Writer) error {
		work := func(s *load.Source) error {
			if failed.Load() {
				return nil // nothing will be written: validate only
			}
			out, err := CompileIntent(s.Intent, opts)
			if err != nil {
				return err
			}
			for _, f := range out {
				if err := w.WriteFile(f.Path, f.Data); err != nil {
					mu.Lock()
					writeErr = cmp.Or(writeErr, err)
					mu.Unlock()
					failed.Store(true)
					return nil
				}
			}
			files.Add(int64(len(out)))
			return nil
		}
		err := load.StreamWith(ctx, paths, inputs, load.StreamOptions{Work: work}, func(d load.Doc) error {
			errs = append(errs, d.Errs...)
			for _, s := range d.Sources {
				if e := seen.Add(s); e != nil {
					errs = append(errs, e)
					continue
				}
				res.Intents++
			}
			if len(errs) > 0 {
				failed.Store(true)
			}
			mu.Lock()
			defer mu.Unlock()
			return writeErr
		})
		mu.Lock()
		err = cmp.Or(err, writeErr)
		mu.Unlock()
		if err == nil && len(errs) > 0 {
			err = errs
		}
		return err
	})
	if len(errs) > 0 && ctx.Err() == nil {
		return Streamed{}, load.SortErrors(errs)
	}
	if err != nil {
		return Streamed{}, err
	}
	res.Files = int(files.Load())
	return res, nil
}
