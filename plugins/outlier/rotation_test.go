package outlier

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRotation(t *testing.T) {
	var r Rotation
	a, b, c := HostKey("a"), HostKey("b"), HostKey("c")
	for _, k := range []uint64{a, b, c} {
		fresh, silent := r.Answer(k)
		assert.True(t, fresh, "first answer of a host")
		assert.Zero(t, silent)
	}
	// Round robin: nobody goes silent.
	for range 1000 {
		for _, k := range []uint64{a, b, c} {
			fresh, silent := r.Answer(k)
			require.False(t, fresh)
			require.Zero(t, silent)
		}
	}
	// c is ejected: a and b take everything; c is out after SilentAnswers × 3 answers.
	var gone uint32
	answers := 0
	for gone == 0 && answers < 1000 {
		k := a
		if answers%2 == 1 {
			k = b
		}
		_, gone = r.Answer(k)
		answers++
	}
	require.NotZero(t, gone)
	assert.Equal(t, SilentAnswers*3, answers, "out after SilentAnswers × hosts answers without it")
	for i := range MaxHosts {
		if gone&(1<<uint(i)) != 0 {
			assert.Equal(t, c, r.Key(i))
		}
	}
	_, again := r.Answer(a)
	assert.Zero(t, again, "reported once")
	fresh, _ := r.Answer(c)
	assert.True(t, fresh, "c answers again: back in rotation")
	assert.Zero(t, func() uint32 { _, s := r.Answer(0); return s }(), "no address: ignored")
}

// More hosts than slots: the stalest slot is reused.
func TestRotationFull(t *testing.T) {
	var r Rotation
	for i := range MaxHosts + 3 {
		fresh, _ := r.Answer(HostKey(string(rune('a' + i))))
		assert.True(t, fresh)
	}
	fresh, _ := r.Answer(HostKey(string(rune('a' + MaxHosts + 2))))
	assert.False(t, fresh, "the newest host kept its slot")
}

func TestRotationAllocs(t *testing.T) {
	var r Rotation
	keys := []uint64{HostKey("a"), HostKey("b"), HostKey("c")}
	i := 0
	n := testing.AllocsPerRun(1000, func() {
		i++
		r.Answer(keys[i%3])
	})
	require.Zero(t, n)
}

func FuzzRotation(f *testing.F) {
	f.Add([]byte{1, 2, 3, 1, 2, 3, 1, 1, 1})
	f.Fuzz(func(t *testing.T, seq []byte) {
		var r Rotation
		for _, b := range seq {
			_, silent := r.Answer(uint64(b%24) + 1)
			for i := range MaxHosts {
				if silent&(1<<uint(i)) != 0 && r.Key(i) == 0 {
					t.Fatalf("empty slot %d reported silent", i)
				}
			}
		}
	})
}

// AnsweredSince names exactly the hosts that answered after a Seq mark.
func TestRotationAnsweredSince(t *testing.T) {
	var r Rotation
	a, b, c := HostKey("a"), HostKey("b"), HostKey("c")
	r.Answer(a)
	r.Answer(b)
	mark := r.Seq()
	assert.Zero(t, r.AnsweredSince(mark), "nothing answered since the mark")
	r.Answer(c)
	r.Answer(a)
	got := map[uint64]bool{}
	m := r.AnsweredSince(mark)
	for i := range MaxHosts {
		if m&(1<<uint(i)) != 0 {
			got[r.Key(i)] = true
		}
	}
	assert.Equal(t, map[uint64]bool{a: true, c: true}, got)
	assert.Equal(t, uint64(4), r.Seq())
}

// A host that answered after the mark and then went out of rotation is
// not named: its answers predate the ejection, and the tick must not
// bring it back on their account.
func TestRotationAnsweredSinceSkipsOut(t *testing.T) {
	var r Rotation
	a, b := HostKey("a"), HostKey("b")
	r.Answer(b)
	mark := r.Seq()
	r.Answer(a)
	var silent uint32
	for range 4 * SilentAnswers {
		_, s := r.Answer(b)
		silent |= s
	}
	require.NotZero(t, silent, "a went out of rotation")
	m := r.AnsweredSince(mark)
	for i := range MaxHosts {
		if m&(1<<uint(i)) != 0 {
			assert.Equal(t, b, r.Key(i), "only b is named")
		}
	}
	assert.NotZero(t, m)
}
