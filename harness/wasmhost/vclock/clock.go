// Package vclock is a virtual clock with an event queue. The harness runs
// every asynchronous event (ticks, http_call responses, queue notifications,
// upstream responses) on it, so a run is deterministic and a drill of minutes
// takes milliseconds.
package vclock

import (
	"container/heap"
	"fmt"
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

	// MaxEvents, if positive, caps the events a clock runs: a 1 ms tick
	// over a year of virtual time is 31 billion events, so a run must end
	// with an error rather than go on for days.
	MaxEvents int
	// Interrupt, if set, is asked before each event; a non-nil error stops
	// the clock (a run's context ending).
	Interrupt func() error
	ran       int
	err       error
}

// EventLimitError is the error of a clock that reached MaxEvents.
type EventLimitError struct {
	Limit int
	// Elapsed is the virtual time covered when the clock stopped.
	Elapsed time.Duration
}

func (e *EventLimitError) Error() string {
	return fmt.Sprintf("virtual-time event limit of %d events reached after %s of virtual time", e.Limit, e.Elapsed)
}

// Err is why the clock stopped running events (an *EventLimitError or
// Interrupt's error), or nil. A stopped clock runs nothing more.
func (c *Clock) Err() error { return c.err }

// Events is the number of events run so far.
func (c *Clock) Events() int { return c.ran }

// stopped reports whether the next event may not run, recording why.
func (c *Clock) stopped() bool {
	if c.err != nil {
		return true
	}
	if c.MaxEvents > 0 && c.ran >= c.MaxEvents {
		c.err = &EventLimitError{Limit: c.MaxEvents, Elapsed: c.Since()}
		return true
	}
	if c.Interrupt != nil {
		c.err = c.Interrupt()
	}
	return c.err != nil
}

// pop runs the next event.
func (c *Clock) pop() {
	ev := heap.Pop(&c.events).(*event)
	c.now = ev.at
	ev.done = true
	c.ran++
	ev.fn()
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
// the clock at t (or later if it already was). A stopped clock (Err) stays
// where it stopped.
func (c *Clock) RunUntil(t time.Time) {
	for {
		at, ok := c.Next()
		if !ok || at.After(t) {
			break
		}
		if c.stopped() {
			return
		}
		c.pop()
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
// going past limit. It returns false if it stopped because none were left
// or the clock stopped (Err).
func (c *Clock) RunWhile(limit time.Time, cond func() bool) bool {
	for cond() {
		at, ok := c.Next()
		if !ok || at.After(limit) || c.stopped() {
			return false
		}
		c.pop()
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
