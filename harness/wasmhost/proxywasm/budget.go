package proxywasm

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// DefaultCallBudget is the budget `detour wasm run` gives one guest
// callback (including the host calls and nested guest calls it makes).
// Envoy has no such deadline, but a callback that runs this long would
// stall an Envoy worker, so the harness treats it as a trap instead of
// hanging.
const DefaultCallBudget = 5 * time.Second

// DefaultMemoryLimitPages caps each VM's linear memory at 1 GiB, cpp-host's
// PROXY_WASM_HOST_MAX_WASM_MEMORY_SIZE_BYTES (include/proxy-wasm/limits.h):
// beyond it memory.grow fails and the guest traps (Go's runtime aborts
// with "out of memory").
const DefaultMemoryLimitPages = 1 << 14

// budgetCtx is the context every guest call of one VM runs under. The
// runtime is built with WithCloseOnContextDone, so wazero closes the module
// (a trap) once Done is closed; the compiled code checks for that at loop
// headers and calls. One timer per VM, re-armed by each outermost call,
// keeps the hot path free of per-call contexts and timers.
type budgetCtx struct {
	context.Context // the VM's parent (run-wide) context and the vmKey value
	budget          time.Duration
	timer           *time.Timer
	stopParent      func() bool
	once            sync.Once
	done            chan struct{}
	mu              sync.Mutex
	err             error
}

func newBudgetCtx(parent context.Context, budget time.Duration) *budgetCtx {
	c := &budgetCtx{Context: parent, budget: budget, done: make(chan struct{})}
	if budget > 0 {
		c.timer = time.AfterFunc(time.Hour, func() {
			c.expire(fmt.Errorf("%w: callback ran past its execution budget of %s", context.DeadlineExceeded, budget))
		})
		c.timer.Stop()
	}
	// The whole run's deadline (--timeout) or cancellation ends a running
	// callback too.
	c.stopParent = context.AfterFunc(parent, func() { c.expire(parent.Err()) })
	return c
}

func (c *budgetCtx) expire(err error) {
	c.once.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
	})
}

func (c *budgetCtx) Done() <-chan struct{} { return c.done }

func (c *budgetCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Deadline is unknown to callers: it moves with every callback.
func (c *budgetCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

// arm starts the budget of an outermost call; disarm ends it.
func (c *budgetCtx) arm() {
	if c.timer != nil {
		c.timer.Reset(c.budget)
	}
}

func (c *budgetCtx) disarm() {
	if c.timer != nil {
		c.timer.Stop()
	}
}

// release stops watching the parent context.
func (c *budgetCtx) release() {
	c.disarm()
	c.stopParent()
}
