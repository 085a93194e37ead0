package vclock

import (
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
