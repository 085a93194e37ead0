// Command detour validates, checks, compiles and simulates failover intents.
//
// The command is kept thin: each subcommand parses its flags and calls a
// library package. main only maps the exit code.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// Exit codes shared by every subcommand.
const (
	exitOK      = 0
	exitInvalid = 1 // invalid input, policy denial, failed expectation
	exitUsage   = 2
)

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands is the CLI contract; each entry lives in its own file.
var commands = map[string]command{
	"vet":      {"validate intents (every error as file:line:col; exit 1 if any)", runVet},
	"compile":  {"compile intents into Istio resources", runCompile},
	"explain":  {"print the failover ladder and what-if table of an intent", runExplain},
	"policy":   {"check intents and compiled resources against Rego policies", runPolicy},
	"wasm":     {"run a proxy-wasm module on a scripted HTTP exchange (wasm run)", runWasm},
	"simulate": {"run a failure drill on the xDS Istio generates; exit 1 if expectations fail", runSimulate},
	"version":  {"print the version", runVersion},
}

// version is set with -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "detour: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: detour <command> [flags] [args]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
}

// parseArgs parses fs's flags wherever they stand among the positional
// arguments ("detour compile examples/x -o out" works as users type it) and
// returns the positional ones. When parsing ends the command (-h, or a bad
// flag, which fs has already reported), ok is false and code is the exit code.
func parseArgs(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, exitOK, true
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), exitOK, true
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// formatFlag adds --format (text for people, json for machines) to fs.
func formatFlag(fs *flag.FlagSet) *string {
	return fs.String("format", "text", "output format: text or json")
}

// validFormat reports an unknown --format on stderr.
func validFormat(cmd, format string, stderr io.Writer) bool {
	if format == "text" || format == "json" {
		return true
	}
	fmt.Fprintf(stderr, "detour %s: unknown --format %q (want text or json)\n", cmd, format)
	return false
}

func runVersion(_ []string, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, "detour", version)
	return exitOK
}
