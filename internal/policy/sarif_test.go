package policy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSARIFLevelsAndColumns: a warning is a SARIF "warning", a denial an
// "error"; a finding or an exception without a column has no startColumn
// (0 is not a column).
func TestSARIFLevelsAndColumns(t *testing.T) {
	rep := Report{
		Findings: []Finding{
			{File: "a.yaml", Line: 3, Column: 5, Rule: "max_ejection_unset", Severity: Warn, Message: "w"},
			{File: "a.yaml", Line: 4, Rule: "wasm_unpinned", Severity: Deny, Message: "d"},
		},
		Exceptions: []Exception{{File: "a.yaml", Line: 6, Rule: "strict_weights", By: "flag"}},
		Rules:      map[string]RuleInfo{},
	}
	var b strings.Builder
	require.NoError(t, Write(&b, "sarif", rep))
	var doc struct {
		Runs []struct {
			Results []struct {
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						Region map[string]int `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	require.NoError(t, json.Unmarshal([]byte(b.String()), &doc))
	require.Len(t, doc.Runs, 1)
	res := doc.Runs[0].Results
	require.Len(t, res, 3)
	assert.Equal(t, "warning", res[0].Level)
	assert.Equal(t, map[string]int{"startLine": 3, "startColumn": 5}, res[0].Locations[0].PhysicalLocation.Region)
	assert.Equal(t, "error", res[1].Level)
	assert.Equal(t, map[string]int{"startLine": 4}, res[1].Locations[0].PhysicalLocation.Region)
	assert.Equal(t, map[string]int{"startLine": 6}, res[2].Locations[0].PhysicalLocation.Region)
}
