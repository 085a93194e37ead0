package xdsgen

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"istio.io/istio/pkg/test"
)

// failer is the test.Failer Istio's fake control plane reports through.
// Istio calls Fatal where a test would stop; here that ends the goroutine
// that called it (as testing.T does, with runtime.Goexit) and the error is
// returned by run. Cleanup functions run, last registered first, on close.
type failer struct {
	mu       sync.Mutex
	err      error
	cleanups []func()
	closed   bool
}

var _ test.Failer = (*failer)(nil)

func (f *failer) record(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = errors.New(msg)
	}
}

func (f *failer) failed() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *failer) Fail()    { f.record("istio: generation failed") }
func (f *failer) FailNow() { f.record("istio: generation failed"); runtime.Goexit() }
func (f *failer) Fatal(args ...any) {
	f.record("istio: " + strings.TrimSpace(fmt.Sprint(args...)))
	runtime.Goexit()
}
func (f *failer) Fatalf(format string, args ...any) { f.Fatal(fmt.Sprintf(format, args...)) }

// Skip cannot skip a simulation: it is a failure like Fatal.
func (f *failer) Skip(args ...any) { f.Fatal(append([]any{"skipped: "}, args...)...) }

// Log and Logf drop test chatter: the product prints only what it means to.
func (f *failer) Log(...any)          {}
func (f *failer) Logf(string, ...any) {}
func (f *failer) Helper()             {}

// Cleanup registers fn for close; after close it runs fn at once.
func (f *failer) Cleanup(fn func()) {
	f.mu.Lock()
	if !f.closed {
		f.cleanups = append(f.cleanups, fn)
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	fn()
}

func (f *failer) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}
func (f *failer) TempDir() string {
	dir, err := os.MkdirTemp("", "detour-xdsgen-")
	if err != nil {
		f.Fatalf("temp dir: %v", err)
	}
	f.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// run calls fn on its own goroutine, so that Fatal (runtime.Goexit) ends
// fn and not the caller, and turns a panic into an error.
func (f *failer) run(fn func()) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				f.record(fmt.Sprintf("istio: panic: %v\n%s", r, debug.Stack()))
			}
		}()
		fn()
	}()
	<-done
	return f.failed()
}

// close runs the Cleanup functions once, last registered first. A panic in
// one is recorded and the others still run.
func (f *failer) close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	fns := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		func() {
			defer func() {
				if r := recover(); r != nil {
					f.record(fmt.Sprintf("istio: cleanup panic: %v", r))
				}
			}()
			fns[i]()
		}()
	}
}
