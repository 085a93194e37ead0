package load

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An error the document cannot place still carries file:line:col: the file's start.
func TestEmptyFileHasPosition(t *testing.T) {
	for _, name := range []string{"empty.yaml", "comment.yaml"} {
		data := map[string][]byte{"empty.yaml": nil, "comment.yaml": []byte("# nothing here\n")}[name]
		_, err := Bytes(name, data)
		require.Error(t, err)
		assert.Regexp(t, `^`+name+`:\d+:\d+: `, err.Error())
	}
}
