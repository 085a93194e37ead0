package load

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Evaluation bombs: a few lines of CUE that would run until killed at
// gigabytes. Each must end with file:1:1: evaluation exceeded …; the
// limits are set so that only a runaway evaluation can reach them (a valid
// intent evaluates in milliseconds and a few MiB).
const rangeBomb = "import \"list\"\n\nx: [for i in list.Range(0, 100000000, 1) {i}]\n"

// concatBomb doubles a list on each line: 2^31 elements.
func concatBomb() string {
	var b strings.Builder
	b.WriteString("import \"list\"\n\na0: [1, 2]\n")
	for i := 1; i < 31; i++ {
		fmt.Fprintf(&b, "a%d: list.Concat([a%d, a%d])\n", i, i-1, i-1)
	}
	return b.String()
}

var bombs = []struct {
	name, data string
	limits     EvalLimits
	want       string
}{
	{"range past the time limit", rangeBomb, EvalLimits{Timeout: time.Second},
		"bomb.cue:1:1: evaluation exceeded the time limit of 1s (--timeout raises it)"},
	// The time limit is only a backstop here: the heap cap must fire.
	{"doubling past the memory limit", concatBomb(), EvalLimits{Timeout: 10 * time.Minute, HeapBytes: 64 << 20},
		"bomb.cue:1:1: evaluation exceeded the memory limit of 64 MiB"},
}

// TestEvaluationBombs runs each bomb in a child process (the abandoned
// evaluation runs until its process exits, as the CLI's does).
func TestEvaluationBombs(t *testing.T) {
	for i, tc := range bombs {
		t.Run(tc.name, func(t *testing.T) {
			// A backstop only: the child's own limits end it.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestEvaluationBombChild$")
			cmd.Env = append(os.Environ(), "DETOUR_BOMB="+strconv.Itoa(i))
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Equal(t, tc.want+"\n"+
				"../../examples/bookinfo/intent.yaml: not evaluated: the evaluation of bomb.cue exceeded its limit\n", string(out))
		})
	}
}

func TestEvaluationBombChild(t *testing.T) {
	i, err := strconv.Atoi(os.Getenv("DETOUR_BOMB"))
	if err != nil {
		return // run only as TestEvaluationBombs's child
	}
	Limits = bombs[i].limits
	_, err = Bytes("bomb.cue", []byte(bombs[i].data))
	fmt.Println(err)
	_, err = Paths("../../examples/bookinfo/intent.yaml")
	fmt.Println(err)
	os.Exit(0)
}
