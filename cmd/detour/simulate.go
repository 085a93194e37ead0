package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/detour-mesh/detour/harness/sim"
)

// runSimulate runs a failure drill and prints what its users saw.
func runSimulate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonOut := fs.String("json", "", "write the JSON report to FILE (- for stdout, instead of the summary)")
	istio := fs.String("istio", "", "simulate the Istio YAML in DIR (<cluster>.yaml, edge.yaml) instead of the scenario's configuration")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: detour simulate [--json FILE] [--istio DIR] SCENARIO")
		fmt.Fprintln(stderr, "\nRuns a failure drill on the xDS Istio generates for the scenario's configuration and prints,")
		fmt.Fprintln(stderr, "second by second, what its users saw. Exit 0 expectations met, 1 an expectation failed or the")
		fmt.Fprintln(stderr, "scenario is invalid, 2 usage. The scenario format: harness/sim/README.md.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	paths, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if len(paths) != 1 {
		fmt.Fprintln(stderr, "detour simulate: expected one SCENARIO")
		fs.Usage()
		return exitUsage
	}
	sc, err := sim.Load(paths[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	rep, err := sim.Run(context.Background(), sc, sim.Options{Istio: *istio})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	if *jsonOut != "" {
		b, err := rep.JSON()
		if err != nil {
			fmt.Fprintf(stderr, "detour simulate: %v\n", err)
			return exitInvalid
		}
		if *jsonOut == "-" {
			stdout.Write(b)
		} else if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			fmt.Fprintf(stderr, "detour simulate: %v\n", err)
			return exitInvalid
		}
	}
	if *jsonOut != "-" {
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
					fmt.Fprintf(stderr, "detour simulate: %s run: expectation %s <= %g %s failed: measured %s\n", run.Name, x.Name, x.Limit, x.Unit, m)
				}
			}
		}
		return exitInvalid
	}
	return exitOK
}
