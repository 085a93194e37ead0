package outlier

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/plugins/config"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		code  int
		flags uint64
		reset bool
		want  Outcome
	}{
		{200, 0, false, Success},
		{404, 0, false, Success},
		{500, 0, false, Ext5xx},
		{501, 0, false, Ext5xx},
		{502, 0, false, Gateway},
		{503, 0, false, Gateway},
		{504, 0, false, Gateway},
		{503, FlagUpstreamConnectionFailure, false, LocalOrigin},
		{503, FlagNoHealthyUpstream, false, LocalOrigin},
		{504, FlagUpstreamRequestTimeout, false, LocalOrigin},
		{503, FlagUpstreamRemoteReset, false, LocalOrigin},
		{503, FlagUpstreamOverflow, false, Ignored},
		{0, 0, true, LocalOrigin},
		{0, 0, false, LocalOrigin},
		{200, 0, true, LocalOrigin},
	} {
		assert.Equal(t, c.want, Classify(c.code, c.flags, c.reset), "%d %x %v", c.code, c.flags, c.reset)
	}
}

// A UO response is overflow only when Envoy made it; an upstream's 5xx
// forwarded with UO (its retry refused) is the host's status.
func TestHostFlags(t *testing.T) {
	for _, c := range []struct {
		code     int
		flags    uint64
		upstream bool
		want     Outcome
	}{
		{503, FlagUpstreamOverflow, false, Ignored},
		{503, FlagUpstreamOverflow, true, Gateway},
		{500, FlagUpstreamOverflow, true, Ext5xx},
		{503, FlagUpstreamOverflow | FlagUpstreamConnectionFailure, true, LocalOrigin},
		{503, FlagNoHealthyUpstream, true, LocalOrigin},
		{200, 0, true, Success},
	} {
		assert.Equal(t, c.want, Classify(c.code, HostFlags(c.flags, c.upstream), false), "%d %x %v", c.code, c.flags, c.upstream)
	}
}

func settings() Settings {
	return NewSettings(config.Detection{Consecutive5xx: 5, ConsecutiveGatewayErrors: 3, ConsecutiveLocalOriginFailures: 3,
		IntervalMs: 5000, BaseEjectionMs: 30000, MaxEjectionPercent: 100})
}

func TestObserveThresholds(t *testing.T) {
	s := settings()
	for _, c := range []struct {
		name string
		seq  []Outcome
		want Detector
	}{
		{"gateway errors", []Outcome{Gateway, Gateway, Gateway}, ConsecutiveGateway},
		{"success resets", []Outcome{Gateway, Gateway, Success, Gateway, Gateway}, None},
		{"5xx mixed", []Outcome{Ext5xx, Gateway, Ext5xx, Gateway, Ext5xx}, Consecutive5xx},
		{"local origin", []Outcome{LocalOrigin, LocalOrigin, LocalOrigin}, ConsecutiveLocalOrigin},
		{"answer resets local origin", []Outcome{LocalOrigin, LocalOrigin, Ext5xx, LocalOrigin}, None},
		{"ignored", []Outcome{Ignored, Ignored, Ignored, Ignored, Ignored}, None},
	} {
		t.Run(c.name, func(t *testing.T) {
			var r Record
			got := None
			for i, o := range c.seq {
				got = s.Observe(&r, o, int64(i))
			}
			assert.Equal(t, c.want, got)
		})
	}
}

func TestFailurePercentageWindow(t *testing.T) {
	s := NewSettings(config.Detection{FailurePercentage: 50, FailureRequestVolume: 10, IntervalMs: 1000, BaseEjectionMs: 1000, MaxEjectionPercent: 100})
	var r Record
	// 10 requests, every other one failing: the 10th (a failure) reaches
	// volume 10 at 50 % and fires.
	got := None
	for i := range 10 {
		o := Success
		if i%2 == 1 {
			o = Ext5xx
		}
		got = s.Observe(&r, o, 100+int64(i))
	}
	assert.Equal(t, FailurePercentage, got)
	// The window restarts after an interval: old failures are forgotten.
	r = Record{}
	for i := range 9 {
		s.Observe(&r, Ext5xx, int64(i))
	}
	assert.Equal(t, None, s.Observe(&r, Success, 2000))
	assert.Equal(t, uint32(1), r.WinTotal)
}

func TestEjectionBackoffAndProbe(t *testing.T) {
	s := settings()
	var r Record
	s.Eject(&r, 1000)
	assert.True(t, r.Ejected)
	assert.Equal(t, int64(30000), s.EjectionMs(&r))
	// Probes run on the fixed period, not after Envoy's ejection time.
	assert.False(t, s.ProbeDue(&r, 1499))
	assert.True(t, s.ProbeDue(&r, 1500))
	r.ClaimProbe(4000)
	assert.False(t, s.ProbeDue(&r, 3500), "another VM holds the probe")
	// A failed probe keeps the target out, probed again one period later,
	// without growing its backoff.
	s.ProbeFailed(&r, 3500)
	assert.True(t, r.Ejected)
	assert.Equal(t, uint32(1), r.Times)
	assert.False(t, s.ProbeDue(&r, 3999))
	assert.True(t, s.ProbeDue(&r, 4000))
	for range 20 {
		s.Eject(&r, 0)
	}
	assert.Equal(t, int64(300000), s.EjectionMs(&r), "capped at max (10 × base)")
	assert.Equal(t, uint32(11), r.Times, "Envoy's backoff stops growing once backoff × base >= max + base")
	// Outcomes are not counted while ejected.
	assert.Equal(t, None, s.Observe(&r, Gateway, 1))
	assert.Zero(t, r.ConsGateway)
	s.Uneject(&r, 400000)
	assert.False(t, r.Ejected)
	assert.Equal(t, int64(400000), r.RecoveredAt)
	// Healthy: the backoff decays one step per interval.
	assert.False(t, s.Decay(&r, 404999))
	assert.True(t, s.Decay(&r, 405000))
	assert.Equal(t, uint32(10), r.Times)
}

func TestAllowEject(t *testing.T) {
	for _, c := range []struct {
		maxPct         uint32
		ejected, total int
		want           bool
	}{
		{10, 0, 1, true}, // a pool of one still ejects (Envoy's default 10 % would not)
		{10, 0, 2, true},
		{10, 1, 2, false},
		{50, 1, 2, false}, // 100*(1+1)/2 = 100 > 50
		{100, 1, 2, true},
		{50, 1, 4, true},
		{50, 2, 4, false},
		{100, 0, 0, false},
	} {
		s := Settings{MaxEjectionPercent: c.maxPct}
		assert.Equal(t, c.want, s.AllowEject(c.ejected, c.total), "%+v", c)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	r := Record{Cons5xx: 1, ConsGateway: 2, ConsLocal: 3, WinStart: -5, WinTotal: 6, WinFail: 7, Ejected: true,
		EjectedAt: 8, Times: 9, RecoveredAt: 10, ProbeUntil: 11, DecayAt: 12, Ejections: 13,
		NextProbe: 14, Penalty: 15, PenaltyAt: 16, HoldDownMs: 17}
	var buf [RecordSize]byte
	var got Record
	got.Decode(r.Encode(buf[:]))
	assert.Equal(t, r, got)
	got.Decode([]byte("not a record"))
	assert.Equal(t, Record{}, got)

	sr := ServiceRecord{State: FailingBack, Since: 42, Gen: 7}
	var sb [ServiceRecordSize]byte
	var sgot ServiceRecord
	sgot.Decode(sr.Encode(sb[:]))
	assert.Equal(t, sr, sgot)
	sb[1] = 9
	sgot.Decode(sb[:])
	assert.Equal(t, ServiceRecord{}, sgot)
}

func TestStateMachine(t *testing.T) {
	for _, c := range []struct {
		v    View
		want State
	}{
		{View{}, Primary},
		{View{AnyFailing: true}, Degraded},
		{View{AnyOut: true}, Degraded},
		{View{PreferredOut: true, AnyFailing: true}, FailedOver},
		{View{PreferredOut: true, Ramping: true}, FailedOver},
		{View{Ramping: true}, FailingBack},
		{View{Ramping: true, AnyFailing: true}, FailingBack},
	} {
		assert.Equal(t, c.want, Next(c.v), "%+v", c.v)
	}
	assert.Equal(t, "FAILED_OVER", FailedOver.String())
}

// The per-request path (decode, observe, encode) allocates nothing.
func TestObserveAllocs(t *testing.T) {
	s := settings()
	var buf [RecordSize]byte
	var r Record
	enc := r.Encode(buf[:])
	n := testing.AllocsPerRun(1000, func() {
		r.Decode(enc)
		s.Observe(&r, Classify(503, 0, false), 5)
		enc = r.Encode(buf[:])
	})
	require.Zero(t, n)
}

func FuzzObserve(f *testing.F) {
	var buf [RecordSize]byte
	f.Add((&Record{Cons5xx: 4}).Encode(buf[:]), 503, uint64(0), false, int64(7))
	f.Add([]byte{}, 0, uint64(FlagUpstreamConnectionFailure), true, int64(-1))
	f.Fuzz(func(t *testing.T, rec []byte, code int, flags uint64, reset bool, now int64) {
		s := settings()
		var r Record
		r.Decode(rec)
		det := s.Observe(&r, Classify(code, flags, reset), now)
		if det != None {
			s.Eject(&r, now)
			if !r.Ejected || s.EjectionMs(&r) > s.MaxMs {
				t.Fatalf("bad ejection %+v", r)
			}
		}
		var out Record
		out.Decode(r.Encode(buf[:]))
		if out != r {
			t.Fatalf("round trip %+v != %+v", out, r)
		}
	})
}
