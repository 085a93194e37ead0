package golden

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder catches Check's failures instead of failing this test.
type recorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.failed = true; r.msg = f }
func (r *recorder) Fatalf(f string, a ...any) { r.failed = true; r.msg = f }

func TestCheck(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "g.txt")

	r := &recorder{TB: t}
	Check(r, p, []byte("a\n"))
	assert.True(t, r.failed, "a missing golden file fails")

	*Update = true
	r = &recorder{TB: t}
	Check(r, p, []byte("a\n"))
	*Update = false
	assert.False(t, r.failed, "-update writes the file")
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "a\n", string(b))

	r = &recorder{TB: t}
	Check(r, p, []byte("a\n"))
	assert.False(t, r.failed, "same output passes")

	r = &recorder{TB: t}
	Check(r, p, []byte("b\n"))
	assert.True(t, r.failed, "different output fails")
}

func TestDiff(t *testing.T) {
	assert.Equal(t, "line 2:\n- b\n+ c\n", diff("a\nb", "a\nc"))
	assert.Equal(t, "", diff("a", "a"))
}
