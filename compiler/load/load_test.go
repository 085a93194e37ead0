package load

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPathsValid(t *testing.T) {
	srcs, err := Paths("testdata/valid/minimal.yaml", "testdata/valid/stream.yaml", "testdata/valid/package.cue")
	require.NoError(t, err)
	require.Len(t, srcs, 4)

	m := srcs[0]
	assert.Equal(t, "testdata/valid/minimal.yaml", m.File)
	assert.Equal(t, [2]int{1, 1}, [2]int{m.Line, m.Column})
	assert.Equal(t, "reviews", m.Intent.Spec.Service.Host, "host defaults to metadata.name")
	assert.Equal(t, map[string]string{"app": "reviews"}, m.Intent.Spec.Exposure.Selector)
	assert.Equal(t, uint32(15443), m.Intent.Spec.Clusters[0].EastWestGateway.Port)
	assert.Equal(t, "auto", m.Intent.Spec.Failover.Mode)

	assert.Equal(t, "ratings", srcs[1].Intent.Metadata.Name)
	assert.Equal(t, 11, srcs[2].Line, "second document of the stream")
	assert.Equal(t, "details", srcs[2].Intent.Metadata.Name)
	assert.True(t, srcs[2].Intent.Spec.Failover.HealthAware)

	assert.Equal(t, "testdata/valid/package.cue", srcs[3].File)
	assert.Equal(t, 7, srcs[3].Line)
	assert.Equal(t, "named", srcs[3].Intent.Spec.Failover.Mode)
}
