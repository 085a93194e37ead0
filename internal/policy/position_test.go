package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPositionInLaterDocument: positions in a document after the first
// count the lines before it; a path that is not written falls back to the
// document's start, an index one past the end to the list.
func TestPositionInLaterDocument(t *testing.T) {
	docs, err := Parse("x.yaml", []byte("a: 1\n---\nkind: X\nspec:\n  list: [1, 2]\n"))
	require.NoError(t, err)
	require.Len(t, docs, 2)
	d := docs[1]
	for _, tc := range []struct {
		path      string
		line, col int
	}{
		{"nope.x", 3, 1},
		{"spec.list[1]", 5, 13},
		{"spec.list[2]", 5, 9},
	} {
		line, col := d.Position(tc.path)
		assert.Equal(t, []int{tc.line, tc.col}, []int{line, col}, tc.path)
	}
}
