// Package yamldoc is the one rule by which Detour cuts a YAML stream into
// documents: the intent loader, the policy reader and the simulator's
// configuration reader all use it, so a file splits the same everywhere.
package yamldoc

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// Split reads a YAML stream and calls emit with each piece that starts
// at a document marker ("---" at the start of a line, which YAML allows
// nowhere else: block scalars end at it and flow scalars may not hold it)
// and with the number of lines before the piece. A directive ("%YAML")
// after an explicit document end ("...") goes with the document after it.
// Each piece is a fresh slice: emit may keep it.
func Split(r io.Reader, limit int, emit func(data []byte, line int) bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		cur         []byte
		start, line int
		ended       bool // the piece's last content line is "..."
		body        bool // the piece has more than directives and comments
	)
	for {
		lineStart := len(cur)
		var err error
		for {
			var frag []byte
			frag, err = br.ReadSlice('\n')
			cur = append(cur, frag...)
			if len(cur)-lineStart > limit {
				return fmt.Errorf("line %d: a document of more than %d MiB", line+1, limit>>20)
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return err
		}
		ln := cur[lineStart:]
		if len(ln) > 0 {
			split := lineStart > 0 && body && (docStart(ln) || ended && ln[0] == '%')
			if split {
				if !emit(cur[:lineStart], start) {
					return nil
				}
				cur, start, ended, body = append(make([]byte, 0, 2*len(ln)), ln...), line, false, false
			}
			switch t := bytes.TrimRight(ln, " \t\r\n"); {
			case string(t) == "...":
				ended, body = true, true
			case len(t) > 0 && t[0] != '#' && t[0] != '%':
				ended, body = false, true
			}
			if len(cur) > limit {
				return fmt.Errorf("line %d: a document of more than %d MiB", start+1, limit>>20)
			}
			line++
		}
		if err == io.EOF {
			break
		}
	}
	if len(cur) > 0 {
		emit(cur, start)
	}
	return nil
}

// docStart reports a "---" marker line.
func docStart(ln []byte) bool {
	if !bytes.HasPrefix(ln, []byte("---")) {
		return false
	}
	return len(ln) == 3 || ln[3] == ' ' || ln[3] == '\t' || ln[3] == '\r' || ln[3] == '\n'
}

// Doc is one document of a stream held in memory.
type Doc struct {
	Index int    // 1-based position in the stream
	Line  int    // 1-based line of Text's first line in the file
	Text  []byte // without a leading marker line that holds nothing else
}

// Bytes splits data by Split's rule. Comment lines before a document's
// marker and a marker line that holds nothing else (but perhaps a comment)
// are left out of Text, so Line is where the document's content starts;
// "--- {a: 1}" keeps its content.
func Bytes(data []byte) []Doc {
	var out []Doc
	_ = Split(bytes.NewReader(data), len(data)+1, func(piece []byte, line int) bool {
		rest, skipped := piece, 0
		for len(rest) > 0 {
			nl := bytes.IndexByte(rest, '\n') + 1
			if nl == 0 {
				nl = len(rest)
			}
			ln := bytes.TrimSpace(rest[:nl])
			if docStart(rest) {
				if m := bytes.TrimSpace(ln[3:]); len(m) == 0 || m[0] == '#' {
					piece, line = rest[nl:], line+skipped+1
				}
				break
			}
			if len(ln) > 0 && ln[0] != '#' {
				break
			}
			rest, skipped = rest[nl:], skipped+1
		}
		out = append(out, Doc{Index: len(out) + 1, Line: line + 1, Text: piece})
		return true
	})
	return out
}
