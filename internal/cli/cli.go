// Package cli holds what the detour binaries share on the command line:
// exit codes and flag parsing.
package cli

import (
	"errors"
	"flag"
)

// Exit codes shared by every command.
const (
	ExitOK      = 0
	ExitInvalid = 1 // invalid input, policy denial, failed expectation
	ExitUsage   = 2
)

// ParseArgs parses fs's flags wherever they stand among the positional
// arguments ("detour compile examples/x -o out" works as users type it) and
// returns the positional ones. When parsing ends the command (-h, or a bad
// flag, which fs has already reported), ok is false and code is the exit code.
func ParseArgs(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, ExitOK, false
			}
			return nil, ExitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, ExitOK, true
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), ExitOK, true
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}
