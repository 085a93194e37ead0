package main

import (
	"context"
	"encoding/json"
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
	tuneGC()
	var inputs []load.Input
	if fromStdin {
		inputs = []load.Input{{Name: stdinName, R: stdin}}
	}
	if *format == "json" {
		return vetJSON(paths, inputs, stdout, stderr)
	}

	// Text: each document's outcome is printed as soon as it and those
	// before it are validated, in input order (the arguments as given,
	// standard input last, a file's documents top to bottom), so a long
	// stream reports as it goes and memory stays flat.
	var (
		seen    compiler.Seen
		invalid bool
	)
	err = load.Stream(context.Background(), paths, inputs, func(d load.Doc) error {
		errs := d.Errs
		if len(errs) == 0 {
			// Two arguments defining one intent: compile refuses them,
			// so vet must too, with the same message.
			for _, s := range d.Sources {
				if e := seen.Add(s); e != nil {
					errs = append(errs, e)
				}
			}
		}
		if len(errs) > 0 {
			invalid = true
			_, err := fmt.Fprintln(stderr, errs.Error())
			return err
		}
		for _, s := range d.Sources {
			if _, err := fmt.Fprintf(stdout, "%s:%d:%d: %s/%s ok\n", s.File, s.Line, s.Column, s.Intent.Metadata.Namespace, s.Intent.Metadata.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(stderr, "detour vet: %v\n", err)
		return exitInvalid
	}
	if invalid {
		return exitInvalid
	}
	return exitOK
}

// vetJSON prints one result for the whole run: the normalised intents when
// every document is valid, every error (sorted by position) otherwise.
func vetJSON(paths []string, inputs []load.Input, stdout, stderr io.Writer) int {
	var (
		seen compiler.Seen
		res  = vetResult{Valid: true}
	)
	err := load.Stream(context.Background(), paths, inputs, func(d load.Doc) error {
		res.Errors = append(res.Errors, d.Errs...)
		for _, s := range d.Sources {
			if e := seen.Add(s); e != nil {
				res.Errors = append(res.Errors, e)
				continue
			}
			if len(res.Errors) == 0 {
				res.Intents = append(res.Intents, vetIntent{File: s.File, Line: s.Line, Column: s.Column, Intent: s.Intent})
			}
		}
		if len(res.Errors) > 0 {
			res.Valid, res.Intents = false, nil
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(stderr, "detour vet: %v\n", err)
		return exitInvalid
	}
	res.Errors = load.SortErrors(res.Errors)
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		fmt.Fprintf(stderr, "detour vet: %v\n", err)
		return exitInvalid
	}
	if !res.Valid {
		return exitInvalid
	}
	return exitOK
}
