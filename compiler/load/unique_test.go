package load

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSameNameInTwoNamespaces: an intent is the service's namespace and
// name; the same name in another namespace is another service, and the
// same namespace and name twice is refused.
func TestSameNameInTwoNamespaces(t *testing.T) {
	one, err := os.ReadFile("testdata/valid/minimal.yaml")
	require.NoError(t, err)
	other := strings.Replace(string(one), "namespace: bookinfo", "namespace: shop", 1)
	require.NotEqual(t, string(one), other)

	srcs, err := Bytes("two.yaml", []byte(string(one)+"---\n"+other))
	require.NoError(t, err)
	require.Len(t, srcs, 2)
	assert.Equal(t, "bookinfo/reviews", srcs[0].Intent.Metadata.Namespace+"/"+srcs[0].Intent.Metadata.Name)
	assert.Equal(t, "shop/reviews", srcs[1].Intent.Metadata.Namespace+"/"+srcs[1].Intent.Metadata.Name)

	_, err = Bytes("dup.yaml", []byte(string(one)+"---\n"+string(one)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "duplicate intent bookinfo/reviews")
}
