package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// stdin is what "-" reads; tests replace it.
var stdin io.Reader = os.Stdin

// stdinName stands for standard input in positions ("<stdin>:3:5: ...").
const stdinName = "<stdin>"

// maxStdin bounds what "-" reads into memory.
const maxStdin = 256 << 20

// takeStdin removes "-" from paths: the stream on stdin is then read as one
// more YAML/JSON file (pipelines that render intents). At most one "-".
func takeStdin(paths []string) (rest []string, fromStdin bool, err error) {
	for _, p := range paths {
		if p != "-" {
			rest = append(rest, p)
			continue
		}
		if fromStdin {
			return nil, false, errors.New(`"-" (stdin) given twice`)
		}
		fromStdin = true
	}
	return rest, fromStdin, nil
}

// readStdin reads standard input whole, refusing more than maxStdin bytes.
func readStdin() ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(stdin, maxStdin+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stdinName, err)
	}
	if len(b) > maxStdin {
		return nil, fmt.Errorf("%s: more than %d MiB; pass a file instead", stdinName, maxStdin>>20)
	}
	return b, nil
}
