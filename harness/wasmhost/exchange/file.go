// Package exchange runs a proxy-wasm module on a scripted HTTP exchange: the
// engine behind `detour wasm run`. An exchange file (YAML) gives the
// requests, what the upstream and http_call clusters answer, and how far to
// advance the virtual clock; the report says what the upstream received,
// what the client got, and what the plugin logged, counted and called.
package exchange

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
	"github.com/detour-mesh/detour/internal/strictyaml"
)

// File is an exchange file.
type File struct {
	Plugin Plugin `yaml:"plugin"`
	// Filters is a chain of plugins, in decoding order, instead of Plugin.
	// Filters with the same module and vmId share one VM per worker, as in
	// Envoy; bootstrap ones are not in the chain.
	Filters   []Plugin            `yaml:"filters"`
	Workers   int                 `yaml:"workers"`
	LogLevel  Scalar              `yaml:"logLevel"`
	Node      Node                `yaml:"node"`
	Routes    []Route             `yaml:"routes"`
	Clusters  []string            `yaml:"clusters"`
	Requests  []Request           `yaml:"requests"`
	Upstreams map[string][]Answer `yaml:"upstreams"`
	HTTPCalls map[string][]Answer `yaml:"httpCalls"`
	// UpstreamRules and HTTPCallRules answer by request (first match
	// wins); unmatched requests fall back to upstreams / httpCalls.
	UpstreamRules []Rule `yaml:"upstreamRules"`
	HTTPCallRules []Rule `yaml:"httpCallRules"`
	// Advance is how much virtual time the run covers; by default it runs
	// until every request completed.
	Advance Scalar `yaml:"advance"`
	// StatsConfig is Envoy's bootstrap stats_config (tag extraction).
	StatsConfig StatsConfig `yaml:"statsConfig"`

	path string
	root *yaml.Node
}

// Plugin is the filter configuration (Envoy's Wasm filter config).
type Plugin struct {
	Name string `yaml:"name"`
	// RootID is root_id (Istio pluginName); empty stays empty, as in Envoy.
	RootID string `yaml:"rootId"`
	VMID   string `yaml:"vmId"`
	// Configuration is a string, or any YAML value sent as JSON (as Istio
	// sends pluginConfig).
	Configuration   yaml.Node         `yaml:"configuration"`
	VMConfiguration yaml.Node         `yaml:"vmConfiguration"`
	FailurePolicy   Scalar            `yaml:"failurePolicy"`
	ReloadBackoff   Scalar            `yaml:"reloadBackoff"`
	Env             map[string]string `yaml:"env"`
	Envoy           Envoy             `yaml:"envoy"`
	// Module names this plugin's module: a name given with --module
	// NAME=FILE, or a file relative to the exchange file. Empty means the
	// module given on the command line.
	Module Scalar `yaml:"module"`
	// Bootstrap runs the plugin as a bootstrap extension (Envoy's
	// WasmService on every worker): it starts and ticks but is not in the
	// HTTP filter chain, so it never gets a stream.
	Bootstrap bool `yaml:"bootstrap"`
}

// Envoy selects version-dependent behaviour.
type Envoy struct {
	// WASI is "427" (Envoy 1.33–1.37, default) or "533".
	WASI             Scalar `yaml:"wasi"`
	LegacyCopyFrom   bool   `yaml:"legacyCopyFrom"`
	LegacyAttributes bool   `yaml:"legacyAttributes"`
}

// StatsConfig is the part of Envoy's stats_config the harness models.
type StatsConfig struct {
	StatsTags []StatsTag `yaml:"statsTags"`
	// UseAllDefaultTags is true unless set to false, as in Envoy.
	UseAllDefaultTags *bool `yaml:"useAllDefaultTags"`
}

// StatsTag is a TagSpecifier: a regex (first group cut from the name,
// second group the value), a fixed value, or neither to name a default.
type StatsTag struct {
	TagName    string `yaml:"tagName"`
	Regex      Scalar `yaml:"regex"`
	FixedValue string `yaml:"fixedValue"`
}

// tagRules is Envoy's extractor order: the defaults (unless
// useAllDefaultTags is false), then the user's tags.
func (f *File) tagRules() ([]pw.TagRule, error) {
	var rules []pw.TagRule
	if d := f.StatsConfig.UseAllDefaultTags; d == nil || *d {
		rules = append(rules, pw.DefaultTagRules()...)
	}
	for i, t := range f.StatsConfig.StatsTags {
		r, err := pw.NewTagRules(t.TagName, t.Regex.Value, t.FixedValue)
		if err != nil {
			path := fmt.Sprintf("statsConfig.statsTags[%d]", i)
			if t.Regex.Line > 0 {
				return nil, f.errAt(t.Regex, path+".regex", err.Error()+" (Go RE2 syntax: no look-around)")
			}
			return nil, &Error{File: f.path, Path: path, Msg: err.Error()}
		}
		rules = append(rules, r...)
	}
	return rules, nil
}

// Node is the Envoy node identity.
type Node struct {
	ID       string         `yaml:"id"`
	Cluster  string         `yaml:"cluster"`
	Region   string         `yaml:"region"`
	Zone     string         `yaml:"zone"`
	SubZone  string         `yaml:"subZone"`
	Metadata map[string]any `yaml:"metadata"`
}

// Route is one route; the first whose match holds is used.
type Route struct {
	Name          string `yaml:"name"`
	Match         Match  `yaml:"match"`
	Cluster       string `yaml:"cluster"`
	ClusterHeader string `yaml:"clusterHeader"`
	// Timeout is the route timeout (Envoy's default 15s; 0s means none).
	Timeout Scalar `yaml:"timeout"`
	// Metadata is the route's filter_metadata by namespace, readable as
	// xds.route_metadata (and legacy route_metadata).
	Metadata map[string]map[string]any `yaml:"metadata"`
}

// Match selects answers by request: every field given must hold (path
// prefix or exact path, method, headers with exact values).
type Match struct {
	Prefix  string            `yaml:"prefix"`
	Path    string            `yaml:"path"`
	Method  string            `yaml:"method"`
	Headers map[string]string `yaml:"headers"`
}

func (m *Match) matches(h [][2]string) bool {
	get := func(k string) (string, bool) {
		for _, p := range h {
			if strings.EqualFold(p[0], k) {
				return p[1], true
			}
		}
		return "", false
	}
	path, _ := get(":path")
	if m.Prefix != "" && !strings.HasPrefix(path, m.Prefix) {
		return false
	}
	if m.Path != "" && path != m.Path {
		return false
	}
	if method, _ := get(":method"); m.Method != "" && method != m.Method {
		return false
	}
	for k, v := range m.Headers {
		if got, ok := get(k); !ok || got != v {
			return false
		}
	}
	return true
}

// Rule is a scripted answer for the requests it matches; rules are tried
// in order before a cluster's ordered answers, and a matching rule answers
// every time.
type Rule struct {
	Cluster string `yaml:"cluster"`
	Match   Match  `yaml:"match"`
	Answer  Answer `yaml:"answer"`
}

// Request is one downstream request.
type Request struct {
	At      Scalar `yaml:"at"`
	Worker  int    `yaml:"worker"`
	Headers Pairs  `yaml:"headers"`
	Body    string `yaml:"body"`
	// BodyChunks sends the body in several data frames instead.
	BodyChunks []string `yaml:"bodyChunks"`
	Trailers   Pairs    `yaml:"trailers"`
	// Upstream answers this request, overriding upstreams[cluster].
	Upstream *Answer `yaml:"upstream"`
}

// Answer is an upstream's or an http_call cluster's response.
type Answer struct {
	Status   int    `yaml:"status"`
	Headers  Pairs  `yaml:"headers"`
	Body     string `yaml:"body"`
	Trailers Pairs  `yaml:"trailers"`
	Delay    Scalar `yaml:"delay"`
	// Fault is connect_failure, timeout, reset, no_healthy_upstream or
	// overflow.
	Fault    Scalar                    `yaml:"fault"`
	Address  string                    `yaml:"address"`
	Metadata map[string]map[string]any `yaml:"metadata"`
	Locality struct {
		Region  string `yaml:"region"`
		Zone    string `yaml:"zone"`
		SubZone string `yaml:"subZone"`
	} `yaml:"locality"`
}

// Scalar is a string that remembers where it was written.
type Scalar = strictyaml.Scalar

// Error is a validation error with its position and field path.
type Error = strictyaml.Error

// Pairs is a header list: a mapping (in file order) or a list of
// [name, value] pairs (for repeated names).
type Pairs [][2]string

func (p *Pairs) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			*p = append(*p, [2]string{n.Content[i].Value, n.Content[i+1].Value})
		}
		return nil
	case yaml.SequenceNode:
		for _, it := range n.Content {
			if it.Kind != yaml.SequenceNode || len(it.Content) != 2 {
				return strictyaml.At(it, "expected a [name, value] pair")
			}
			*p = append(*p, [2]string{it.Content[0].Value, it.Content[1].Value})
		}
		return nil
	}
	return strictyaml.At(n, "expected a mapping or a list of [name, value] pairs")
}

// StrictYAMLOpaque: Pairs checks its own shape in UnmarshalYAML.
func (Pairs) StrictYAMLOpaque() {}

// Load reads and validates an exchange file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse validates an exchange file's bytes; path names it in errors.
func Parse(path string, b []byte) (*File, error) {
	doc, err := strictyaml.Root(path, b, "exchange file")
	if err != nil {
		return nil, err
	}
	f := &File{path: path, root: doc}
	if err := strictyaml.Decode(path, doc, f); err != nil {
		return nil, err
	}
	if err := f.validate(); err != nil {
		return nil, strictyaml.Position(doc, err)
	}
	return f, nil
}

// errPath is an error at the node a field path names.
func (f *File) errPath(path, msg string) error {
	return strictyaml.Position(f.root, &Error{File: f.path, Path: path, Msg: msg})
}

func (f *File) errAt(s Scalar, path, msg string) error {
	return &Error{File: f.path, Line: s.Line, Col: s.Col, Path: path, Msg: msg}
}

func (f *File) duration(s Scalar, path string) (time.Duration, error) {
	if s.Value == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s.Value)
	if err != nil || d < 0 {
		return 0, f.errAt(s, path, fmt.Sprintf("expected a non-negative duration such as 250ms or 2s, got %q", s.Value))
	}
	return d, nil
}

var faults = []string{pw.FaultConnectFailure, pw.FaultTimeout, pw.FaultReset, pw.FaultNoHealthyUpstream, pw.FaultOverflow}

func (f *File) checkAnswer(a *Answer, path string) error {
	if _, err := f.duration(a.Delay, path+".delay"); err != nil {
		return err
	}
	if a.Fault.Value != "" {
		ok := false
		for _, x := range faults {
			ok = ok || x == a.Fault.Value
		}
		if !ok {
			return f.errAt(a.Fault, path+".fault", fmt.Sprintf("unknown fault %q (expected one of %s)", a.Fault.Value, strings.Join(faults, ", ")))
		}
	}
	if a.Status != 0 && (a.Status < 100 || a.Status > 599) {
		return &Error{File: f.path, Path: path + ".status", Msg: fmt.Sprintf("expected an HTTP status 100-599, got %d", a.Status)}
	}
	return nil
}

// plugins returns the filter chain with its field paths.
func (f *File) plugins() ([]Plugin, []string) {
	if len(f.Filters) == 0 {
		return []Plugin{f.Plugin}, []string{"plugin"}
	}
	paths := make([]string, len(f.Filters))
	for i := range f.Filters {
		paths[i] = fmt.Sprintf("filters[%d]", i)
	}
	return f.Filters, paths
}

func (f *File) validatePlugin(pl Plugin, path string) error {
	if _, ok := pw.ParseFailurePolicy(pl.FailurePolicy.Value); !ok {
		return f.errAt(pl.FailurePolicy, path+".failurePolicy", fmt.Sprintf("unknown policy %q (expected FAIL_RELOAD, FAIL_CLOSED or FAIL_OPEN)", pl.FailurePolicy.Value))
	}
	if _, err := f.duration(pl.ReloadBackoff, path+".reloadBackoff"); err != nil {
		return err
	}
	if v := pl.Envoy.WASI.Value; v != "" && v != "427" && v != "533" {
		return f.errAt(pl.Envoy.WASI, path+".envoy.wasi", fmt.Sprintf("expected 427 or 533, got %q", v))
	}
	return nil
}

func (f *File) validate() error {
	if len(f.Filters) > 0 && strictyaml.Locate(f.root, "plugin") != nil {
		return &Error{File: f.path, Path: "filters", Msg: "expected plugin or filters, not both"}
	}
	pls, paths := f.plugins()
	names := map[string]bool{}
	for i, pl := range pls {
		if err := f.validatePlugin(pl, paths[i]); err != nil {
			return err
		}
		// Envoy allows empty (and repeated) names; the report tells filters
		// apart by name, so only non-empty ones must be unique.
		n := pl.Name
		if n != "" && names[n] {
			return &Error{File: f.path, Path: paths[i] + ".name", Msg: fmt.Sprintf("duplicate filter name %q", n)}
		}
		names[n] = true
	}
	if v := f.LogLevel.Value; v != "" {
		if _, ok := pw.ParseLogLevel(v); !ok {
			return f.errAt(f.LogLevel, "logLevel", fmt.Sprintf("expected trace, debug, info, warn, error or critical, got %q", v))
		}
	}
	if f.Workers < 0 || f.Workers > MaxWorkers {
		return f.errPath("workers", fmt.Sprintf("expected 1 to %d workers, got %d", MaxWorkers, f.Workers))
	}
	if _, err := f.duration(f.Advance, "advance"); err != nil {
		return err
	}
	if _, err := f.tagRules(); err != nil {
		return err
	}
	for i, r := range f.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		if r.Cluster == "" && r.ClusterHeader == "" {
			return &Error{File: f.path, Path: p, Msg: "expected cluster or clusterHeader"}
		}
		if _, err := f.duration(r.Timeout, p+".timeout"); err != nil {
			return err
		}
	}
	// No requests is valid: a tick-only or bootstrap plugin runs for
	// advance.
	for i := range f.Requests {
		r := &f.Requests[i]
		p := fmt.Sprintf("requests[%d]", i)
		if _, err := f.duration(r.At, p+".at"); err != nil {
			return err
		}
		if r.Body != "" && len(r.BodyChunks) > 0 {
			return &Error{File: f.path, Path: p, Msg: "expected body or bodyChunks, not both"}
		}
		has := map[string]bool{}
		for _, h := range r.Headers {
			has[strings.ToLower(h[0])] = true
		}
		for _, k := range []string{":method", ":path", ":authority"} {
			if !has[k] {
				return &Error{File: f.path, Path: p + ".headers", Msg: "expected the pseudo-header " + k}
			}
		}
		if r.Upstream != nil {
			if err := f.checkAnswer(r.Upstream, p+".upstream"); err != nil {
				return err
			}
		}
	}
	for _, rs := range []struct {
		name string
		v    []Rule
	}{{"upstreamRules", f.UpstreamRules}, {"httpCallRules", f.HTTPCallRules}} {
		for i := range rs.v {
			p := fmt.Sprintf("%s[%d]", rs.name, i)
			if rs.v[i].Cluster == "" {
				return &Error{File: f.path, Path: p, Msg: "expected cluster (the cluster whose requests the rule answers)"}
			}
			if err := f.checkAnswer(&rs.v[i].Answer, p+".answer"); err != nil {
				return err
			}
		}
	}
	for _, m := range []struct {
		name string
		v    map[string][]Answer
	}{{"upstreams", f.Upstreams}, {"httpCalls", f.HTTPCalls}} {
		for c, as := range m.v {
			for i := range as {
				if err := f.checkAnswer(&as[i], fmt.Sprintf("%s.%s[%d]", m.name, c, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// configBytes renders a configuration node: a string as is, anything else
// as JSON.
func configBytes(n *yaml.Node) ([]byte, error) {
	if n.Kind == 0 {
		return nil, nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		return []byte(n.Value), nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
