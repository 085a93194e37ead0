package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/detour-mesh/detour/compiler/explain"
	"github.com/detour-mesh/detour/compiler/load"
)

// explained is one intent of the --format json output.
type explained struct {
	File      string         `json:"file"`
	Line      int            `json:"line"`
	Column    int            `json:"column"`
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Report    explain.Report `json:"report"`
}

// runExplain prints each intent's failover ladders and what-if table.
func runExplain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := formatFlag(fs)
	depth := fs.Int("depth", 1, "places lost at once in the what-if table: 1, or 2 to add every pair of regions")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: detour explain [--format text|json] [--depth 1|2] PATH")
		fmt.Fprintln(stderr, "\nPrints, for each source cluster, the failover ladder (clusters, order, weights),")
		fmt.Fprintln(stderr, "and for the loss of each cluster, zone and region where the traffic goes and")
		fmt.Fprintln(stderr, "whether the remaining capacity absorbs it. Exit 0 ok, 1 invalid intent, 2 usage.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	paths, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if !validFormat("explain", *format, stderr) {
		return exitUsage
	}
	if *depth != 1 && *depth != 2 {
		fmt.Fprintf(stderr, "detour explain: --depth must be 1 or 2, not %d\n", *depth)
		return exitUsage
	}
	if len(paths) != 1 {
		fmt.Fprintln(stderr, "detour explain: exactly one PATH is needed")
		fs.Usage()
		return exitUsage
	}
	srcs, err := load.Paths(paths[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	if *format == "json" {
		out := make([]explained, 0, len(srcs))
		for _, s := range srcs {
			out = append(out, explained{File: s.File, Line: s.Line, Column: s.Column,
				Namespace: s.Intent.Metadata.Namespace, Name: s.Intent.Metadata.Name, Report: explain.AnalyzeDepth(s.Intent, *depth)})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintf(stderr, "detour explain: %v\n", err)
			return exitInvalid
		}
		return exitOK
	}
	for i, s := range srcs {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if err := explain.WriteText(stdout, s.Intent, explain.AnalyzeDepth(s.Intent, *depth)); err != nil {
			fmt.Fprintf(stderr, "detour explain: %v\n", err)
			return exitInvalid
		}
	}
	return exitOK
}
