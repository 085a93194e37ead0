package exchange

import (
	"strings"
	"testing"
)

// FuzzParse: no input makes the exchange parser panic, and every error
// names the file it is about.
func FuzzParse(f *testing.F) {
	f.Add([]byte("plugin: {name: p}\nrequests:\n  - headers: {\":method\": GET, \":path\": /, \":authority\": a}\n    upstream: {status: 200, delay: 1s}\n"))
	f.Add([]byte("requests: [{headers: [[a, b]], at: x}]"))
	f.Add([]byte("routes: [{match: {headers: 1}}]"))
	f.Add([]byte("plugin: {name: p\nrequests: [\n"))
	f.Add([]byte("statsConfig: {statsTags: [{tagName: v, regex: '(_v=(\\w+))'}]}\nupstreamRules: [{cluster: c, match: {path: /x}, answer: {status: 503}}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := Parse("fuzz.yaml", b); err != nil && !strings.HasPrefix(err.Error(), "fuzz.yaml:") {
			t.Errorf("error without the file prefix: %v", err)
		}
	})
}
