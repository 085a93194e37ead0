package outlier

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// feed records outcomes of addr at now, one ms apart.
func feed(s *Settings, t *Hosts, addr string, now int64, oc ...Outcome) (ejected bool, end int64) {
	for _, o := range oc {
		_, e := s.ObserveHost(t, HostKey(addr), o, now)
		ejected = ejected || e
		now++
	}
	return ejected, now
}

func TestHostsEjectAndReturn(t *testing.T) {
	s := settings()
	var h Hosts
	now := int64(1000)
	for _, a := range []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"} {
		_, now = feed(&s, &h, a, now, Success)
	}
	known, out := h.Count(now)
	assert.Equal(t, [2]int{3, 0}, [2]int{known, out}, "three hosts seen")

	ej, now := feed(&s, &h, "10.0.0.1:80", now, Gateway, Gateway, Success, Gateway, Gateway)
	assert.False(t, ej, "a success between gateway errors resets the host's count")
	ej, now = feed(&s, &h, "10.0.0.1:80", now, Gateway)
	assert.True(t, ej, "third consecutive gateway error ejects (consecutiveGatewayErrors 3)")
	known, out = h.Count(now)
	assert.Equal(t, [2]int{3, 1}, [2]int{known, out})

	ch, e := s.ObserveHost(&h, HostKey("10.0.0.1:80"), Gateway, now)
	assert.False(t, ch || e, "an ejected host's answers are not counted")

	assert.False(t, s.ExpireHosts(&h, now+29_000), "still ejected before base × 1")
	assert.True(t, s.ExpireHosts(&h, now+30_000), "back after the base ejection time")
	known, out = h.Count(now + 30_000)
	assert.Equal(t, [2]int{3, 0}, [2]int{known, out})
}

// A host marked silent (out of rotation) is out, while a failure of the
// target's hosts was seen, until it answers again or the TTL passes;
// without a failure it is taken for a pod removed from the endpoints.
func TestHostsSilent(t *testing.T) {
	s := settings()
	var h Hosts
	now := int64(1000)
	_, now = feed(&s, &h, "a", now, Success)
	_, now = feed(&s, &h, "b", now, Success)
	assert.True(t, h.SetSilent(HostKey("a"), now))
	assert.False(t, h.SetSilent(HostKey("a"), now+5), "already silent")
	known, out := h.Count(now)
	assert.Equal(t, [2]int{1, 0}, [2]int{known, out}, "no failure seen: a was removed, not ejected")
	_, now = feed(&s, &h, "b", now, Gateway)
	known, out = h.Count(now)
	assert.Equal(t, [2]int{2, 1}, [2]int{known, out}, "a failure seen: a is out")
	_, out = h.Count(now + hostTTLMs)
	assert.Zero(t, out, "silent longer than the TTL: no longer counted")
	_, now = feed(&s, &h, "a", now+10, Success)
	known, out = h.Count(now)
	assert.Equal(t, [2]int{2, 0}, [2]int{known, out}, "a answers again")
}

func TestHostsForgetAndBound(t *testing.T) {
	s := settings()
	var h Hosts
	now := int64(1000)
	_, now = feed(&s, &h, "old", now, Success)
	known, _ := h.Count(now + hostTTLMs)
	assert.Zero(t, known, "unseen for the TTL: not counted")
	assert.True(t, s.ExpireHosts(&h, now+2*hostTTLMs))
	assert.Equal(t, Hosts{}, h, "forgotten")
	for i := range MaxHosts + 4 {
		_, now = feed(&s, &h, string(rune('a'+i)), now, Success)
	}
	known, _ = h.Count(now)
	assert.Equal(t, MaxHosts, known, "the table keeps the most recent MaxHosts")
}

func TestHostsMaxEjection(t *testing.T) {
	s := settings()
	s.MaxEjectionPercent = 50
	var h Hosts
	now := int64(1000)
	_, now = feed(&s, &h, "a", now, Success)
	_, now = feed(&s, &h, "b", now, Success)
	_, now = feed(&s, &h, "c", now, Success)
	ej, now := feed(&s, &h, "a", now, LocalOrigin, LocalOrigin, LocalOrigin)
	assert.True(t, ej, "the first ejection is always allowed")
	ej, now = feed(&s, &h, "b", now, LocalOrigin, LocalOrigin, LocalOrigin)
	assert.False(t, ej, "2 of 3 out is over 50 %")
	_, out := h.Count(now)
	assert.Equal(t, 1, out)
}

func TestHostsAllocs(t *testing.T) {
	s := settings()
	var buf [HostsSize]byte
	var h Hosts
	enc := h.Encode(buf[:])
	addr := []byte("10.0.0.1:9080")
	var now int64
	n := testing.AllocsPerRun(1000, func() {
		now += 10
		h.Decode(enc)
		s.ObserveHost(&h, HostKey(addr), Gateway, now)
		h.Count(now)
		h.ObserveRetried(now)
		h.Suspect(now)
		h.Touch(HostKey(addr), now)
		s.ExpireHosts(&h, now)
		enc = h.Encode(buf[:])
	})
	require.Zero(t, n)
}

func FuzzHosts(f *testing.F) {
	var buf [HostsSize]byte
	f.Add([]byte{}, "10.0.0.1:80", 503, int64(5))
	f.Add((&Hosts{H: [MaxHosts]Host{{Key: 1, Seen: 3, SilentSince: 3, FailedAt: 2}}}).Encode(buf[:]), "", 0, int64(-1))
	f.Fuzz(func(t *testing.T, table []byte, addr string, code int, now int64) {
		s := settings()
		var h Hosts
		h.Decode(table)
		s.ObserveHost(&h, HostKey(addr), Classify(code, 0, code == 0), now)
		if code%2 == 0 {
			h.ObserveRetried(now)
		}
		if code%3 == 0 {
			before := h
			if !h.Touch(HostKey(addr), now) && h != before {
				t.Fatalf("Touch changed the table and said not")
			}
		}
		h.Suspect(now)
		s.ExpireHosts(&h, now)
		known, out := h.Count(now)
		if known < 0 || out < 0 || out > known || known > MaxHosts {
			t.Fatalf("count %d/%d", out, known)
		}
		var back Hosts
		back.Decode(h.Encode(buf[:]))
		if back != h {
			t.Fatalf("round trip %+v != %+v", back, h)
		}
	})
}

// An answer Envoy's retry saved marks the target suspect for SuspectMs and
// counts as a failure seen for the TTL (silent hosts are then out), though
// it names no host.
func TestHostsRetried(t *testing.T) {
	s := settings()
	var h Hosts
	now := int64(1000)
	_, now = feed(&s, &h, "a", now, Success)
	_, now = feed(&s, &h, "b", now, Success)
	assert.False(t, h.Suspect(now), "nothing failed")
	assert.True(t, h.SetSilent(HostKey("a"), now))
	_, out := h.Count(now)
	assert.Zero(t, out, "silent without a failure seen: taken for a pod removed")

	assert.True(t, h.ObserveRetried(now))
	assert.True(t, h.Suspect(now+SuspectMs-1))
	assert.False(t, h.Suspect(now+SuspectMs), "suspicion lasts SuspectMs")
	_, out = h.Count(now)
	assert.Zero(t, out, "one retried answer (a pod being removed) is no evidence")
	for i := int64(1); i < RetriedEvidence; i++ {
		assert.True(t, h.ObserveRetried(now+i), "counted up to the evidence")
	}
	now += RetriedEvidence - 1
	assert.False(t, h.ObserveRetried(now+retriedRefreshMs-1), "then one write per refresh period")
	_, out = h.Count(now + SuspectMs)
	assert.Equal(t, 1, out, "a burst of retried failures is a failure seen: silent a is out")
	evidence := h.EvidenceAt
	assert.Equal(t, now, evidence)
	assert.True(t, h.ObserveRetried(now+SuspectMs+10))
	assert.Equal(t, uint16(1), h.RetriedN, "a new burst counts again")
	now += SuspectMs + 10
	_, out = h.Count(now)
	assert.Equal(t, 1, out, "a lone retried answer after the burst keeps the burst's evidence")

	assert.False(t, s.ExpireHosts(&h, evidence+hostTTLMs-1))
	assert.True(t, s.ExpireHosts(&h, evidence+hostTTLMs), "the evidence is forgotten after the TTL")
	assert.Zero(t, h.EvidenceAt)
	assert.True(t, s.ExpireHosts(&h, now+hostTTLMs), "the last retried answer too")
	assert.Zero(t, h.RetriedAt)
}

// A failure the filters saw keeps the target suspect while the failing
// host is neither ejected nor out of rotation.
func TestHostsSuspectFromFailure(t *testing.T) {
	s := settings()
	var h Hosts
	now := int64(1000)
	_, now = feed(&s, &h, "a", now, Success, Gateway)
	assert.True(t, h.Suspect(now), "a failed and still takes requests")
	assert.True(t, h.SetSilent(HostKey("a"), now))
	assert.False(t, h.Suspect(now), "out of rotation: Envoy ejected it")
	_, now = feed(&s, &h, "b", now, Gateway, Gateway, Gateway)
	assert.False(t, h.Suspect(now), "b ejected by the table's own counts")
	assert.False(t, h.Suspect(now+SuspectMs), "and the failure is old")
}

// Touch refreshes a host's last-seen time at most once per seenRefreshMs,
// adds a new one, leaves an ejected one alone, never brings a silent one
// back (its answers may predate the silence) and never touches the
// consecutive counts.
func TestHostsTouch(t *testing.T) {
	s := settings()
	var tb Hosts
	a, b := HostKey("a"), HostKey("b")
	assert.True(t, tb.Touch(a, 1000), "new host")
	assert.False(t, tb.Touch(a, 1000+seenRefreshMs-1), "seen recently: no write")
	assert.True(t, tb.Touch(a, 1000+seenRefreshMs), "refresh step reached")
	assert.Equal(t, int64(1000+seenRefreshMs), tb.H[0].Seen)
	s.ObserveHost(&tb, a, Ext5xx, 20000)
	require.Equal(t, uint16(1), tb.H[0].Cons5xx)
	tb.Touch(a, 40000)
	assert.Equal(t, uint16(1), tb.H[0].Cons5xx, "a touch is not a counted success")
	require.True(t, tb.SetSilent(a, 41000))
	tb.Touch(a, 41000+seenRefreshMs)
	assert.Equal(t, int64(41000), tb.H[0].SilentSince, "a touch does not end the silence")
	s.ObserveHost(&tb, a, Success, 41000+seenRefreshMs)
	assert.Zero(t, tb.H[0].SilentSince, "a counted answer does")
	for range 5 {
		s.ObserveHost(&tb, b, Ext5xx, 50000)
	}
	i := tb.slot(b, 50000)
	require.Greater(t, tb.H[i].EjectedUntil, int64(50000))
	before := tb.H[i]
	assert.False(t, tb.Touch(b, 60000+seenRefreshMs), "ejected: left alone")
	assert.Equal(t, before, tb.H[i])
	assert.False(t, tb.Touch(0, 1), "no address")
}
