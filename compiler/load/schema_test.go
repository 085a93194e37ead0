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

// TestFastSchemaAgrees: the schema without messages and cross-field
// checks, followed by crossCheckOK, accepts exactly what the full schema
// accepts and fills in the same values, on every fixture.
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
			assertAgree(t, e, f, e.ctx.BuildExpr(expr))
			docs++
		}
	}
	assert.Greater(t, docs, 60)
}

// assertAgree checks that the fast path (fast schema, then crossCheckOK)
// and the full schema accept v alike, with the same values.
func assertAgree(t *testing.T, e *engine, name string, v cue.Value) {
	t.Helper()
	full, fast := e.intent.Unify(v), e.fast.Unify(v)
	fullErr, fastErr := full.Validate(cue.Concrete(true)), fast.Validate(cue.Concrete(true))
	fastOK := fastErr == nil
	if fastOK {
		in, err := decodeIntent(fast)
		require.NoError(t, err, name)
		fastOK = crossCheckOK(&in)
	}
	assert.Equal(t, fullErr == nil, fastOK, "%s: full %v, fast %v", name, fullErr, fastErr)
	if fullErr == nil && fastOK {
		a, _ := full.MarshalJSON()
		b, _ := fast.MarshalJSON()
		assert.JSONEq(t, string(a), string(b), name)
	}
}
