package main

import (
	"bytes"
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
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
		{name: "help", args: []string{"--help"}, wantCode: exitOK, wantErr: "usage: detour"},
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
