package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/detour-mesh/detour/harness/wasmhost/exchange"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

const wasmUsage = `usage: detour wasm run [MODULE.wasm] [--module NAME=FILE]... --exchange FILE [flags]

Runs a proxy-wasm module (ABI 0.2.x) on the scripted HTTP exchange in FILE,
the way Envoy 1.33+ would, on a virtual clock, and prints JSON: the request
as the upstream received it, the response as the client received it, local
replies, logs, metrics, http calls and traps (--format text: a summary).
Exits 1 if a VM trapped, unless --allow-traps.

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
	workers := fs.Int("workers", 0, fmt.Sprintf("worker VMs, at most %d (overrides workers)", exchange.MaxWorkers))
	timeout := fs.Duration("timeout", 10*time.Minute, "stop the whole run after `DURATION` of wall time (0: no limit)")
	budget := fs.Duration("callback-budget", pw.DefaultCallBudget, "trap a guest callback (or module start) that runs longer than `DURATION` of wall time; the failure policy applies")
	memPages := fs.Uint("memory-pages", pw.DefaultMemoryLimitPages, "cap each VM's memory at `N` 64 KiB pages (default 1 GiB, Envoy's); memory.grow beyond it fails")
	maxEvents := fs.Int("max-events", exchange.DefaultMaxEvents, "stop the run with an error after `N` virtual-time events (ticks, responses, timers)")
	cacheDir := fs.String("cache-dir", defaultCacheDir(), "keep compiled modules in `DIR` across runs, keyed by module digest and wazero version (\"\" disables)")
	interp := fs.Bool("interpreter", false, "use wazero's interpreter instead of its compiler")
	allowTraps := fs.Bool("allow-traps", false, "exit 0 even if a VM trapped (a trap is reported either way)")
	logLevel := fs.String("log-level", "", "Envoy's wasm log `LEVEL`: trace, debug, info, warn, error or critical (overrides logLevel; default info)")
	format := fs.String("format", "json", "output `FORMAT`: json, or text for a readable summary")
	modules := moduleFlag{}
	fs.Var(modules, "module", "a module plugins name with module: NAME, as `NAME=FILE` (repeatable)")
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
	if len(positional) > 1 || *exchangePath == "" || (len(positional) == 0 && len(modules) == 0) {
		fmt.Fprintln(stderr, "detour wasm run: need one MODULE.wasm (and/or --module NAME=FILE) and --exchange FILE")
		fs.Usage()
		return exitUsage
	}
	if *workers < 0 || *workers > exchange.MaxWorkers {
		fmt.Fprintf(stderr, "detour wasm run: --workers: expected 1 to %d, got %d\n", exchange.MaxWorkers, *workers)
		return exitUsage
	}
	if *timeout < 0 || *budget <= 0 {
		fmt.Fprintln(stderr, "detour wasm run: --timeout and --callback-budget: expected a positive duration")
		return exitUsage
	}
	if *memPages == 0 || *memPages > 1<<16 {
		fmt.Fprintf(stderr, "detour wasm run: --memory-pages: expected 1 to 65536 (4 GiB), got %d\n", *memPages)
		return exitUsage
	}
	if *maxEvents <= 0 {
		fmt.Fprintf(stderr, "detour wasm run: --max-events: expected a positive number, got %d\n", *maxEvents)
		return exitUsage
	}
	if _, ok := pw.ParseLogLevel(*logLevel); *logLevel != "" && !ok {
		fmt.Fprintf(stderr, "detour wasm run: --log-level: expected trace, debug, info, warn, error or critical, got %q\n", *logLevel)
		return exitUsage
	}
	if *format != "json" && *format != "text" {
		fmt.Fprintf(stderr, "detour wasm run: --format: expected json or text, got %q\n", *format)
		return exitUsage
	}
	var wasm []byte
	modulePath := "--module"
	if len(positional) == 1 {
		modulePath = positional[0]
		var err error
		if wasm, err = os.ReadFile(positional[0]); err != nil {
			fmt.Fprintf(stderr, "detour wasm run: %v\n", err)
			return exitInvalid
		}
	}
	named := map[string][]byte{}
	for name, path := range modules {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "detour wasm run: --module %s: %v\n", name, err)
			return exitInvalid
		}
		named[name] = b
	}
	f, err := exchange.Load(*exchangePath)
	if err != nil {
		fmt.Fprintf(stderr, "detour wasm run: %v\n", err)
		return exitInvalid
	}
	opt := exchange.Options{RootID: *rootID, Workers: *workers, LogLevel: *logLevel, Modules: named, MaxEvents: *maxEvents}
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
	engine, err := pw.NewEngine(ctx, pw.EngineConfig{Interpreter: *interp, CacheDir: *cacheDir, CallBudget: *budget, MemoryLimitPages: uint32(*memPages)})
	if err != nil {
		fmt.Fprintf(stderr, "detour wasm run: %v\n", err)
		return exitInvalid
	}
	defer engine.Close(ctx)
	opt.Engine = engine
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	rep, err := exchange.Run(ctx, wasm, f, opt)
	if err != nil {
		var le *vclock.EventLimitError
		switch xe := (*exchange.Error)(nil); {
		case errors.As(err, &le):
			fmt.Fprintf(stderr, "detour wasm run: %v (--max-events raises the limit)\n", err)
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
			fmt.Fprintf(stderr, "detour wasm run: --timeout %s exceeded: %v\n", *timeout, err)
		case errors.As(err, &xe):
			fmt.Fprintf(stderr, "detour wasm run: %v\n", err) // an exchange file position
		default:
			fmt.Fprintf(stderr, "detour wasm run: %s: %v\n", modulePath, err)
		}
		return exitInvalid
	}
	if *format == "text" {
		err = exchange.WriteText(stdout, rep)
	} else {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		err = enc.Encode(rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "detour wasm run: %v\n", err)
		return exitInvalid
	}
	// A trap is a failed run unless the caller expects it (Envoy would
	// have failed the VM too).
	if len(rep.Traps) > 0 && !*allowTraps {
		fmt.Fprintf(stderr, "detour wasm run: %d VM trap(s), first in %s: %s (--allow-traps accepts them)\n", len(rep.Traps), rep.Traps[0].Callback, rep.Traps[0].Message)
		return exitInvalid
	}
	return exitOK
}

// moduleFlag collects --module NAME=FILE.
type moduleFlag map[string]string

func (m moduleFlag) String() string { return "" }

func (m moduleFlag) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" {
		return fmt.Errorf("expected NAME=FILE, got %q", v)
	}
	m[name] = path
	return nil
}

// defaultCacheDir is $DETOUR_WASM_CACHE_DIR if set (even empty), else
// detour/wasm in the user cache directory, so a module compiles once per
// machine; wazero keys the files by module digest and its own version.
func defaultCacheDir() string {
	if d, ok := os.LookupEnv("DETOUR_WASM_CACHE_DIR"); ok {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "detour", "wasm")
}
