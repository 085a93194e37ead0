package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/detour-mesh/detour/internal/ociwasm"
	"github.com/detour-mesh/detour/internal/outdir"
	"github.com/detour-mesh/detour/plugins/module/shipped"
)

const packageUsage = `usage: detour package [MODULE.wasm] -o DIR

Packages a proxy-wasm module (default: Detour's filters, as this binary ships
them) as an OCI image layout in DIR, in the "compat"
variant Istio pulls (one tar+gzip layer holding plugin.wasm, annotation
module.wasm.image/variant: compat), and prints the image digest. The same
module always gives the same digest. DIR is replaced as a whole, and only if
it is empty or detour package wrote it. Push it with any OCI tool, e.g.
"crane push DIR REGISTRY/REPO:TAG" (which keeps the manifest, so the digest),
then "detour compile --package DIR --wasm-url oci://REGISTRY/REPO:TAG" pins
the digest in the WasmPlugins. The default module's digest is the one
"detour compile" pins without flags and "detour version" prints.
Exit 0 written, 1 invalid module or output error (nothing written), 2 usage.

flags:
`

// runPackage implements "detour package".
func runPackage(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output `DIR` for the OCI image layout (required)")
	fs.Usage = func() { fmt.Fprint(stderr, packageUsage); fs.PrintDefaults() }
	paths, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if *out == "" || len(paths) > 1 {
		fmt.Fprintln(stderr, "detour package: need -o DIR and at most one MODULE.wasm")
		fs.Usage()
		return exitUsage
	}
	module := shipped.Module()
	if len(paths) == 1 {
		var err error
		if module, err = os.ReadFile(paths[0]); err != nil {
			fmt.Fprintf(stderr, "detour package: %v\n", err)
			return exitInvalid
		}
		if err := ociwasm.CheckModule(module); err != nil {
			fmt.Fprintf(stderr, "detour package: %s: %v\n", paths[0], err)
			return exitInvalid
		}
	}
	ctx, stop := outdir.SignalContext(context.Background())
	defer stop()
	d, err := ociwasm.WriteLayout(ctx, *out, module)
	if err != nil {
		fmt.Fprintf(stderr, "detour package: %v\n", err)
		if errors.Is(err, outdir.ErrInterrupted) {
			return exitInterrupted
		}
		return exitInvalid
	}
	fmt.Fprintln(stdout, d)
	return exitOK
}
