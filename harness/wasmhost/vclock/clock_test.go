package vclock

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestEventsRunInTimeThenScheduleOrder(t *testing.T) {
	c := New(time.Time{})
	var got []string
	c.After(2*time.Second, func() { got = append(got, "b") })
	c.After(time.Second, func() { got = append(got, "a1") })
	c.After(time.Second, func() {
		got = append(got, "a2")
		c.Post(func() { got = append(got, "posted") })
	})
	stopped := c.After(1500*time.Millisecond, func() { got = append(got, "stopped") })
	assert.True(t, stopped.Stop())
	assert.False(t, stopped.Stop())
	c.Advance(1500 * time.Millisecond)
	assert.Equal(t, []string{"a1", "a2", "posted"}, got)
	assert.Equal(t, 1500*time.Millisecond, c.Since())
	c.Advance(time.Second)
	assert.Equal(t, []string{"a1", "a2", "posted", "b"}, got)
	assert.Equal(t, Epoch.Add(2500*time.Millisecond), c.Now())
}

func TestRunWhileStopsWhenDoneOrEmpty(t *testing.T) {
	c := New(time.Time{})
	n := 0
	var tick func()
	tick = func() { n++; c.After(time.Second, tick) }
	c.After(time.Second, tick)
	assert.True(t, c.RunWhile(c.Now().Add(time.Hour), func() bool { return n < 3 }))
	assert.Equal(t, 3, n)
	assert.Equal(t, 3*time.Second, c.Since())
	empty := New(time.Time{})
	assert.False(t, empty.RunWhile(empty.Now().Add(time.Hour), func() bool { return true }))
}

// TestMaxEvents: a 1 ms tick over a year stops at the cap with an error
// that names it, having run exactly the cap; nothing runs afterwards.
func TestMaxEvents(t *testing.T) {
	for _, run := range []struct {
		name string
		run  func(c *Clock)
	}{
		{"RunUntil", func(c *Clock) { c.Advance(8760 * time.Hour) }},
		{"RunWhile", func(c *Clock) { c.RunWhile(c.Now().Add(8760*time.Hour), func() bool { return true }) }},
	} {
		t.Run(run.name, func(t *testing.T) {
			c := New(time.Time{})
			c.MaxEvents = 1000
			n := 0
			var tick func()
			tick = func() { n++; c.After(time.Millisecond, tick) }
			c.After(time.Millisecond, tick)
			run.run(c)
			assert.Equal(t, 1000, n)
			assert.Equal(t, 1000, c.Events())
			var le *EventLimitError
			if assert.ErrorAs(t, c.Err(), &le) {
				assert.Equal(t, time.Second, le.Elapsed)
				assert.EqualError(t, le, "virtual-time event limit of 1000 events reached after 1s of virtual time")
			}
			assert.Equal(t, time.Second, c.Since(), "a stopped clock stays where it stopped")
			c.Advance(time.Hour)
			assert.Equal(t, 1000, n)
		})
	}
}

// TestInterrupt: an interrupt stops the clock before the next event.
func TestInterrupt(t *testing.T) {
	c := New(time.Time{})
	n := 0
	var tick func()
	tick = func() { n++; c.After(time.Millisecond, tick) }
	c.After(time.Millisecond, tick)
	stop := errors.New("stop")
	c.Interrupt = func() error {
		if n == 5 {
			return stop
		}
		return nil
	}
	c.Advance(time.Hour)
	assert.Equal(t, 5, n)
	assert.ErrorIs(t, c.Err(), stop)
}
