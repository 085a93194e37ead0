package retry

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/plugins/config"
	"github.com/detour-mesh/detour/plugins/outlier"
)

func policy(t *testing.T, on ...string) Policy {
	t.Helper()
	p, err := NewPolicy(config.Retry{Attempts: 2, PerTryTimeoutMs: 1000, RetryOn: on,
		Methods: []string{"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}, BudgetPercent: 20, BudgetMinConcurrency: 3})
	require.NoError(t, err)
	return p
}

func TestRetriable(t *testing.T) {
	compiled := []string{"connect-failure", "refused-stream", "reset", "gateway-error", "retriable-status-codes"}
	for _, c := range []struct {
		on    []string
		code  int
		flags uint64
		reset bool
		want  bool
	}{
		{compiled, 200, 0, false, false},
		{compiled, 500, 0, false, false},
		{compiled, 502, 0, false, true},
		{compiled, 503, 0, false, true},
		{compiled, 504, 0, false, true},
		{compiled, 503, outlier.FlagUpstreamConnectionFailure, false, true},
		{compiled, 0, 0, true, true},
		{compiled, 503, outlier.FlagUpstreamOverflow, false, false},
		// the router's own retry refused by its budget: the failure stands
		{compiled, 503, outlier.FlagUpstreamOverflow | outlier.FlagUpstreamConnectionTermination, false, true},
		{compiled, 503, outlier.FlagUpstreamOverflow | outlier.FlagUpstreamConnectionFailure, false, true},
		{compiled, 503, outlier.FlagUpstreamOverflow | outlier.FlagUpstreamRetryLimitExceeded, false, false},
		{[]string{"5xx"}, 500, 0, false, true},
		{[]string{"5xx"}, 404, 0, false, false},
		{[]string{"connect-failure"}, 503, 0, false, false},
		{[]string{"connect-failure"}, 503, outlier.FlagUpstreamConnectionFailure, false, true},
		{[]string{"retriable-4xx"}, 409, 0, false, true},
		{[]string{"429"}, 429, 0, false, true},
		{[]string{"429"}, 430, 0, false, false},
		{[]string{"unavailable"}, 503, 0, false, false}, // gRPC conditions are not modelled
	} {
		p := policy(t, c.on...)
		assert.Equal(t, c.want, p.Retriable(c.code, c.flags, c.reset), "%v %d %x %v", c.on, c.code, c.flags, c.reset)
	}
	none, err := NewPolicy(config.Retry{Attempts: 0, RetryOn: []string{"5xx"}})
	require.NoError(t, err)
	assert.False(t, none.Retriable(503, 0, false), "attempts 0 never retries")
}

func TestMethods(t *testing.T) {
	p := policy(t, "5xx")
	for m, want := range map[string]bool{"GET": true, "HEAD": true, "PUT": true, "DELETE": true, "OPTIONS": true, "POST": false, "PATCH": false, "get": false, "": false} {
		assert.Equal(t, want, p.MethodAllowed(m), m)
	}
	_, err := NewPolicy(config.Retry{Methods: []string{"FETCH"}})
	assert.ErrorContains(t, err, "retry.methods[0]")
}

func TestBudgetAccounting(t *testing.T) {
	p := policy(t, "5xx")
	var b Budget
	for range 10 {
		b.Start()
	}
	// max(20 % of 10, 3) = 3
	got := 0
	for range 10 {
		if p.TryAcquire(&b) {
			got++
		}
	}
	assert.Equal(t, 3, got)
	assert.Equal(t, Budget{Active: 13, Retries: 3}, b)
	b.Release()
	assert.True(t, p.TryAcquire(&b))
	assert.False(t, p.TryAcquire(&b))
	// With 100 active requests 20 % allows 20, and the retries count as
	// active requests themselves: 24 at 124 active.
	b = Budget{}
	for range 100 {
		b.Start()
	}
	got = 0
	for range 50 {
		if p.TryAcquire(&b) {
			got++
		}
	}
	assert.Equal(t, 24, got, "the budget grows with the retries' own activity, as in Envoy")
	for range 200 {
		b.Release()
		b.Done()
	}
	assert.Equal(t, Budget{}, b, "never below zero")
	// No budget configured: not capped.
	free, err := NewPolicy(config.Retry{Attempts: 1})
	require.NoError(t, err)
	for range 1000 {
		require.True(t, free.TryAcquire(&b))
	}
}

func TestBudgetRoundTrip(t *testing.T) {
	var buf [BudgetSize]byte
	b := Budget{Active: 7, Retries: 2}
	var got Budget
	got.Decode(b.Encode(buf[:]))
	assert.Equal(t, b, got)
	got.Decode([]byte{1})
	assert.Equal(t, Budget{}, got)
}

func TestPerRequestAllocs(t *testing.T) {
	p := policy(t, "reset", "gateway-error", "503")
	var buf [BudgetSize]byte
	var b Budget
	enc := b.Encode(buf[:])
	n := testing.AllocsPerRun(1000, func() {
		b.Decode(enc)
		b.Start()
		if p.MethodAllowed("GET") && p.Retriable(503, 0, false) && p.TryAcquire(&b) {
			b.Release()
		}
		b.Done()
		enc = b.Encode(buf[:])
	})
	require.Zero(t, n)
}

func FuzzRetriable(f *testing.F) {
	f.Add("gateway-error", "GET", 503, uint64(0), false)
	f.Add("599", "POST", 599, uint64(outlier.FlagUpstreamOverflow), true)
	f.Fuzz(func(t *testing.T, on, method string, code int, flags uint64, reset bool) {
		p, err := NewPolicy(config.Retry{Attempts: 1, RetryOn: []string{on}, Methods: []string{"GET"}})
		if err != nil {
			return
		}
		r := p.Retriable(code, flags, reset)
		upstream := uint64(outlier.FlagUpstreamConnectionFailure | outlier.FlagNoHealthyUpstream | outlier.FlagNoClusterFound | resetFlags)
		if r && flags&outlier.FlagUpstreamOverflow != 0 && flags&upstream == 0 {
			t.Fatal("overflow retried")
		}
		_ = p.MethodAllowed(method)
	})
}

func TestUnsent(t *testing.T) {
	tests := []struct {
		name  string
		flags uint64
		want  bool
	}{
		{"connect failure", outlier.FlagUpstreamConnectionFailure, true},
		{"no healthy upstream", outlier.FlagNoHealthyUpstream, true},
		{"no cluster", outlier.FlagNoClusterFound, true},
		{"connect failure and overflow", outlier.FlagUpstreamConnectionFailure | outlier.FlagUpstreamOverflow, true},
		{"reset after the request was sent", outlier.FlagUpstreamRemoteReset, false},
		{"timeout", outlier.FlagUpstreamRequestTimeout, false},
		{"an application's 503", 0, false},
		{"overflow alone", outlier.FlagUpstreamOverflow, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Unsent(tc.flags))
		})
	}
}
