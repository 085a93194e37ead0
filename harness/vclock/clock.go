// Package vclock is a virtual clock with an event queue. The harness runs
// every asynchronous event (ticks, http_call responses, queue notifications,
// upstream responses) on it, so a run is deterministic and a drill of minutes
// takes milliseconds.
package vclock

import (
	"container/heap"
	"time"
)

// Epoch is the default start time: fixed so outputs are reproducible.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Clock is not safe for concurrent use: the harness is single-threaded by
// design, like one Envoy worker's event loop (and several workers are
// interleaved on the same loop).
type Clock struct {
	now    time.Time
	start  time.Time
	seq    uint64
	events eventHeap
}

// New returns a clock at start (Epoch if zero).
func New(start time.Time) *Clock {
	if start.IsZero() {
		start = Epoch
	}
	return &Clock{now: start, start: start}
}

// Now is the current virtual time.
func (c *Clock) Now() time.Time { return c.now }

// Start is the time the clock was created at.
func (c *Clock) Start() time.Time { return c.start }

// Since is the virtual time elapsed since the clock was created.
func (c *Clock) Since() time.Duration { return c.now.Sub(c.start) }

// Timer cancels a scheduled event.
type Timer struct{ ev *event }

// Stop cancels the event; it reports whether the event had not yet run.
func (t *Timer) Stop() bool {
	if t == nil || t.ev == nil || t.ev.done {
		return false
	}
	t.ev.done = true
	return true
}

// At schedules fn at time at (now if in the past). Events at the same instant
// run in the order they were scheduled.
func (c *Clock) At(at time.Time, fn func()) *Timer {
	if at.Before(c.now) {
		at = c.now
	}
	c.seq++
	ev := &event{at: at, seq: c.seq, fn: fn}
	heap.Push(&c.events, ev)
	return &Timer{ev: ev}
}

// After schedules fn d after now.
func (c *Clock) After(d time.Duration, fn func()) *Timer { return c.At(c.now.Add(d), fn) }

// Post schedules fn at the current instant, after everything already due:
// the equivalent of posting to a dispatcher.
func (c *Clock) Post(fn func()) *Timer { return c.At(c.now, fn) }

// Next reports the time of the next pending event.
func (c *Clock) Next() (time.Time, bool) {
	for c.events.Len() > 0 {
		if c.events[0].done {
			heap.Pop(&c.events)
			continue
		}
		return c.events[0].at, true
	}
	return time.Time{}, false
}

// RunUntil runs every event due at or before t, in time order, and leaves
// the clock at t (or later if it already was).
func (c *Clock) RunUntil(t time.Time) {
	for {
		at, ok := c.Next()
		if !ok || at.After(t) {
			break
		}
		ev := heap.Pop(&c.events).(*event)
		c.now = ev.at
		ev.done = true
		ev.fn()
	}
	if t.After(c.now) {
		c.now = t
	}
}

// Advance runs events for the next d of virtual time.
func (c *Clock) Advance(d time.Duration) { c.RunUntil(c.now.Add(d)) }

// RunPending runs events due now, including those they post.
func (c *Clock) RunPending() { c.RunUntil(c.now) }

// RunWhile runs events in order while cond holds and events remain, without
// going past limit. It returns false if it stopped because none were left.
func (c *Clock) RunWhile(limit time.Time, cond func() bool) bool {
	for cond() {
		at, ok := c.Next()
		if !ok || at.After(limit) {
			return false
		}
		ev := heap.Pop(&c.events).(*event)
		c.now = ev.at
		ev.done = true
		ev.fn()
	}
	return true
}

type event struct {
	at   time.Time
	seq  uint64
	fn   func()
	done bool
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return x
}
