package gotool

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPath(t *testing.T) {
	p, err := Path("", "cue")
	require.NoError(t, err)
	out, err := exec.Command(p, "version").Output()
	require.NoError(t, err)
	pinned, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "cuelang.org/go").Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), strings.TrimSpace(string(pinned)), "the cue pinned in go.mod")

	again, err := Path("", "cue")
	require.NoError(t, err)
	assert.Equal(t, p, again)

	_, err = Path("", "no-such-tool")
	assert.ErrorContains(t, err, "no-such-tool")
}
