package config

import (
	"encoding/json"
	"testing"

	"cuelang.org/go/cue"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCellSettings(t *testing.T) {
	c := valid()
	assert.Equal(t, Cell{KeyEnv: DefaultCellKeyEnv, MaxAgeMs: DefaultCellMaxAgeMs}, c.CellSettings(), "absent: the defaults")
	c.Cell = &Cell{MaxAgeMs: 2500}
	assert.Equal(t, Cell{KeyEnv: DefaultCellKeyEnv, MaxAgeMs: 2500}, c.CellSettings())
	c.Cell = &Cell{KeyEnv: "MY_KEYS"}
	data, err := json.Marshal(c)
	require.NoError(t, err)
	got, err := Parse(data)
	require.NoError(t, err)
	assert.Equal(t, Cell{KeyEnv: "MY_KEYS", MaxAgeMs: DefaultCellMaxAgeMs}, got.CellSettings())

	for _, tc := range []struct {
		cell Cell
		want string
	}{
		{Cell{KeyEnv: "1KEYS"}, `cell.keyEnv: "1KEYS" is not an environment variable name`},
		{Cell{KeyEnv: "DETOUR-KEYS"}, `cell.keyEnv: "DETOUR-KEYS"`},
		{Cell{MaxAgeMs: MaxCellMaxAgeMs + 1}, "cell.maxAgeMs: 300001 exceeds 300000"},
	} {
		c := valid()
		c.Cell = &tc.cell
		err := c.Validate()
		if assert.Error(t, err) {
			assert.Contains(t, err.Error(), tc.want)
		}
	}
}

// The CUE mirror takes and refuses the same cell settings.
func TestCellCUE(t *testing.T) {
	def := pluginConfigSchema(t)
	check := func(cl *Cell) error {
		c := valid()
		c.Cell = cl
		b, err := json.Marshal(c)
		require.NoError(t, err)
		v := def.Context().CompileBytes(b)
		require.NoError(t, v.Err())
		return def.Unify(v).Validate(cue.Concrete(true))
	}
	for _, cl := range []*Cell{nil, {}, {KeyEnv: "DETOUR_CELL_KEYS", MaxAgeMs: 10000}, {KeyEnv: "_K1", MaxAgeMs: MaxCellMaxAgeMs}} {
		assert.NoError(t, check(cl), "%+v", cl)
	}
	for _, cl := range []*Cell{{KeyEnv: "1KEYS"}, {KeyEnv: "A-B"}, {MaxAgeMs: MaxCellMaxAgeMs + 1}} {
		assert.Error(t, check(cl), "%+v", cl)
		c := valid()
		c.Cell = cl
		assert.Error(t, c.Validate(), "%+v", cl)
	}
}
