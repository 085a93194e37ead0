package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/detour-mesh/detour/harness/exchange"
	pw "github.com/detour-mesh/detour/harness/proxywasm"
)

const wasmUsage = `usage: detour wasm run MODULE.wasm --exchange FILE [flags]

Runs a proxy-wasm module (ABI 0.2.x) on the scripted HTTP exchange in FILE,
the way Envoy 1.33+ would, on a virtual clock, and prints JSON: the request
as the upstream received it, the response as the client received it, local
replies, logs, metrics, http calls and traps.

flags:
`

// runWasm implements "detour wasm run".
func runWasm(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wasm run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, wasmUsage); fs.PrintDefaults() }
	exchangePath := fs.String("exchange", "", "exchange file (YAML) `FILE` (required)")
	configPath := fs.String("config", "", "plugin configuration `FILE` (overrides plugin.configuration)")
	vmConfigPath := fs.String("vm-config", "", "VM configuration `FILE` (overrides plugin.vmConfiguration)")
	rootID := fs.String("root-id", "", "root id (overrides plugin.rootId)")
	workers := fs.Int("workers", 0, "worker VMs (overrides workers)")
	cacheDir := fs.String("cache-dir", os.Getenv("DETOUR_WASM_CACHE_DIR"), "keep compiled modules in `DIR` across runs")
	interp := fs.Bool("interpreter", false, "use wazero's interpreter instead of its compiler")
	switch {
	case len(args) == 0:
		fs.Usage()
		return exitUsage
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help":
		fs.Usage()
		return exitOK
	case args[0] != "run":
		fmt.Fprintf(stderr, "detour wasm: unknown subcommand %q (the one subcommand is run)\n\n", args[0])
		fs.Usage()
		return exitUsage
	}
	var positional []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(positional) != 1 || *exchangePath == "" {
		fmt.Fprintln(stderr, "detour wasm run: need one MODULE.wasm and --exchange FILE")
		fs.Usage()
		return exitUsage
	}
	if *workers < 0 {
		fmt.Fprintln(stderr, "detour wasm run: --workers must be positive")
		return exitUsage
	}
	wasm, err := os.ReadFile(positional[0])
	if err != nil {
		fmt.Fprintf(stderr, "detour wasm run: %v\n", err)
		return exitInvalid
	}
	f, err := exchange.Load(*exchangePath)
	if err != nil {
		fmt.Fprintf(stderr, "detour wasm run: %v\n", err)
		return exitInvalid
	}
	opt := exchange.Options{RootID: *rootID, Workers: *workers}
	for _, x := range []struct {
		path string
		dst  *[]byte
	}{{*configPath, &opt.PluginConfig}, {*vmConfigPath, &opt.VMConfig}} {
		if x.path == "" {
			continue
		}
		b, err := os.ReadFile(x.path)
		if err != nil {
			fmt.Fprintf(stderr, "detour wasm run: %v\n", err)
			return exitInvalid
		}
		*x.dst = b
	}
	ctx := context.Background()
	engine, err := pw.NewEngine(ctx, pw.EngineConfig{Interpreter: *interp, CacheDir: *cacheDir})
	if err != nil {
		fmt.Fprintf(stderr, "detour wasm run: %v\n", err)
		return exitInvalid
	}
	defer engine.Close(ctx)
	opt.Engine = engine
	rep, err := exchange.Run(ctx, wasm, f, opt)
	if err != nil {
		fmt.Fprintf(stderr, "detour wasm run: %s: %v\n", positional[0], err)
		return exitInvalid
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rep); err != nil {
		fmt.Fprintf(stderr, "detour wasm run: %v\n", err)
		return exitInvalid
	}
	return exitOK
}
