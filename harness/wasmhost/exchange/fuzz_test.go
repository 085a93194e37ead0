package exchange

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/detour-mesh/detour/internal/yamltest"
)

// errAt splits "fuzz.yaml[:LINE[:COL]]: message"; ok is false when the
// file prefix is missing.
var errAt = regexp.MustCompile(`^fuzz\.yaml(?::(\d+)(?::(\d+))?)?: `)

// FuzzParse: no input makes the exchange parser panic, every error names
// the file it is about, and a position in an error is inside the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte("plugin: {name: p}\nrequests:\n  - headers: {\":method\": GET, \":path\": /, \":authority\": a}\n    upstream: {status: 200, delay: 1s}\n"))
	f.Add([]byte("requests: [{headers: [[a, b]], at: x}]"))
	f.Add([]byte("routes: [{match: {headers: 1}}]"))
	f.Add([]byte("plugin: {name: p\nrequests: [\n"))
	f.Add([]byte("statsConfig: {statsTags: [{tagName: v, regex: '(_v=(\\w+))'}]}\nupstreamRules: [{cluster: c, match: {path: /x}, answer: {status: 503}}]\n"))
	f.Add([]byte("workers: 1\r\nworkers: 2\r\n"))
	f.Add([]byte("requests:\n  - headers: {\":method\": GET, \":path\": /, \":authority\": a}\n    upstream: {status: 42}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := Parse("fuzz.yaml", b)
		if err == nil {
			return
		}
		m := errAt.FindStringSubmatch(err.Error())
		if m == nil {
			t.Fatalf("error without the file prefix: %v", err)
		}
		if m[1] != "" {
			line, _ := strconv.Atoi(m[1])
			if line < 1 || line > yamltest.LastLine(b) {
				t.Fatalf("line %d outside the file's %d lines: %v", line, yamltest.LastLine(b), err)
			}
		}
		if m[2] != "" {
			if col, _ := strconv.Atoi(m[2]); col < 1 {
				t.Fatalf("column %d: %v", col, err)
			}
		}
	})
}
