package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/detour-mesh/detour/compiler/load"
	"github.com/detour-mesh/detour/internal/policy"
)

// listFlag collects a repeatable (and comma-separated) flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*l = append(*l, x)
		}
	}
	return nil
}

// runPolicy checks intents and Istio resources against the embedded Rego
// policies (plus -p directories): exit 1 on any denial (or warning with
// --fail-on-warn), 2 on bad usage.
func runPolicy(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dirs, except listFlag
	fs.Var(&dirs, "p", "extra policy `DIR` (package main deny_/warn_/exception rules); repeatable")
	fs.Var(&except, "except", "rule `ID` not to report (e.g. strict_weights); repeatable or comma-separated")
	format := fs.String("o", "text", "output format: "+strings.Join(policy.Formats, "|"))
	failOnWarn := fs.Bool("fail-on-warn", false, "exit 1 on warnings too")
	applyTimeout := evalTimeoutFlag(fs, "policy")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: detour policy [-p DIR] [-o text|json|sarif|junit|github] [--except ID] [--fail-on-warn] [--timeout DURATION] PATH...")
		fmt.Fprintln(stderr, "\nChecks intents (.yaml, .yml, .json, .cue) and Istio resources (compiled or")
		fmt.Fprintln(stderr, "hand-written YAML; directories are walked; - reads a YAML/JSON stream from stdin)")
		fmt.Fprintln(stderr, "against the Rego policies.")
		fmt.Fprintln(stderr, "Exit 0 clean, 1 on a denial or when nothing is checked (no intent or Istio")
		fmt.Fprintln(stderr, "resource in the input), 2 usage (also a -p DIR without package main rules).")
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
	if !slices.Contains(policy.Formats, *format) {
		fmt.Fprintf(stderr, "detour policy: unknown -o %q (want %s)\n", *format, strings.Join(policy.Formats, ", "))
		return exitUsage
	}
	if len(paths) == 0 {
		fs.Usage()
		return exitUsage
	}

	inputs := paths
	paths, fromStdin, err := takeStdin(paths)
	if err != nil {
		fmt.Fprintf(stderr, "detour policy: %v\n", err)
		return exitUsage
	}
	docs, err := policy.Collect(paths...)
	if err == nil && fromStdin {
		var data []byte
		if data, err = readStdin(); err == nil {
			var more []policy.Document
			more, err = policy.Parse(stdinName, data)
			docs = append(docs, more...)
		}
	}
	if err != nil {
		var errs load.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(stderr, e)
			}
		} else {
			fmt.Fprintf(stderr, "detour policy: %v\n", err)
		}
		return exitInvalid
	}
	ctx := context.Background()
	eng, err := policy.New(ctx, policy.Options{PolicyDirs: dirs, Except: except})
	if err != nil {
		fmt.Fprintf(stderr, "detour policy: loading policies: %v\n", err)
		return exitUsage
	}
	for _, id := range except {
		// A misspelt exception would silently except nothing.
		if !eng.Known(id) {
			fmt.Fprintf(stderr, "detour policy: --except %s: no such rule (ids are listed in policies/README.md)\n", id)
			return exitUsage
		}
	}
	// Nothing to check is not a pass: an empty directory, an empty file or
	// YAML of another kind would otherwise report "0 denials".
	checked := 0
	for _, d := range docs {
		if d.Checked() {
			checked++
		}
	}
	if checked == 0 {
		fmt.Fprintf(stderr, "detour policy: nothing to check: %d document(s), none a FailoverIntent or an Istio resource, in %s\n", len(docs), strings.Join(inputs, " "))
		return exitInvalid
	}
	rep, err := eng.Check(ctx, docs)
	if err != nil {
		fmt.Fprintf(stderr, "detour policy: %v\n", err)
		return exitInvalid
	}
	if err := policy.Write(stdout, *format, rep); err != nil {
		fmt.Fprintf(stderr, "detour policy: %v\n", err)
		return exitInvalid
	}
	if rep.Denials() > 0 || (*failOnWarn && rep.Warnings() > 0) {
		return exitInvalid
	}
	return exitOK
}
