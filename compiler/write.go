package compiler

import (
	"context"

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
