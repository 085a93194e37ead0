// Command detour validates, checks, compiles and simulates failover intents.
//
// The command is kept thin: each subcommand parses its flags and calls a
// library package. main only maps the exit code.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"

	"github.com/detour-mesh/detour/internal/cli"
	"github.com/detour-mesh/detour/plugins/module/shipped"
)

// Exit codes shared by every subcommand.
const (
	exitOK      = cli.ExitOK
	exitInvalid = cli.ExitInvalid // invalid input, policy denial, failed expectation
	exitUsage   = cli.ExitUsage
	// exitInterrupted is the shell's code for death by SIGINT (128+2):
	// the command stopped on a signal after cleaning up.
	exitInterrupted = 130
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
	"package":  {"package a Wasm module (default: the filters detour ships) as an OCI image layout Istio pulls; prints the digest", runPackage},
	"version":  {"print the version", runVersion},
	"simulate": {"run a failure drill on the xDS Istio generates; exit 1 if expectations fail (runs detour-simulate)", runSimulate},
}

// version is set with -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout) // asked for: stdout, so "detour --help | less" works
		return exitOK
	case "help":
		if len(args) == 1 {
			usage(stdout)
			return exitOK
		}
		// "detour help vet" is "detour vet -h"; "detour help wasm run" too.
		c, ok := commands[args[1]]
		if !ok {
			fmt.Fprintf(stderr, "detour help: unknown command %q\n\n", args[1])
			usage(stderr)
			return exitUsage
		}
		return c.run(append(args[2:len(args):len(args)], "-h"), stdout, stdout)
	case "-version", "--version":
		return runVersion(nil, stdout, stderr)
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "detour: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	if asksHelp(args[1:]) {
		// The help the user asked for goes to stdout; flag and usage
		// errors stay on stderr.
		return c.run(args[1:], stdout, stdout)
	}
	return c.run(args[1:], stdout, stderr)
}

// asksHelp reports whether args hold -h, -help or --help before any "--".
func asksHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
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
// arguments; see cli.ParseArgs.
func parseArgs(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	return cli.ParseArgs(fs, args)
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

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: detour version")
		fmt.Fprintln(stderr, "\nPrints the version: the release set at build time, or the module version")
		fmt.Fprintln(stderr, "Go recorded when it built the binary (go install ...@VERSION); then the image")
		fmt.Fprintln(stderr, "digest of the filter module it ships (what compile pins, package writes and")
		fmt.Fprintln(stderr, "simulate runs). No flags.")
	}
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "detour version: unexpected argument %q\n", pos[0])
		return exitUsage
	}
	bi, ok := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, "detour", versionOf(version, bi, ok))
	fmt.Fprintln(stdout, "filters", shipped.Digest())
	return exitOK
}

// versionOf is the version to print: the one set with -ldflags, else the
// main module's version from the build info ("go install
// github.com/detour-mesh/detour/cmd/detour@v1.2.3" records v1.2.3; a build
// in a clone records a VCS pseudo-version or "(devel)"), else "dev".
func versionOf(ldflags string, bi *debug.BuildInfo, ok bool) string {
	if ldflags != "dev" && ldflags != "" {
		return ldflags
	}
	if ok && bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
