// Package latency is the decision core of Detour's latency failover: a
// per-target sliding window of answer latencies, whether a target's 99th
// percentile breaches the configured budget, and whether another target
// is expected to be faster. It is plain Go (no proxy-wasm import) and
// allocates nothing per request.
//
// The estimator is a log-linear histogram (HdrHistogram's bucketing with
// three significant bits: values up to 7 ms exact, then eight buckets per
// power of two, so a bucket is at most 12.5 % wide) in four quarter-window
// slots that rotate on the clock. It was chosen over a streaming sketch
// (P², t-digest) because it is fixed-size and O(1) per answer, forgets
// old answers exactly (a slot is dropped whole, where a decaying sketch
// keeps a tail of a fault that is over), and answers the one question the
// filter asks exactly: next to the histogram each slot counts the answers
// slower than the budget, so "is the p99 above the budget" is decided on
// exact counts, and the histogram's estimate is used only to compare
// targets and for logs.
//
// Envoy has no latency-based ejection (its outlier detector counts errors
// and, for success rate, ratios of errors; source/common/upstream/
// outlier_detection_impl.cc); this is Detour's own, and it reuses the
// error ejection's hold-down and ramp.
package latency

import (
	"math/bits"

	"github.com/detour-mesh/detour/plugins/config"
)

// Slots is the number of sub-windows: the window slides in quarters, so
// the answers counted span between 3/4 and all of the configured window.
const Slots = 4

// Buckets covers 0 ms to 2^22 ms (70 minutes); slower answers count in the last.
const Buckets = 8 + 19*8

// maxMs is the largest value with its own bucket.
const maxMs = 1<<22 - 1

// Window is one target's recent answers. The zero value is empty.
type Window struct {
	epoch [Slots]int64 // the slot's number (time / slot length) plus 1; 0: never used
	total [Slots]uint32
	over  [Slots]uint32 // answers slower than the budget
	hist  [Slots][Buckets]uint32
}

// Settings are the budget and window, from config.Latency.
type Settings struct {
	BudgetMs      int64
	SlotMs        int64
	MinRequests   uint32
	CrossRegionMs int64
}

// NewSettings derives the settings; l must be valid (config.Validate).
func NewSettings(l config.Latency) Settings {
	return Settings{
		BudgetMs: int64(l.P99Ms), SlotMs: max(int64(l.WindowMs)/Slots, 1),
		MinRequests: max(l.MinRequests, 1), CrossRegionMs: int64(l.CrossRegionMs),
	}
}

// bucket is the histogram bucket of a latency in ms.
func bucket(ms int64) int {
	if ms < 8 {
		return int(max(ms, 0))
	}
	if ms > maxMs {
		ms = maxMs
	}
	e := bits.Len64(uint64(ms)) - 1 // 3..21
	m := int(ms>>(e-3)) & 7
	return 8 + (e-3)*8 + m
}

// upper is the largest latency in bucket b: a quantile read from the
// histogram is never below the true one.
func upper(b int) int64 {
	if b < 8 {
		return int64(b)
	}
	e := (b-8)/8 + 3
	m := int64((b-8)%8) + 8
	return (m+1)<<(e-3) - 1
}

// slot returns the slot for now, clearing it when it held an older
// quarter.
func (s *Settings) slot(w *Window, now int64) int {
	ep := now/s.SlotMs + 1
	i := int(ep % Slots)
	if w.epoch[i] != ep {
		w.epoch[i], w.total[i], w.over[i] = ep, 0, 0
		w.hist[i] = [Buckets]uint32{}
	}
	return i
}

// live reports whether slot i is inside the window at now.
func (s *Settings) live(w *Window, i int, now int64) bool {
	ep := now/s.SlotMs + 1
	return w.epoch[i] > ep-Slots && w.epoch[i] <= ep
}

// Observe counts one answer that took ms at now. It reports whether the
// answer was slower than the budget: only then can a breach begin, so the
// caller runs Breached and Move only for those.
func (s *Settings) Observe(w *Window, ms, now int64) bool {
	i := s.slot(w, now)
	w.total[i]++
	w.hist[i][bucket(ms)]++
	if ms > s.BudgetMs {
		w.over[i]++
		return true
	}
	return false
}

// counts sums the live slots.
func (s *Settings) counts(w *Window, now int64) (total, over uint32) {
	for i := range Slots {
		if s.live(w, i, now) {
			total += w.total[i]
			over += w.over[i]
		}
	}
	return total, over
}

// Breached reports whether the window holds at least MinRequests answers
// and their 99th percentile (nearest rank: the answer at rank
// ceil(0.99 n)) is slower than the budget, that is when more than
// n - ceil(0.99 n) answers are. Exact, from the counts.
func (s *Settings) Breached(w *Window, now int64) bool {
	n, over := s.counts(w, now)
	if n == 0 || n < s.MinRequests {
		return false
	}
	rank := (uint64(n)*99 + 99) / 100
	return uint64(over) > uint64(n)-rank
}

// P99 estimates the window's 99th percentile in ms (the upper end of its
// bucket) and says how many answers it rests on; 0, 0 for an empty window.
func (s *Settings) P99(w *Window, now int64) (ms int64, n uint32) {
	n, _ = s.counts(w, now)
	if n == 0 {
		return 0, 0
	}
	rank := (uint64(n)*99 + 99) / 100
	var seen uint64
	for b := range Buckets {
		for i := range Slots {
			if s.live(w, i, now) {
				seen += uint64(w.hist[i][b])
			}
		}
		if seen >= rank {
			return upper(b), n
		}
	}
	return upper(Buckets - 1), n
}

// Verdict is the outcome of Move, with the figures for the log.
type Verdict struct {
	Move bool
	// Observed is the breaching target's estimated p99 over N answers.
	Observed int64
	N        uint32
	// Target is the fastest other candidate (-1: none) and Expected its
	// expected p99.
	Target   int
	Expected int64
}

// Expected is what target j is expected to answer in, seen from a proxy
// whose traffic goes to target i now: its own observed p99 when its window
// holds MinRequests answers (measured where the filter runs, so it already
// includes any cross-region hop), else the budget itself plus CrossRegionMs
// when j is in another region than i. Without answers from j the filter
// cannot know it is fast, only that it is meant to meet the same budget:
// assuming it answers at the budget keeps a move from trading a slow
// target for one that is merely hoped to be faster.
func (s *Settings) Expected(w *Window, otherRegion bool, now int64) int64 {
	if p, n := s.P99(w, now); n >= s.MinRequests {
		return p
	}
	if otherRegion {
		return s.BudgetMs + s.CrossRegionMs
	}
	return s.BudgetMs
}

// Move decides for target i of ws: move its traffic when its window
// breaches the budget and a target j with bit j of healthy set (not
// ejected, not i) is expected to answer faster than i does; bit j of
// otherRegion says j is in another region than i. ws has one window per
// target (at most 64).
func (s *Settings) Move(ws []Window, i int, healthy, otherRegion uint64, now int64) Verdict {
	v := Verdict{Target: -1}
	if !s.Breached(&ws[i], now) {
		return v
	}
	v.Observed, v.N = s.P99(&ws[i], now)
	for j := range ws {
		if j == i || healthy&(1<<uint(j)) == 0 {
			continue
		}
		e := s.Expected(&ws[j], otherRegion&(1<<uint(j)) != 0, now)
		if v.Target < 0 || e < v.Expected {
			v.Target, v.Expected = j, e
		}
	}
	v.Move = v.Target >= 0 && v.Expected < v.Observed
	return v
}
