package compiler

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	yaml "go.yaml.in/yaml/v3"
)

// errComplex: a tree holds something the block writer leaves to the YAML
// library (a key that needs quoting, a multi-line or non-ASCII string, a
// sequence directly in a sequence).
var errComplex = errors.New("not written directly")

// blockWriter writes the node trees the compiler builds (mappings with
// sorted keys, sequences, scalars tagged as JSON decodes) in exactly the
// layout of the YAML library's emitter at indent 2, which spends most of
// a compile's time queueing events. Scalars whose quoting is not obvious
// are rendered by the library itself, once per distinct value
// (up to a bound).
type blockWriter struct {
	out []byte
}

// quoted caches the library's renderings (tag, value, "key" or ""): the
// same few values (digests, URLs, addresses) recur in every file. The
// rendering depends on nothing else; the cap bounds what a long run keeps.
var (
	quoted  sync.Map
	quotedN atomic.Int64
)

const quotedMax = 4096

// writeYAML writes docs as encodeYAML does, falling back to it for the
// whole stream when a tree holds something the block writer does not.
func writeYAML(buf *bytes.Buffer, docs ...*yaml.Node) error {
	var w blockWriter
	err := w.write(buf.AvailableBuffer(), docs)
	if errors.Is(err, errComplex) {
		return encodeYAML(buf, docs...)
	}
	if err != nil {
		return err
	}
	buf.Write(w.out)
	return nil
}

// write appends the stream to out, or fails with errComplex.
func (w *blockWriter) write(out []byte, docs []*yaml.Node) error {
	w.out = out
	for i, n := range docs {
		if i > 0 {
			w.out = append(w.out, "---\n"...)
		}
		if err := w.node(n, 0, false); err != nil {
			return err
		}
	}
	return nil
}

// node writes n at indent; inSeq means the line already holds "- ".
func (w *blockWriter) node(n *yaml.Node, indent int, inSeq bool) error {
	if n.Style != 0 || n.Anchor != "" || n.HeadComment != "" || n.LineComment != "" || n.FootComment != "" ||
		n.Kind == yaml.MappingNode && (n.Tag != "!!map" || len(n.Content)%2 != 0) ||
		n.Kind == yaml.SequenceNode && n.Tag != "!!seq" {
		return errComplex
	}
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			return errComplex // {} at the top of a document or in a sequence
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key, err := w.key(k)
			if err != nil {
				return err
			}
			if i > 0 || !inSeq {
				w.indent(indent)
			}
			w.out = append(w.out, key...)
			w.out = append(w.out, ':')
			switch {
			case v.Kind == yaml.ScalarNode:
				s, err := w.scalar(v)
				if err != nil {
					return err
				}
				w.out = append(w.out, ' ')
				w.out = append(w.out, s...)
				w.out = append(w.out, '\n')
			case v.Kind == yaml.MappingNode && len(v.Content) == 0:
				w.out = append(w.out, " {}\n"...)
			case v.Kind == yaml.SequenceNode && len(v.Content) == 0:
				w.out = append(w.out, " []\n"...)
			case v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode:
				w.out = append(w.out, '\n')
				if err := w.node(v, indent+2, false); err != nil {
					return err
				}
			default:
				return errComplex
			}
		}
		return nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 || inSeq {
			return errComplex
		}
		for _, e := range n.Content {
			w.indent(indent)
			w.out = append(w.out, "- "...)
			switch {
			case e.Kind == yaml.ScalarNode:
				s, err := w.scalar(e)
				if err != nil {
					return err
				}
				w.out = append(w.out, s...)
				w.out = append(w.out, '\n')
			case e.Kind == yaml.MappingNode && len(e.Content) > 0:
				if err := w.node(e, indent+2, true); err != nil {
					return err
				}
			default:
				return errComplex
			}
		}
		return nil
	}
	return errComplex
}

func (w *blockWriter) indent(n int) {
	for range n {
		w.out = append(w.out, ' ')
	}
}

// key is a mapping key's text before ": ".
func (w *blockWriter) key(k *yaml.Node) (string, error) {
	if k.Kind != yaml.ScalarNode || k.Tag != "!!str" || len(k.Value) > 128 {
		return "", errComplex
	}
	if plainString(k.Value) {
		return k.Value, nil
	}
	return w.library(k, true)
}

// scalar is a value's text after "key: " or "- ".
func (w *blockWriter) scalar(n *yaml.Node) (string, error) {
	if n.Style != 0 || n.Anchor != "" || n.HeadComment != "" || n.LineComment != "" || n.FootComment != "" {
		return "", errComplex
	}
	v := n.Value
	switch n.Tag {
	case "!!str":
		if plainString(v) {
			return v, nil
		}
	case "!!int":
		if jsonInt(v) {
			return v, nil
		}
	case "!!float":
		if jsonFloat(v) {
			return v, nil
		}
	case "!!bool":
		if v == "true" || v == "false" {
			return v, nil
		}
	case "!!null":
		if v == "null" {
			return v, nil
		}
	}
	return w.library(n, false)
}

// library is the YAML library's own rendering of a key or value in a
// block mapping, for a single-line printable ASCII string.
func (w *blockWriter) library(n *yaml.Node, key bool) (string, error) {
	v := n.Value
	if n.Style != 0 || n.Anchor != "" || n.HeadComment != "" || n.LineComment != "" || n.FootComment != "" {
		return "", errComplex
	}
	for i := range len(v) {
		if v[i] < 0x20 || v[i] > 0x7e {
			return "", errComplex // line breaks, escapes, non-ASCII
		}
	}
	ck := [3]string{n.Tag, v}
	if key {
		ck[2] = "key"
	}
	if s, ok := quoted.Load(ck); ok {
		return s.(string), nil
	}
	m := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{scalar("!!str", "k"), n}}
	prefix, suffix := "k: ", "\n"
	if key {
		m.Content = []*yaml.Node{n, scalar("!!str", "v")}
		prefix, suffix = "", ": v\n"
	}
	b, err := yaml.Marshal(m)
	if err != nil {
		return "", err
	}
	s, okPrefix := strings.CutPrefix(string(b), prefix)
	s, okSuffix := strings.CutSuffix(s, suffix)
	if !okPrefix || !okSuffix || strings.ContainsAny(s, "\n") || key && strings.HasPrefix(s, "?") {
		return "", errComplex
	}
	if quotedN.Load() < quotedMax {
		quotedN.Add(1)
		quoted.Store(ck, s)
	}
	return s, nil
}

// plainString: a string the emitter writes as it is, in any position: it
// starts with a letter, holds no indicator or space, and does not read as
// a boolean or null.
func plainString(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/' || c == '=') {
			return false
		}
	}
	switch s {
	case "true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL":
		return false
	}
	return true
}

// jsonInt: -?(0|[1-9][0-9]*), short enough to read back as an int.
func jsonInt(s string) bool {
	d := strings.TrimPrefix(s, "-")
	if d == "" || len(d) > 18 || d[0] == '0' && len(d) > 1 {
		return false
	}
	return digits(d) == len(d)
}

// jsonFloat: a JSON number with a fraction or an exponent, which reads
// back as a float.
func jsonFloat(s string) bool {
	s = strings.TrimPrefix(s, "-")
	n := digits(s)
	if n == 0 || s[0] == '0' && n > 1 {
		return false
	}
	s = s[n:]
	frac := false
	if strings.HasPrefix(s, ".") {
		n = digits(s[1:])
		if n == 0 {
			return false
		}
		s, frac = s[1+n:], true
	}
	if s == "" {
		return frac
	}
	if s[0] != 'e' && s[0] != 'E' {
		return false
	}
	s = s[1:]
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	return s != "" && digits(s) == len(s)
}

func digits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
