package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"

	"github.com/detour-mesh/detour/compiler/explain"
	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/compiler/load"
	"github.com/detour-mesh/detour/internal/walk"
	"github.com/detour-mesh/detour/internal/yamldoc"
)

// Document is one policy input: a normalised intent with its explain status,
// or one Istio (or any other) YAML/JSON document as written.
type Document struct {
	File   string // path as the user gave it (or as found in a directory)
	Line   int    // where the document starts in File (1-based; 0 unknown)
	Column int
	Value  any // JSON-shaped: map[string]any, []any, string, float64, bool, nil

	node *yamlv3.Node // the document as parsed, to position field paths
	base int          // lines in File before the text node was parsed from
}

// Checked reports whether the policies judge d: a FailoverIntent or an Istio
// resource (an apiVersion of an istio.io group). Any other document is
// carried along but nothing checks it.
func (d Document) Checked() bool {
	m, ok := d.Value.(map[string]any)
	if !ok {
		return false
	}
	api, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	if api == intent.APIVersion && kind == intent.Kind {
		return true
	}
	group, _, ok := strings.Cut(api, "/")
	return ok && kind != "" && (group == "istio.io" || strings.HasSuffix(group, ".istio.io"))
}

// Position returns the line and column of a field path such as
// "spec.http[0].retries" inside the document, falling back to the nearest
// ancestor that was written, and to the document's start.
func (d Document) Position(path string) (int, int) {
	if d.node == nil || path == "" {
		return d.Line, d.Column
	}
	n := d.node
	if n.Kind == yamlv3.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line, col := n.Line+d.base, n.Column
	for _, seg := range splitPath(path) {
		next := child(n, seg)
		if next == nil {
			break
		}
		n = next
		line, col = n.Line+d.base, n.Column
	}
	return line, col
}

// splitPath turns "a.b[2].c" into ["a", "b", "[2]", "c"].
func splitPath(p string) []string {
	var out []string
	for _, part := range strings.Split(p, ".") {
		for part != "" {
			i := strings.IndexByte(part, '[')
			switch {
			case i < 0:
				out = append(out, part)
				part = ""
			case i > 0:
				out = append(out, part[:i])
				part = part[i:]
			default:
				j := strings.IndexByte(part, ']')
				if j < 0 {
					out = append(out, part)
					part = ""
					continue
				}
				out = append(out, part[:j+1])
				part = part[j+1:]
			}
		}
	}
	return out
}

func child(n *yamlv3.Node, seg string) *yamlv3.Node {
	if strings.HasPrefix(seg, "[") {
		var i int
		if _, err := fmt.Sscanf(seg, "[%d]", &i); err != nil || n.Kind != yamlv3.SequenceNode || i < 0 || i >= len(n.Content) {
			return nil
		}
		return n.Content[i]
	}
	if n.Kind != yamlv3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == seg {
			return n.Content[i+1]
		}
	}
	return nil
}

// Collect reads the documents under paths: files (.yaml, .yml, .json,
// .cue) and directories, walked by the one directory rule (internal/walk:
// hidden directories, cue.mod and compiled output skipped; the .cue files
// of a directory are one package, read if they mention an intent). A
// FailoverIntent that has no status yet is loaded, validated and
// normalised by compiler/load, and gets its status from explain.Analyze,
// exactly as `detour compile` writes it; every other document is used as
// written.
func Collect(paths ...string) ([]Document, error) {
	var docs []Document
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			ds, err := readFile(p)
			if err != nil {
				return nil, err
			}
			docs = append(docs, ds...)
			continue
		}
		files, err := walk.Tree(p)
		if err != nil {
			return nil, err
		}
		plain, packages := walk.Split(files)
		for _, f := range plain {
			ds, err := readFile(f)
			if err != nil {
				return nil, err
			}
			docs = append(docs, ds...)
		}
		for _, pkg := range packages {
			srcs, _, err := load.CUEPackage(pkg...)
			if err != nil {
				return nil, err
			}
			ds, err := intentDocuments(srcs)
			if err != nil {
				return nil, err
			}
			docs = append(docs, ds...)
		}
	}
	return docs, nil
}

func readFile(file string) ([]Document, error) {
	if filepath.Ext(file) == ".cue" {
		srcs, err := load.Paths(file)
		if err != nil {
			return nil, err
		}
		return intentDocuments(srcs)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return Parse(file, data)
}

// Parse reads the documents of one YAML or JSON stream held in memory (such
// as stdin), named file in positions; intents are loaded as Collect loads
// them.
func Parse(file string, data []byte) ([]Document, error) {
	var docs []Document
	for _, c := range yamldoc.Bytes(data) {
		var node yamlv3.Node
		if err := yamlv3.Unmarshal(c.Text, &node); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, c.Line, err)
		}
		// An empty document between separators; yaml.v3 gives a marker
		// the splitter kept ("---\t") a null on the line after it.
		if c := node.Content; len(c) == 0 || c[0].Kind == yamlv3.ScalarNode && c[0].Tag == "!!null" && c[0].Value == "" {
			continue
		}
		j, err := yaml.YAMLToJSON(c.Text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, c.Line, err)
		}
		var v any
		if err := json.Unmarshal(j, &v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, c.Line, err)
		}
		base := c.Line - 1
		doc := Document{File: file, Line: base + node.Content[0].Line, Column: node.Content[0].Column, Value: v, node: &node, base: base}
		if needsLoading(v) {
			// Pad with blank lines so the loader's positions are the file's.
			padded := append(bytes.Repeat([]byte("\n"), c.Line-1), c.Text...)
			srcs, err := load.Bytes(file, padded)
			if err != nil {
				return nil, err
			}
			ds, err := intentDocuments(srcs)
			if err != nil {
				return nil, err
			}
			for i := range ds {
				ds[i].node, ds[i].base = &node, base
				ds[i].Line, ds[i].Column = doc.Line, doc.Column
			}
			docs = append(docs, ds...)
			continue
		}
		docs = append(docs, doc)
	}
	return docs, nil
}

// needsLoading is true for an intent as a team writes it (no status): it
// must be normalised and analysed before the policies see it.
func needsLoading(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || m["apiVersion"] != intent.APIVersion || m["kind"] != intent.Kind {
		return false
	}
	_, hasStatus := m["status"]
	return !hasStatus
}

// intentDocuments builds the document `detour compile` writes next to the
// Istio resources: the normalised intent with the explain report as status.
func intentDocuments(srcs []load.Source) ([]Document, error) {
	docs := make([]Document, 0, len(srcs))
	for _, s := range srcs {
		doc := struct {
			intent.Intent
			Status explain.Report `json:"status"`
		}{s.Intent, explain.Analyze(s.Intent)}
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.File, err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", s.File, err)
		}
		docs = append(docs, Document{File: s.File, Line: s.Line, Column: s.Column, Value: v})
	}
	return docs, nil
}
