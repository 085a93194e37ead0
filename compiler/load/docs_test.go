package load

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocsExamples keeps docs/intent.md true: its full YAML example and its
// CUE example load without error.
func TestDocsExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/intent.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```(yaml|cue)\n(.*?)```").FindAllSubmatch(doc, -1)

	var yamlDone, cueDone bool
	for _, b := range blocks {
		lang, body := string(b[1]), b[2]
		switch {
		case lang == "yaml" && !yamlDone:
			yamlDone = true
			srcs, err := Bytes("docs/intent.md.yaml", body)
			require.NoError(t, err)
			require.Len(t, srcs, 1)
			in := srcs[0].Intent
			assert.Equal(t, "standby", in.Spec.Clusters[1].Role)
			// The SLO (detect within 2s) caps the 5s interval at 1s.
			assert.Equal(t, "1s", in.Spec.Detection.Interval.String())
		case lang == "cue" && regexp.MustCompile(`(?m)^package `).Match(body):
			cueDone = true
			_, err := Bytes("docs/intent.md.cue", body)
			require.NoError(t, err)
		}
	}
	assert.True(t, yamlDone && cueDone, "docs/intent.md lost its examples")
}
