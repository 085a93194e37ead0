package latency

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/plugins/config"
)

func settings() Settings {
	return NewSettings(config.Latency{P99Ms: 300, WindowMs: 10000, MinRequests: 20, CrossRegionMs: 40})
}

// exactP99 is the nearest-rank 99th percentile of xs.
func exactP99(xs []int64) int64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := (len(s)*99 + 99) / 100
	return s[rank-1]
}

func TestBuckets(t *testing.T) {
	for _, c := range []struct{ ms, upper int64 }{
		{-5, 0}, {0, 0}, {7, 7}, {8, 8}, {9, 9}, {15, 15}, {16, 17}, {17, 17}, {300, 319}, {320, 351}, {1 << 21, 1<<21 + 1<<18 - 1},
		{1 << 30, maxMs},
	} {
		assert.Equal(t, c.upper, upper(bucket(c.ms)), "%d ms", c.ms)
	}
	prev := -1
	for ms := int64(0); ms <= maxMs; ms += 1 + ms/64 {
		b := bucket(ms)
		require.GreaterOrEqual(t, b, prev, "buckets are monotonic")
		require.Less(t, b, Buckets)
		require.GreaterOrEqual(t, upper(b), ms)
		require.LessOrEqual(t, upper(b), ms+ms/8, "a bucket is at most 12.5%% wide")
		prev = b
	}
}

func TestBreached(t *testing.T) {
	s := settings()
	for _, c := range []struct {
		name       string
		fast, slow int
		want       bool
	}{
		{"empty", 0, 0, false},
		{"below minRequests, all slow", 0, 19, false},
		{"minRequests, one slow", 19, 1, true}, // rank 20 of 20 is the slow one
		{"all fast", 1000, 0, false},
		{"1% slow is within p99", 990, 10, false},
		{"just over 1% slow", 989, 11, true},
		{"half slow", 500, 500, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var w Window
			for range c.fast {
				s.Observe(&w, 20, 1000)
			}
			for range c.slow {
				s.Observe(&w, 530, 1000)
			}
			assert.Equal(t, c.want, s.Breached(&w, 1000))
		})
	}
}

// TestWindowSlides: answers older than the window are forgotten, a
// quarter at a time.
func TestWindowSlides(t *testing.T) {
	s := settings() // 2.5s slots
	var w Window
	for range 100 {
		s.Observe(&w, 800, 1000)
	}
	assert.True(t, s.Breached(&w, 1000))
	assert.True(t, s.Breached(&w, 9999), "still in the window's last slot")
	assert.False(t, s.Breached(&w, 10000), "its slot left the window")
	_, n := s.P99(&w, 10000)
	assert.Zero(t, n)
	// A reused slot starts empty.
	s.Observe(&w, 10, 11000)
	p, n := s.P99(&w, 11000)
	assert.Equal(t, uint32(1), n)
	assert.Equal(t, int64(10), p)
	// A clock that goes back reads an empty window rather than a future one.
	_, n = s.P99(&w, 500)
	assert.Zero(t, n)
}

func TestP99Estimate(t *testing.T) {
	s := settings()
	var w Window
	var xs []int64
	x := uint64(7)
	for i := range 5000 {
		x = x*6364136223846793005 + 1442695040888963407
		ms := int64(x>>40) % 1000
		if i%50 == 0 {
			ms += 3000
		}
		xs = append(xs, ms)
		s.Observe(&w, ms, 4000)
	}
	got, n := s.P99(&w, 4000)
	want := exactP99(xs)
	assert.Equal(t, uint32(5000), n)
	assert.GreaterOrEqual(t, got, want)
	assert.LessOrEqual(t, got, want+want/8)
}

func TestMove(t *testing.T) {
	s := settings()
	fill := func(w *Window, ms int64, n int) {
		for range n {
			s.Observe(w, ms, 5000)
		}
	}
	for _, c := range []struct {
		name                 string
		local, remote        int64 // p99 to fill with; 0: no answers
		remoteN              int
		healthy, otherRegion uint64
		crossRegion          int64
		wantMove             bool
		wantExpected         int64
	}{
		{"slow local, unobserved remote at budget + cross-region", 530, 0, 0, 0b10, 0b10, 40, true, 340},
		{"slow local, remote observed fast", 530, 45, 100, 0b10, 0b10, 40, true, 47},
		{"slow local, remote observed slower", 530, 900, 100, 0b10, 0b10, 40, false, 959},
		{"barely slow local, unobserved remote not faster with the hop", 310, 0, 0, 0b10, 0b10, 40, false, 340},
		{"barely slow local, same-region remote at budget", 310, 0, 0, 0b10, 0, 40, true, 300},
		{"too few remote answers: the prior", 530, 45, 19, 0b10, 0b10, 40, true, 340},
		{"remote ejected", 530, 45, 100, 0, 0b10, 40, false, 0},
		{"local within budget", 250, 45, 100, 0b10, 0b10, 40, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.CrossRegionMs = c.crossRegion
			ws := make([]Window, 2)
			fill(&ws[0], c.local, 100)
			if c.remote > 0 {
				fill(&ws[1], c.remote, c.remoteN)
			}
			v := s.Move(ws, 0, c.healthy, c.otherRegion, 5000)
			assert.Equal(t, c.wantMove, v.Move)
			assert.Equal(t, c.wantExpected, v.Expected)
			if c.local > s.BudgetMs {
				assert.Equal(t, upper(bucket(c.local)), v.Observed)
				assert.Equal(t, uint32(100), v.N)
			}
		})
	}
}

// TestMovePicksTheFastest: of several candidates the fastest is named.
func TestMovePicksTheFastest(t *testing.T) {
	s := settings()
	ws := make([]Window, 4)
	for range 50 {
		s.Observe(&ws[0], 800, 0)
		s.Observe(&ws[1], 120, 0)
		s.Observe(&ws[2], 60, 0)
		s.Observe(&ws[3], 10, 0)
	}
	v := s.Move(ws, 0, 0b0110, 0b1110, 0) // target 3 is ejected
	assert.True(t, v.Move)
	assert.Equal(t, 2, v.Target)
}

func TestNoAllocations(t *testing.T) {
	s := settings()
	ws := make([]Window, 3)
	now := int64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		now += 7
		if s.Observe(&ws[0], now%700, now) {
			_ = s.Move(ws, 0, 0b110, 0b110, now)
		}
		s.Observe(&ws[1], 40, now)
	})
	assert.Zero(t, allocs)
}

// FuzzWindow: whatever the answers, the breach decision equals the exact
// nearest-rank p99 against the budget, and the estimate is never below the
// exact p99 nor more than a bucket above it.
func FuzzWindow(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 0, 0, 0}, uint16(300), uint8(5))
	f.Add([]byte{255, 255, 255, 255}, uint16(1), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, budget uint16, minReq uint8) {
		s := NewSettings(config.Latency{P99Ms: uint32(budget) + 1, WindowMs: 60000, MinRequests: uint32(minReq)})
		var w Window
		var xs []int64
		for len(data) >= 3 {
			ms := int64(binary.LittleEndian.Uint16(data)) << (data[2] % 8)
			data = data[3:]
			xs = append(xs, ms)
			s.Observe(&w, ms, 100)
		}
		p, n := s.P99(&w, 100)
		require.Equal(t, uint32(len(xs)), n)
		if len(xs) == 0 {
			require.False(t, s.Breached(&w, 100))
			return
		}
		exact := min(exactP99(xs), maxMs)
		require.GreaterOrEqual(t, p, exact)
		require.LessOrEqual(t, p, exact+exact/8)
		want := uint32(len(xs)) >= s.MinRequests && exactP99(xs) > s.BudgetMs
		require.Equal(t, want, s.Breached(&w, 100))
	})
}
