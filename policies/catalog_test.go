package policies_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/internal/policy"
)

// TestReadmeListsEveryRule keeps the rule table in README.md in step with
// the catalogue and the entry points.
func TestReadmeListsEveryRule(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	eng, err := policy.New(context.Background(), policy.Options{})
	require.NoError(t, err)
	require.NotEmpty(t, eng.Catalog())
	for id, info := range eng.Catalog() {
		assert.Contains(t, string(readme), "| `"+id+"` | "+info.Severity+" |", "README.md rule table")
	}
	assert.Len(t, eng.Rules(), len(eng.Catalog()), "one entry point per catalogued rule")
}
