package main

import (
	"bytes"
	"flag"
	"io"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/detour-mesh/detour/plugins/module/shipped"
)

func TestRunDispatch(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{name: "no args is usage", args: nil, wantCode: exitUsage, wantErr: "usage: detour"},
		{name: "help", args: []string{"--help"}, wantCode: exitOK, wantOut: "usage: detour"},
		{name: "help command", args: []string{"help"}, wantCode: exitOK, wantOut: "usage: detour"},
		{name: "help of an unknown command", args: []string{"help", "frob"}, wantCode: exitUsage, wantErr: `detour help: unknown command "frob"`},
		{name: "--version", args: []string{"--version"}, wantCode: exitOK, wantOut: "detour dev\nfilters " + shipped.Digest().String() + "\n"},
		{name: "unknown wasm subcommand", args: []string{"wasm", "frob"}, wantCode: exitUsage, wantErr: `detour wasm: unknown subcommand "frob"`},
		{name: "wasm alone is usage", args: []string{"wasm"}, wantCode: exitUsage, wantErr: "usage: detour wasm run"},
		{name: "version takes no argument", args: []string{"version", "x"}, wantCode: exitUsage, wantErr: `unexpected argument "x"`},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: exitUsage, wantErr: `unknown command "frobnicate"`},
		{name: "version", args: []string{"version"}, wantCode: exitOK, wantOut: "detour dev"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			assert.Equal(t, tc.wantCode, code)
			assert.Contains(t, out.String(), tc.wantOut)
			assert.Contains(t, errb.String(), tc.wantErr)
		})
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantPos  []string
		wantFmt  string
		wantOK   bool
		wantCode int
	}{
		{name: "flags first", args: []string{"--format", "json", "a", "b"}, wantPos: []string{"a", "b"}, wantFmt: "json", wantOK: true},
		{name: "flags after paths", args: []string{"a", "--format", "json", "b"}, wantPos: []string{"a", "b"}, wantFmt: "json", wantOK: true},
		{name: "double dash keeps dashes", args: []string{"a", "--", "--format"}, wantPos: []string{"a", "--format"}, wantFmt: "text", wantOK: true},
		{name: "help", args: []string{"a", "-h"}, wantCode: exitOK},
		{name: "unknown flag", args: []string{"a", "--nope"}, wantCode: exitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			format := fs.String("format", "text", "")
			pos, code, ok := parseArgs(fs, tc.args)
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.wantCode, code)
			if tc.wantOK {
				assert.Equal(t, tc.wantPos, pos)
				assert.Equal(t, tc.wantFmt, *format)
			}
		})
	}
}

// Help that is asked for goes to stdout with exit 0, the same whichever way
// it is asked, and every command's usage lists its flags.
func TestHelp(t *testing.T) {
	flags := map[string][]string{
		"vet":      {"-format"},
		"compile":  {"-o DIR", "-wasm-url", "-wasm-sha256", "-package DIR"},
		"explain":  {"-format"},
		"policy":   {"-p DIR", "-o", "-except ID", "-fail-on-warn"},
		"wasm":     {"-exchange FILE", "-config FILE", "-vm-config FILE", "-root-id", "-workers", "-cache-dir DIR", "-interpreter"},
		"package":  {"-o DIR"},
		"simulate": nil, // detour-simulate's help (cmd/detour-simulate tests it)
		"version":  nil,
	}
	for name := range commands {
		want, ok := flags[name]
		if !ok {
			t.Errorf("command %s: add its flags to this test", name)
		}
		if name == "simulate" {
			continue // handed off: TestSimulateHandsOff
		}
		asks := [][]string{{"help", name}, {name, "-h"}, {name, "--help"}}
		if name == "wasm" {
			asks = append(asks, []string{"help", "wasm", "run"}, []string{"wasm", "run", "-h"})
		}
		for _, args := range asks {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var out, errb bytes.Buffer
				code := run(args, &out, &errb)
				assert.Equal(t, exitOK, code)
				assert.Empty(t, errb.String())
				help := out.String()
				assert.Contains(t, help, "usage: detour "+name)
				for _, f := range want {
					assert.Contains(t, help, "\n  "+f)
				}
				assert.NotRegexp(t, `flags:\s*$`, help, "a flags: heading with no flags after it")
			})
		}
	}
}

func TestVersionOf(t *testing.T) {
	info := func(v string) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Path: "github.com/detour-mesh/detour", Version: v}}
	}
	tests := []struct {
		name    string
		ldflags string
		bi      *debug.BuildInfo
		ok      bool
		want    string
	}{
		{"set at build time wins", "v1.0.0", info("v0.9.0"), true, "v1.0.0"},
		{"go install @version", "dev", info("v0.3.1"), true, "v0.3.1"},
		{"clone with VCS stamp", "dev", info("v0.0.0-20261129171700-aeea753d1c2b+dirty"), true, "v0.0.0-20261129171700-aeea753d1c2b+dirty"},
		{"devel build", "dev", info("(devel)"), true, "dev"},
		{"no build info", "dev", nil, false, "dev"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, versionOf(tc.ldflags, tc.bi, tc.ok))
		})
	}
}
