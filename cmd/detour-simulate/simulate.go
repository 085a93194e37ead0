// Command detour-simulate runs failure drills: `detour simulate` hands its
// arguments to it. It is a binary of its own because it links Istio's xDS
// generator (about 170 MB), which the pipeline commands of detour (vet,
// compile, policy, package, wasm run) do not need.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/detour-mesh/detour/harness/simulator/sim"
	"github.com/detour-mesh/detour/harness/simulator/timeline"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen"
	"github.com/detour-mesh/detour/internal/cli"
	"github.com/detour-mesh/detour/internal/ociwasm"
	"github.com/detour-mesh/detour/plugins/module/shipped"
)

// The exit codes of detour's.
const (
	exitOK      = cli.ExitOK
	exitInvalid = cli.ExitInvalid
	exitUsage   = cli.ExitUsage
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is `detour simulate ARGS`: the usage names the command the user typed.
func run(args []string, stdout, stderr io.Writer) int { return runSimulate(args, stdout, stderr) }

// runSimulate runs a failure drill side by side, plain Istio and Detour,
// and prints what their users saw.
func runSimulate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonOut := fs.String("json", "", "write the JSON report to FILE (- for stdout, instead of the summary)")
	svgOut := fs.String("svg", "", "write the timeline of the runs to FILE (SVG)")
	istio := fs.String("istio", "", "simulate the Istio YAML in DIR (<cluster>.yaml, edge.yaml) instead of the scenario's configuration")
	baseline := fs.String("baseline", "", "also run the Istio YAML in DIR (any configuration, e.g. examples/bookinfo/baseline-istio-docs), as a first column named baseline")
	only := fs.String("only", "", "run only istio (the compiled resources without the filters), detour (with the filters) or baseline (--baseline DIR)")
	plugins := fs.String("plugins", "", "the Detour filter module: a .wasm file or an OCI image layout DIR written by detour package; default: the module detour ships (detour version prints its digest)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: detour simulate [--json FILE] [--svg FILE] [--baseline DIR] [--only istio|detour|baseline] [--plugins FILE|DIR] [--istio DIR] SCENARIO")
		fmt.Fprintln(stderr, "\nRuns a failure drill twice on the xDS Istio generates, same topology, traffic, faults and seed:")
		fmt.Fprintln(stderr, "istio (the compiled resources without the WasmPlugins) and detour (with the filters as the")
		fmt.Fprintln(stderr, "WasmPlugins configure them), and prints what their users saw side by side; with --baseline DIR,")
		fmt.Fprintln(stderr, "a third run of that configuration comes first. Exit 0 expectations")
		fmt.Fprintln(stderr, "met, 1 an expectation failed or the scenario is invalid, 2 usage. The scenario format:")
		fmt.Fprintln(stderr, "harness/simulator/sim/README.md.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	paths, code, ok := cli.ParseArgs(fs, args)
	if !ok {
		return code
	}
	if len(paths) != 1 {
		fmt.Fprintln(stderr, "detour simulate: expected one SCENARIO")
		fs.Usage()
		return exitUsage
	}
	if *only != "" && *only != sim.RunIstio && *only != sim.RunDetour && *only != sim.RunBaseline {
		fmt.Fprintf(stderr, "detour simulate: --only %q: expected istio, detour or baseline\n", *only)
		return exitUsage
	}
	if *only == sim.RunBaseline && *baseline == "" {
		fmt.Fprintln(stderr, "detour simulate: --only baseline needs --baseline DIR")
		return exitUsage
	}
	sc, err := sim.Load(paths[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	ctx := context.Background()
	opts := sim.Options{Istio: *istio, Baseline: *baseline, Only: *only, Generate: xdsgen.Generate}
	if *only != sim.RunIstio && *only != sim.RunBaseline {
		if opts.Filters, err = loadFilters(ctx, *plugins); err != nil {
			fmt.Fprintf(stderr, "detour simulate: %v\n", err)
			return exitInvalid
		}
	}
	bar := newProgress(stderr)
	opts.Progress = bar.update
	rep, err := sim.Run(ctx, sc, opts)
	bar.done()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	if *jsonOut != "" {
		b, err := rep.JSON()
		if err == nil {
			err = writeOut(stdout, *jsonOut, b)
		}
		if err != nil {
			fmt.Fprintf(stderr, "detour simulate: %v\n", err)
			return exitInvalid
		}
	}
	if *svgOut != "" {
		var b strings.Builder
		err := timeline.Render(&b, rep.Plot())
		if err == nil {
			err = writeOut(stdout, *svgOut, []byte(b.String()))
		}
		if err != nil {
			fmt.Fprintf(stderr, "detour simulate: %v\n", err)
			return exitInvalid
		}
	}
	if *jsonOut != "-" && *svgOut != "-" {
		fmt.Fprint(stdout, rep.Summary())
	}
	if !rep.Passed() {
		for _, run := range rep.Runs {
			for _, x := range run.Expectations {
				if !x.OK {
					m := "never"
					if x.Measured != nil {
						m = fmt.Sprint(*x.Measured)
					}
					fmt.Fprintf(stderr, "detour simulate: %s run: expectation %s %s %g %s failed: measured %s\n", run.Name, x.Name, x.Op(), x.Limit, x.Unit, m)
				}
			}
		}
		return exitInvalid
	}
	return exitOK
}

func writeOut(stdout io.Writer, path string, b []byte) error {
	if path == "-" {
		_, err := stdout.Write(b)
		return err
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(path, b, 0o644)
}

// loadFilters reads the module from --plugins: a .wasm file, or the OCI
// image layout `detour package` wrote; by default the module this binary
// ships, whose image digest compile pins. No Go toolchain is needed.
func loadFilters(ctx context.Context, path string) (*sim.Filters, error) {
	if path == "" {
		return sim.LoadFilters(ctx, shipped.Module(), fmt.Sprintf("%s %s (built in)", shipped.Name, shipped.Digest()))
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		pkg, err := ociwasm.ReadLayout(path)
		if err != nil {
			return nil, fmt.Errorf("--plugins: %w", err)
		}
		return sim.LoadFilters(ctx, pkg.Module, fmt.Sprintf("%s (%s)", path, pkg.Digest))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--plugins: %w", err)
	}
	return sim.LoadFilters(ctx, b, path)
}

// progress draws a bar on stderr when it is a terminal; piped, it is quiet.
type progress struct {
	w   io.Writer
	on  bool
	run string
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, on: ok && term.IsTerminal(int(f.Fd()))}
}

func (p *progress) update(run string, done float64) {
	if !p.on {
		return
	}
	const width = 30
	n := int(done * width)
	fmt.Fprintf(p.w, "\r%-8s [%s%s] %3.0f%%", run, strings.Repeat("=", n), strings.Repeat(" ", width-n), 100*done)
	p.run = run
}

func (p *progress) done() {
	if p.on && p.run != "" {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 50))
	}
}
