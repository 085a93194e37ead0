package load

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/encoding/yaml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFastSchemaAgrees: the schema without messages accepts exactly what
// the full schema accepts and fills in the same values, on every fixture.
func TestFastSchemaAgrees(t *testing.T) {
	e, err := getEngine()
	require.NoError(t, err)
	files, err := filepath.Glob("testdata/*/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	e.mu.Lock()
	defer e.mu.Unlock()
	docs := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		dec := yaml.NewDecoder(f, bytes.NewReader(b))
		for {
			expr, err := dec.Extract()
			if err != nil {
				break // io.EOF, or the syntax fixture
			}
			v := e.ctx.BuildExpr(expr)
			full, fast := e.intent.Unify(v), e.fast.Unify(v)
			fullErr, fastErr := full.Validate(cue.Concrete(true)), fast.Validate(cue.Concrete(true))
			assert.Equal(t, fullErr == nil, fastErr == nil, "%s: full %v, fast %v", f, fullErr, fastErr)
			if fullErr == nil && fastErr == nil {
				a, _ := full.MarshalJSON()
				b, _ := fast.MarshalJSON()
				assert.JSONEq(t, string(a), string(b), f)
			}
			docs++
		}
	}
	assert.Greater(t, docs, 60)
}
