package compiler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// encodeYAML writes node trees as one block-style YAML stream ("---"
// between documents). The YAML library's emitter does the quoting; one
// emitter serves the whole stream because each one allocates sizeable
// buffers.
func encodeYAML(buf *bytes.Buffer, docs ...*yaml.Node) error {
	enc := yaml.NewEncoder(buf)
	enc.SetIndent(2)
	for _, n := range docs {
		if err := enc.Encode(n); err != nil {
			return err
		}
	}
	return enc.Close()
}

// jsonNode turns one JSON document into a YAML node tree with keys in
// sorted order; numbers keep their JSON spelling (tagged !!float when they
// have a fraction or exponent, else !!int). Decoding into generic values
// first is several times cheaper than walking the decoder's tokens.
func jsonNode(j []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return anyNode(v)
}

func anyNode(v any) (*yaml.Node, error) {
	switch t := v.(type) {
	case map[string]any:
		pairs := make([]pair, 0, len(t))
		for k, e := range t {
			n, err := anyNode(e)
			if err != nil {
				return nil, err
			}
			pairs = append(pairs, pair{k, n})
		}
		return mapping(pairs), nil
	case []any:
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: make([]*yaml.Node, 0, len(t))}
		for _, e := range t {
			n, err := anyNode(e)
			if err != nil {
				return nil, err
			}
			s.Content = append(s.Content, n)
		}
		return s, nil
	case string:
		return scalar("!!str", t), nil
	case json.Number:
		return numberNode(t.String()), nil
	case bool:
		if t {
			return scalar("!!bool", "true"), nil
		}
		return scalar("!!bool", "false"), nil
	case nil:
		return scalar("!!null", "null"), nil
	}
	return nil, fmt.Errorf("unexpected JSON value %T", v)
}

// pair is one key and value of a mapping.
type pair struct {
	k string
	v *yaml.Node
}

// mapping is a mapping node with the pairs in key order.
func mapping(pairs []pair) *yaml.Node {
	slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: make([]*yaml.Node, 0, 2*len(pairs))}
	for _, p := range pairs {
		m.Content = append(m.Content, scalar("!!str", p.k), p.v)
	}
	return m
}

// numberNode is a JSON number as written.
func numberNode(s string) *yaml.Node {
	if strings.ContainsAny(s, ".eE") {
		return scalar("!!float", s)
	}
	return scalar("!!int", s)
}

func scalar(tag, v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v} }
