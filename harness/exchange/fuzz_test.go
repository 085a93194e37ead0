package exchange

import "testing"

// FuzzParse: no input makes the exchange parser panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("plugin: {name: p}\nrequests:\n  - headers: {\":method\": GET, \":path\": /, \":authority\": a}\n    upstream: {status: 200, delay: 1s}\n"))
	f.Add([]byte("requests: [{headers: [[a, b]], at: x}]"))
	f.Add([]byte("routes: [{match: {headers: 1}}]"))
	f.Add([]byte("plugin: {name: p\nrequests: [\n"))
	f.Add([]byte("statsConfig: {statsTags: [{tagName: v, regex: '(_v=(\\w+))'}]}\nupstreamRules: [{cluster: c, match: {path: /x}, answer: {status: 503}}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		Parse("fuzz.yaml", b)
	})
}
