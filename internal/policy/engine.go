// Package policy evaluates Detour's Rego policies (and a team's own) over
// intents and Istio resources with the OPA Go library, the way conftest
// does: every deny*/violation*/warn* rule of package main is queried per
// document, conftest's `exception` rules apply, and a second pass over the
// combined documents runs the rules that need several resources at once.
package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/detour-mesh/detour/policies"
)

// Severities of a finding.
const (
	Deny = "deny"
	Warn = "warn"
)

// conftest's rule-name conventions (policy/engine.go).
var (
	failureRule = regexp.MustCompile(`^(deny|violation)(_[a-zA-Z0-9]+)*$`)
	warningRule = regexp.MustCompile(`^warn(_[a-zA-Z0-9]+)*$`)
)

// Finding is one rule result positioned in a file.
type Finding struct {
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Rule     string `json:"rule"`     // stable id, e.g. "strict_weights"
	Severity string `json:"severity"` // deny | warn
	Path     string `json:"path,omitempty"`
	Message  string `json:"message"`
}

// Exception records a rule that fired but was excepted.
type Exception struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Rule string `json:"rule"`
	By   string `json:"by"` // "flag", "policy" or "annotation"
	// Reason is why: the resource's policy.detour.dev/except-reason
	// annotation, or what excepted it.
	Reason   string `json:"reason,omitempty"`
	Column   int    `json:"column,omitempty"`
	Severity string `json:"severity,omitempty"`
	Message  string `json:"message,omitempty"`
}

// Annotations that except rules on the resource carrying them.
const (
	AnnotationExcept       = "policy.detour.dev/except"
	AnnotationExceptReason = "policy.detour.dev/except-reason"
)

// Report is the outcome of a check.
type Report struct {
	Documents  int         `json:"documents"`
	Findings   []Finding   `json:"findings"`
	Exceptions []Exception `json:"exceptions"`
	// Rules describes every rule id seen or catalogued (for SARIF).
	Rules map[string]RuleInfo `json:"-"`
}

// Denials counts findings of severity deny.
func (r Report) Denials() int { return r.count(Deny) }

// Warnings counts findings of severity warn.
func (r Report) Warnings() int { return r.count(Warn) }

func (r Report) count(sev string) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == sev {
			n++
		}
	}
	return n
}

// RuleInfo describes a rule id.
type RuleInfo struct {
	Severity string `json:"severity"`
	Title    string `json:"title"`
}

// Options configure an Engine.
type Options struct {
	// PolicyDirs are extra policy directories (a team's own rules and
	// exceptions), loaded next to the embedded policies like conftest -p.
	PolicyDirs []string
	// Except lists rule ids (or full rule names) never reported.
	Except []string
}

// Engine holds the compiled policies.
type Engine struct {
	rules   []string // deny*/warn* rule names of package main, sorted
	main    rego.PreparedEvalQuery
	catalog map[string]RuleInfo
	except  map[string]bool
}

// New compiles the embedded policies plus opts.PolicyDirs.
func New(ctx context.Context, opts Options) (*Engine, error) {
	srcs, err := policies.Modules()
	if err != nil {
		return nil, err
	}
	modules := map[string]*ast.Module{}
	popts := ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true}
	for name, src := range srcs {
		m, err := ast.ParseModuleWithOpts("policies/"+name, src, popts)
		if err != nil {
			return nil, err
		}
		modules["policies/"+name] = m
	}
	for _, dir := range opts.PolicyDirs {
		res, err := loader.NewFileLoader().WithRegoVersion(ast.RegoV1).WithProcessAnnotation(true).
			Filtered([]string{dir}, func(_ string, info os.FileInfo, _ int) bool {
				return !info.IsDir() && !strings.HasSuffix(info.Name(), ".rego")
			})
		if err != nil {
			return nil, err
		}
		// A team policy directory that adds nothing is a mistake (a wrong
		// path, or conftest's other package names): say so instead of
		// checking as if it had passed.
		var other []string
		found := false
		for name, m := range res.ParsedModules() {
			modules[name] = m
			if pkg := m.Package.Path.String(); pkg == "data.main" {
				found = true
			} else if !slices.Contains(other, strings.TrimPrefix(pkg, "data.")) {
				other = append(other, strings.TrimPrefix(pkg, "data."))
			}
		}
		switch {
		case len(res.ParsedModules()) == 0:
			return nil, fmt.Errorf("policy directory %s: no .rego files", dir)
		case !found:
			sort.Strings(other)
			return nil, fmt.Errorf("policy directory %s: no rules in package main (found package %s); deny_, warn_ and exception rules must be in package main", dir, strings.Join(other, ", "))
		}
	}
	compiler := ast.NewCompiler()
	if compiler.Compile(modules); compiler.Failed() {
		return nil, compiler.Errors
	}

	e := &Engine{except: map[string]bool{}}
	for _, x := range opts.Except {
		e.except[ruleID(strings.TrimSpace(x))] = true
	}
	seen := map[string]bool{}
	for _, m := range compiler.Modules {
		if m.Package.Path.String() != "data.main" {
			continue
		}
		for _, r := range m.Rules {
			name := r.Head.Name.String()
			if name == "" && len(r.Head.Reference) > 0 {
				name = strings.Trim(r.Head.Reference[0].Value.String(), `"`)
			}
			if (failureRule.MatchString(name) || warningRule.MatchString(name)) && !seen[name] {
				seen[name] = true
				e.rules = append(e.rules, name)
			}
		}
	}
	sort.Strings(e.rules)
	prepare := func(q string) (rego.PreparedEvalQuery, error) {
		return rego.New(rego.Compiler(compiler), rego.Query(q)).PrepareForEval(ctx)
	}
	if e.main, err = prepare("data.main"); err != nil {
		return nil, err
	}
	cat, err := prepare("data.detour.lib.catalog.rules")
	if err != nil {
		return nil, err
	}
	rs, err := cat.Eval(ctx)
	if err != nil {
		return nil, err
	}
	e.catalog = map[string]RuleInfo{}
	if len(rs) > 0 {
		if m, ok := rs[0].Expressions[0].Value.(map[string]any); ok {
			for id, v := range m {
				info, _ := v.(map[string]any)
				e.catalog[id] = RuleInfo{Severity: fmt.Sprint(info["severity"]), Title: fmt.Sprint(info["title"])}
			}
		}
	}
	return e, nil
}

// Rules returns the rule names the engine queries (deny_*, warn_*, ...).
func (e *Engine) Rules() []string { return e.rules }

// Known reports whether id names a rule the engine evaluates, as an id
// (strict_weights) or a full rule name (deny_strict_weights).
func (e *Engine) Known(id string) bool {
	for _, name := range e.rules {
		if id == name || id == ruleID(name) {
			return true
		}
	}
	_, ok := e.catalog[id]
	return ok
}

// Catalog returns the descriptions of the embedded rule ids.
func (e *Engine) Catalog() map[string]RuleInfo { return e.catalog }

// ruleID strips conftest's severity prefix: deny_strict_weights -> strict_weights.
func ruleID(name string) string {
	for _, p := range []string{"deny_", "violation_", "warn_"} {
		if strings.HasPrefix(name, p) {
			return name[len(p):]
		}
	}
	return name
}

func severity(rule string) string {
	if warningRule.MatchString(rule) {
		return Warn
	}
	return Deny
}

// Check evaluates every document, then the combined set.
func (e *Engine) Check(ctx context.Context, docs []Document) (Report, error) {
	rep := Report{Documents: len(docs), Findings: []Finding{}, Exceptions: []Exception{}, Rules: map[string]RuleInfo{}}
	for id, info := range e.catalog {
		rep.Rules[id] = info
	}
	for i := range docs {
		if err := e.evaluate(ctx, docs[i].Value, docs, &docs[i], &rep); err != nil {
			return rep, fmt.Errorf("%s:%d: %w", docs[i].File, docs[i].Line, err)
		}
	}
	if len(docs) > 0 {
		combined := make([]any, len(docs))
		for i, d := range docs {
			combined[i] = map[string]any{"path": d.File, "contents": d.Value}
		}
		if err := e.evaluate(ctx, combined, docs, nil, &rep); err != nil {
			return rep, fmt.Errorf("combined documents: %w", err)
		}
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool {
		a, b := rep.Findings[i], rep.Findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Message < b.Message
	})
	return rep, nil
}

// evaluate runs every rule on one input; doc is nil for the combined input.
// One query of the whole package main gives every rule's results (and the
// exceptions) in a single evaluation.
func (e *Engine) evaluate(ctx context.Context, input any, docs []Document, doc *Document, rep *Report) error {
	results, err := e.results(ctx, input)
	if err != nil {
		return err
	}
	excepted := policyExceptions(results["exception"])
	exception := func(f Finding, by, reason string) Exception {
		return Exception{File: f.File, Line: f.Line, Column: f.Column, Rule: f.Rule, By: by, Reason: reason, Severity: f.Severity, Message: f.Message}
	}
	for _, name := range e.rules {
		vals, _ := results[name].([]any)
		for _, v := range vals {
			f, ok := e.finding(name, v, docs, doc)
			if !ok {
				continue
			}
			switch {
			case e.except[f.Rule] || e.except[name]:
				rep.Exceptions = append(rep.Exceptions, exception(f, "flag", "excepted by --except "+f.Rule))
			case excepted[ruleID(name)]:
				rep.Exceptions = append(rep.Exceptions, exception(f, "policy", "excepted by an exception rule of the policies"))
			default:
				rep.Findings = append(rep.Findings, f)
				if _, ok := rep.Rules[f.Rule]; !ok {
					rep.Rules[f.Rule] = RuleInfo{Severity: f.Severity, Title: name}
				}
			}
		}
	}
	// The policies drop what a resource's annotation excepts (conftest's
	// semantics); evaluating the resource again without the annotation
	// tells which findings it suppressed, so they are tallied and reported
	// as suppressed, never silently lost.
	ids, reason, without := annotationExcept(input)
	if doc == nil || len(ids) == 0 {
		return nil
	}
	again, err := e.results(ctx, without)
	if err != nil {
		return err
	}
	if reason == "" {
		reason = "excepted by annotation " + AnnotationExcept
	}
	for _, name := range e.rules {
		vals, _ := again[name].([]any)
		for _, v := range vals {
			f, ok := e.finding(name, v, docs, doc)
			if !ok || !ids[f.Rule] || e.except[f.Rule] || e.except[name] || excepted[ruleID(name)] {
				continue
			}
			rep.Exceptions = append(rep.Exceptions, exception(f, "annotation", reason))
		}
	}
	return nil
}

// results evaluates package main once over input.
func (e *Engine) results(ctx context.Context, input any) (map[string]any, error) {
	value, err := ast.InterfaceToValue(input)
	if err != nil {
		return nil, err
	}
	rs, err := e.main.Eval(ctx, rego.EvalParsedInput(value))
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	results, _ := rs[0].Expressions[0].Value.(map[string]any)
	return results, nil
}

// annotationExcept reads a resource's except annotation: the rule ids, the
// reason, and the resource without the annotation.
func annotationExcept(input any) (map[string]bool, string, any) {
	obj, _ := input.(map[string]any)
	meta, _ := obj["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	list, _ := ann[AnnotationExcept].(string)
	if list == "" {
		return nil, "", nil
	}
	ids := map[string]bool{}
	for _, x := range strings.Split(list, ",") {
		if x = strings.TrimSpace(x); x != "" {
			ids[x] = true
		}
	}
	reason, _ := ann[AnnotationExceptReason].(string)
	strippedAnn := make(map[string]any, len(ann))
	for k, v := range ann {
		if k != AnnotationExcept {
			strippedAnn[k] = v
		}
	}
	strippedMeta := make(map[string]any, len(meta))
	for k, v := range meta {
		strippedMeta[k] = v
	}
	strippedMeta["annotations"] = strippedAnn
	stripped := make(map[string]any, len(obj))
	for k, v := range obj {
		stripped[k] = v
	}
	stripped["metadata"] = strippedMeta
	return ids, strings.TrimSpace(reason), stripped
}

// policyExceptions reads conftest's `exception` rules: each yields a list
// of rule names (without the deny_/warn_ prefix) not to report.
func policyExceptions(v any) map[string]bool {
	out := map[string]bool{}
	sets, _ := v.([]any)
	for _, s := range sets {
		names, _ := s.([]any)
		for _, n := range names {
			if str, ok := n.(string); ok {
				out[str] = true
			}
		}
	}
	return out
}

// finding reads one rule result: a string (plain conftest rules) or an
// object with "msg" and, for Detour's rules, "rule", "path" and, in the
// combined pass, "index" of the document it is about.
func (e *Engine) finding(name string, v any, docs []Document, doc *Document) (Finding, bool) {
	f := Finding{Rule: ruleID(name), Severity: severity(name)}
	if f.Rule == "" {
		f.Rule = name
	}
	switch x := v.(type) {
	case string:
		f.Message = x
	case map[string]any:
		msg, ok := x["msg"].(string)
		if !ok {
			return f, false
		}
		f.Message = msg
		if id, ok := x["rule"].(string); ok && id != "" {
			f.Rule = id
		}
		f.Path, _ = x["path"].(string)
		if doc == nil {
			if idx, ok := index(x["index"]); ok && idx >= 0 && idx < len(docs) {
				doc = &docs[idx]
			} else if file, ok := x["file"].(string); ok {
				f.File = file
			}
		}
	default:
		return f, false
	}
	if doc != nil {
		f.File = doc.File
		f.Line, f.Column = doc.Position(f.Path)
	}
	if f.File == "" {
		f.File = "combined"
	}
	return f, true
}

// index reads a document index; rego returns numbers as json.Number.
func index(v any) (int, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	case float64:
		return int(n), true
	}
	return 0, false
}
