package compiler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// encodeYAML writes JSON documents as one block-style YAML stream (keys in
// sorted order, "---" between documents). It walks the JSON tokens into a
// YAML node tree and lets the YAML library's emitter do the quoting, which is
// several times cheaper than decoding the JSON as YAML first; one emitter
// serves the whole stream because each one allocates sizeable buffers.
func encodeYAML(buf *bytes.Buffer, docs ...[]byte) error {
	enc := yaml.NewEncoder(buf)
	enc.SetIndent(2)
	for _, j := range docs {
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.UseNumber()
		n, err := jsonNode(dec)
		if err != nil {
			return err
		}
		if err := enc.Encode(n); err != nil {
			return err
		}
	}
	return enc.Close()
}

func jsonNode(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			type pair struct {
				k string
				v *yaml.Node
			}
			var pairs []pair
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := jsonNode(dec)
				if err != nil {
					return nil, err
				}
				pairs = append(pairs, pair{kt.(string), v})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			sort.Slice(pairs, func(i, j int) bool { return pairs[i].k < pairs[j].k })
			m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			for _, p := range pairs {
				m.Content = append(m.Content, scalar("!!str", p.k), p.v)
			}
			return m, nil
		case '[':
			s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for dec.More() {
				v, err := jsonNode(dec)
				if err != nil {
					return nil, err
				}
				s.Content = append(s.Content, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return s, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case string:
		return scalar("!!str", t), nil
	case json.Number:
		if strings.ContainsAny(t.String(), ".eE") {
			return scalar("!!float", t.String()), nil
		}
		return scalar("!!int", t.String()), nil
	case bool:
		if t {
			return scalar("!!bool", "true"), nil
		}
		return scalar("!!bool", "false"), nil
	case nil:
		return scalar("!!null", "null"), nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

func scalar(tag, v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v} }
