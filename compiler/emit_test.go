package compiler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yaml "go.yaml.in/yaml/v3"

	"github.com/detour-mesh/detour/compiler/explain"
	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/compiler/lower"
)

// library is the reference: the YAML library's emitter.
func library(t *testing.T, docs ...*yaml.Node) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, encodeYAML(&buf, docs...))
	return buf.String()
}

// TestBlockWriterMatchesLibrary: scalars and shapes the block writer must
// quote, lay out or hand over exactly as the library does.
func TestBlockWriterMatchesLibrary(t *testing.T) {
	var values []any
	for _, s := range []string{
		"plain", "a-b_c.d/e=f", "true", "True", "FALSE", "null", "Null", "~", "", " ", "yes", "no", "on", "y",
		"10.0.0.1", "2024-01-01", "0001", "0x1f", "1_000", "1e5", ".5", ".inf", "-.inf", ".nan", "+1", "-1", "-", "- a",
		"a: b", "a:", "a:b", "oci://x/y:v1", "#x", "x #y", "*.example.com", "&a", "!t", "|", ">", "%", "@", "`",
		"'q'", `"dq"`, "a,b", "[x]", "{x}", "?", "? x", "---", "...", "<<", "a\tb", "a\nb", "a\n", "\nb", "héllo",
		`^1\.(2[3-9]|[3-9][0-9])(\..*)?$`, "trailing ", " leading", "x=1,y=2", "Infinity", "NaN",
	} {
		values = append(values, s)
	}
	values = append(values, json.Number("0"), json.Number("-7"), json.Number("123456789012345678"),
		json.Number("12345678901234567890"), json.Number("0.5"), json.Number("-3.25"), json.Number("1e-7"),
		json.Number("1e+21"), json.Number("2.5E3"), true, false, nil)
	var items []any
	for i, v := range values {
		items = append(items, map[string]any{fmt.Sprintf("k%d", i): v, "list": []any{v, map[string]any{"x": v}}})
	}
	shapes := []any{
		map[string]any{"values": values, "items": items},
		map[string]any{"empty": map[string]any{}, "none": []any{}, "nested": map[string]any{"a": map[string]any{"b": []any{"c"}}}},
		map[string]any{"listOfEmpty": []any{map[string]any{}, []any{}}},
		map[string]any{"seqInSeq": []any{[]any{"a", "b"}}},
		map[string]any{"1": "numeric key", "true": "bool key", "a b": "spaced key", "region/zone/*": 1, "*": 2, "": 3,
			"k:": 4, "? q": 5, "#c": 6, strings.Repeat("k", 130): 7, "é": 8},
		map[string]any{"multi": "line one\nline two\n"},
		[]any{"top", "level"},
	}
	for i, sh := range shapes {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			j, err := json.Marshal(sh)
			require.NoError(t, err)
			n, err := jsonNode(j)
			require.NoError(t, err)
			want := library(t, n, n)
			var buf bytes.Buffer
			require.NoError(t, writeYAML(&buf, n, n))
			assert.Equal(t, want, buf.String())
		})
	}
}

// TestBlockWriterCoversOutput: every file the examples and the generated
// intents produce is written by the block writer itself, not handed back
// to the library, and equals the library's output.
func TestBlockWriterCoversOutput(t *testing.T) {
	srcs := sampleSources(t)
	check := func(name string, docs []*yaml.Node) {
		var w blockWriter
		err := w.write(nil, docs)
		if assert.False(t, errors.Is(err, errComplex), "%s: handed to the library", name) {
			require.NoError(t, err)
			assert.Equal(t, library(t, docs...), string(w.out), name)
		}
	}
	for _, s := range srcs {
		in := s.Intent
		j, err := json.Marshal(struct {
			intent.Intent
			Status explain.Report `json:"status"`
		}{in, explain.Analyze(in)})
		require.NoError(t, err)
		n, err := jsonNode(j)
		require.NoError(t, err)
		check(in.Metadata.Name+" intent", []*yaml.Node{n})
		bundles, err := lower.Lower(in, GoldenOptions)
		require.NoError(t, err)
		for _, b := range bundles {
			var docs []*yaml.Node
			for _, o := range b.Objects {
				n, err := manifestNode(o)
				require.NoError(t, err)
				docs = append(docs, n)
			}
			check(in.Metadata.Name+" "+b.Target, docs)
		}
	}
}
