package yamldoc

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSplit: pieces start at "---" lines only, directives after "..."
// go with the next document, and line counts are exact.
func TestSplit(t *testing.T) {
	in := "a: 1\n---\nb: |\n  ---x\n  text\n--- c: 3\n...\n%YAML 1.2\n---\nd: 4\n----\n---"
	type piece struct {
		data string
		line int
	}
	var got []piece
	require.NoError(t, Split(strings.NewReader(in), 1<<20, func(d []byte, line int) bool {
		got = append(got, piece{string(d), line})
		return true
	}))
	assert.Equal(t, []piece{
		{"a: 1\n", 0},
		{"---\nb: |\n  ---x\n  text\n", 1},
		{"--- c: 3\n...\n", 5},
		{"%YAML 1.2\n---\nd: 4\n----\n", 7},
		{"---", 11},
	}, got)

	err := Split(strings.NewReader("a: "+strings.Repeat("x", 100)+"\n"), 64, func([]byte, int) bool { return true })
	assert.ErrorContains(t, err, "a document of more than")
}

// TestBytes: marker lines that hold nothing else are dropped and Line
// points at the content; a marker with content keeps it; a leading marker
// and comments do not make an empty first document.
func TestBytes(t *testing.T) {
	in := "# head\n---\na: 1\n--- # two\nb: 2\n--- {c: 3}\n---\n"
	assert.Equal(t, []Doc{{Index: 1, Line: 1, Text: []byte("# only a comment\nx: 1\n")}}, Bytes([]byte("# only a comment\nx: 1\n")))
	type doc struct {
		index, line int
		text        string
	}
	var got []doc
	for _, d := range Bytes([]byte(in)) {
		got = append(got, doc{d.Index, d.Line, string(d.Text)})
	}
	assert.Equal(t, []doc{
		{1, 3, "a: 1\n"},
		{2, 5, "b: 2\n"},
		{3, 6, "--- {c: 3}\n"},
		{4, 8, ""},
	}, got)
	assert.Empty(t, Bytes(nil))
}
