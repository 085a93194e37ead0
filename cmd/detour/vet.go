package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/detour-mesh/detour/compiler"
	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/compiler/load"
)

// vetResult is the --format json output: the normalised intents when every
// file is valid, the errors otherwise.
type vetResult struct {
	Valid   bool          `json:"valid"`
	Intents []vetIntent   `json:"intents,omitempty"`
	Errors  []*load.Error `json:"errors,omitempty"`
}

type vetIntent struct {
	File   string        `json:"file"`
	Line   int           `json:"line"`
	Column int           `json:"column"`
	Intent intent.Intent `json:"intent"`
}

// runVet validates intents: exit 0 when all are valid, 1 with one
// "file:line:col: path: message" line per problem, 2 on bad usage.
func runVet(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := formatFlag(fs)
	applyTimeout := evalTimeoutFlag(fs, "vet")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: detour vet [--format text|json] [--timeout DURATION] PATH...")
		fmt.Fprintln(stderr, "\nValidates failover intents (.yaml, .yml, .json, .cue files, or directories")
		fmt.Fprintln(stderr, "holding them; - reads a YAML/JSON stream from stdin) against the intent schema.")
		fmt.Fprintln(stderr, "Exit 0 valid, 1 invalid, 2 usage.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	paths, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if !applyTimeout(stderr) {
		return exitUsage
	}
	if !validFormat("vet", *format, stderr) {
		return exitUsage
	}
	if len(paths) == 0 {
		fs.Usage()
		return exitUsage
	}

	paths, fromStdin, err := takeStdin(paths)
	if err != nil {
		fmt.Fprintf(stderr, "detour vet: %v\n", err)
		return exitUsage
	}
	srcs, err := loadArgs(paths, fromStdin)
	if err == nil {
		// Two arguments defining one intent: compile refuses them, so vet
		// must too, with the same message.
		if err = compiler.Unique(srcs); err != nil {
			srcs = nil
		}
	}
	var errs load.Errors
	if err != nil && !errors.As(err, &errs) {
		fmt.Fprintf(stderr, "detour vet: %v\n", err)
		return exitInvalid
	}

	if *format == "json" {
		res := vetResult{Valid: err == nil, Errors: errs}
		for _, s := range srcs {
			res.Intents = append(res.Intents, vetIntent{File: s.File, Line: s.Line, Column: s.Column, Intent: s.Intent})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "detour vet: %v\n", err)
			return exitInvalid
		}
	} else if err != nil {
		fmt.Fprintln(stderr, errs.Error())
	} else {
		for _, s := range srcs {
			fmt.Fprintf(stdout, "%s:%d:%d: %s/%s ok\n", s.File, s.Line, s.Column, s.Intent.Metadata.Namespace, s.Intent.Metadata.Name)
		}
	}
	if err != nil {
		return exitInvalid
	}
	return exitOK
}

// loadArgs loads paths and, with fromStdin, the stream on stdin, reporting
// the errors of both together.
func loadArgs(paths []string, fromStdin bool) ([]load.Source, error) {
	var (
		srcs []load.Source
		errs load.Errors
	)
	add := func(s []load.Source, err error) error {
		var es load.Errors
		if err != nil && !errors.As(err, &es) {
			return err
		}
		srcs, errs = append(srcs, s...), append(errs, es...)
		return nil
	}
	if len(paths) > 0 {
		if err := add(load.Paths(paths...)); err != nil {
			return nil, err
		}
	}
	if fromStdin {
		data, err := readStdin()
		if err != nil {
			return nil, err
		}
		if err := add(load.Bytes(stdinName, data)); err != nil {
			return nil, err
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return srcs, nil
}
