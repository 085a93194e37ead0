package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/detour-mesh/detour/compiler"
	"github.com/detour-mesh/detour/compiler/load"
	"github.com/detour-mesh/detour/compiler/lower"
	"github.com/detour-mesh/detour/internal/ociwasm"
	"github.com/detour-mesh/detour/internal/outdir"
	"github.com/detour-mesh/detour/plugins/module/shipped"
)

// runCompile compiles intents into Istio resources under -o DIR, atomically:
// on any error nothing is written and an existing DIR is left as it was.
func runCompile(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output `DIR` (replaced as a whole on success)")
	wasmURL := fs.String("wasm-url", defaultWasmURL(), "where Istio pulls Detour's Wasm filters (oci://, https://, file://)")
	wasmSHA := fs.String("wasm-sha256", "", "digest pinning the filters (for oci://, the image manifest digest); default: the image digest of the module this binary ships, unless --wasm-url is given")
	splitFilters := fs.Bool("split-filters", false, "emit the filters as three WasmPlugins (root IDs detour-router, detour-retry, detour-outlier) instead of one: for a module older than the combined root ID, or to drop one filter by hand; about a quarter more CPU per request")
	pkgDir := fs.String("package", "", "OCI image layout `DIR` from detour package: pins --wasm-url to its digest (oci://) or its module's SHA-256 (http(s)://)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: detour compile -o DIR [--wasm-url URL] [--wasm-sha256 HEX] [--package DIR] [--split-filters] PATH...")
		fmt.Fprintln(stderr, "\nCompiles failover intents into Istio resources:")
		fmt.Fprintln(stderr, "  DIR/<namespace>/<name>/intent.yaml           the normalised intent, status = explain analysis")
		fmt.Fprintln(stderr, "  DIR/<namespace>/<name>/clusters/<cluster>.yaml what each cluster applies")
		fmt.Fprintln(stderr, "  DIR/<namespace>/<name>/edge.yaml              what the edge gateway's cluster applies (edge entry)")
		fmt.Fprintln(stderr, "Exit 0 written, 1 invalid input (nothing written), 2 usage.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	paths, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	switch {
	case *out == "":
		fmt.Fprintln(stderr, "detour compile: -o DIR is required")
		fs.Usage()
		return exitUsage
	case len(paths) == 0:
		fmt.Fprintln(stderr, "detour compile: no PATH given")
		fs.Usage()
		return exitUsage
	}
	var pkg *ociwasm.Package
	if *pkgDir != "" {
		var err error
		if pkg, err = ociwasm.ReadLayout(*pkgDir); err != nil {
			fmt.Fprintf(stderr, "detour compile: --package: %v\n", err)
			return exitInvalid
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["wasm-sha256"] && *wasmSHA == "" {
		// Most often an unset CI variable: refuse rather than ship unpinned.
		fmt.Fprintln(stderr, "detour compile: --wasm-sha256 is empty (an unset variable?); give a digest or leave the flag out")
		return exitUsage
	}
	if !set["wasm-url"] && !set["wasm-sha256"] && pkg == nil {
		// The default image is this binary's module (plugins/module/shipped):
		// pin it, so the output passes the wasm_unpinned policy as written.
		*wasmSHA = shipped.Digest().Hex
	}
	sha, err := ociwasm.Pin(*wasmURL, *wasmSHA, pkg)
	if err != nil {
		fmt.Fprintf(stderr, "detour compile: %v\n", err)
		return exitUsage
	}
	for _, p := range paths {
		if within(p, *out) {
			fmt.Fprintf(stderr, "detour compile: %s is inside -o %s, which compile replaces as a whole\n", p, *out)
			return exitUsage
		}
	}
	tuneGC()
	// Only the write traps SIGINT/SIGTERM, and it runs from the start:
	// each intent is written (into a temporary directory) as soon as it is
	// compiled. An interrupted run leaves nothing behind.
	ctx, stop := outdir.SignalContext(context.Background())
	defer stop()
	res, err := compiler.WriteStream(ctx, *out, paths, nil, compiler.Options{WasmURL: *wasmURL, WasmSHA256: sha, SplitFilters: *splitFilters})
	var lerrs load.Errors
	switch {
	case errors.As(err, &lerrs) && !errors.Is(err, outdir.ErrInterrupted):
		fmt.Fprintln(stderr, err)
		return exitInvalid
	case err != nil:
		fmt.Fprintf(stderr, "detour compile: %v\n", err)
		if errors.Is(err, outdir.ErrInterrupted) {
			return exitInterrupted
		}
		return exitInvalid
	}
	if sha == "" && !strings.Contains(*wasmURL, "@sha256:") {
		fmt.Fprintf(stderr, "detour compile: warning: the WasmPlugins do not pin %s (Istio runs whatever the tag names when it pulls; the wasm_unpinned policy denies them): add --wasm-sha256 or --package\n", *wasmURL)
	}
	fmt.Fprintf(stdout, "compiled %d intent(s) into %d file(s) under %s\n", res.Intents, res.Files, *out)
	return exitOK
}

// within reports whether path p is dir or lies under it.
func within(p, dir string) bool {
	ap, err1 := filepath.Abs(p)
	ad, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(ad, ap)
	return err == nil && filepath.IsLocal(rel) // "." (p is dir) is local too
}

// releaseTag is a release version, the only kind of version the default
// image's tag takes (a pseudo-version may hold "+", which tags may not).
var releaseTag = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)

// defaultWasmURL is where the released image of this binary's module is:
// tagged with the binary's version when it is a release, else with the
// compiler's default tag. The digest compile pins is what identifies it.
func defaultWasmURL() string {
	bi, ok := debug.ReadBuildInfo()
	if v := versionOf(version, bi, ok); releaseTag.MatchString(v) {
		return lower.DefaultWasmURL[:strings.LastIndex(lower.DefaultWasmURL, ":")+1] + v
	}
	return lower.DefaultWasmURL
}
