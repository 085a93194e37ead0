package load

import (
	"fmt"
	"runtime/metrics"
	"sync"
	"time"
)

// EvalLimits bound the evaluation of one CUE file or package: a four-line .cue file ([for i in list.Range(0, 1e8, 1) {i}],
// or a list.Concat doubling chain) otherwise runs until killed at
// gigabytes. CUE's evaluator takes no context, so an evaluation past a
// limit is abandoned (its goroutine runs until the process exits, which
// the CLI does at once) and reported as an error; later files in the same
// process are not evaluated.
type EvalLimits struct {
	// Timeout is the wall time one file may take (0: none).
	Timeout time.Duration
	// HeapBytes is how much the Go heap may grow while one file is
	// evaluated (0: none), sampled every PollInterval.
	HeapBytes uint64
	// PollInterval is how often the heap is sampled (10ms if 0).
	PollInterval time.Duration
}

// Limits applies to every load; the CLI sets Timeout from --timeout.
var Limits = EvalLimits{Timeout: 60 * time.Second, HeapBytes: 1 << 30}

// runaway names the file whose evaluation was abandoned: it still runs,
// so nothing more is evaluated in this process (its heap would trip the
// next file's limit anyway), and the caller reports and exits.
var runaway struct {
	sync.Mutex
	file string
}

// afterRunaway is the error for any file loaded after an abandoned
// evaluation (which holds the engine's lock), else nil.
func afterRunaway(file string) error {
	runaway.Lock()
	defer runaway.Unlock()
	if runaway.file != "" {
		return Errors{{File: file, Msg: fmt.Sprintf("not evaluated: the evaluation of %s exceeded its limit", runaway.file)}}
	}
	return nil
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// bounded runs load under Limits; past one it returns file:1:1:
// evaluation exceeded … and leaves load running on its own.
func bounded(file string, load func() ([]Source, error)) ([]Source, error) {
	lim := Limits
	if err := afterRunaway(file); err != nil {
		return nil, err
	}
	if lim.Timeout <= 0 && lim.HeapBytes == 0 {
		return load()
	}
	type result struct {
		srcs []Source
		err  error
	}
	done := make(chan result, 1)
	go func() {
		s, err := load()
		done <- result{s, err}
	}()
	var deadline <-chan time.Time
	if lim.Timeout > 0 {
		t := time.NewTimer(lim.Timeout)
		defer t.Stop()
		deadline = t.C
	}
	var poll <-chan time.Time
	base := heapBytes()
	if lim.HeapBytes > 0 {
		every := lim.PollInterval
		if every <= 0 {
			every = 10 * time.Millisecond
		}
		tk := time.NewTicker(every)
		defer tk.Stop()
		poll = tk.C
	}
	exceeded := func(what string) ([]Source, error) {
		runaway.Lock()
		runaway.file = file
		runaway.Unlock()
		return nil, Errors{{File: file, Line: 1, Column: 1, Msg: "evaluation exceeded " + what}}
	}
	for {
		select {
		case r := <-done:
			return r.srcs, r.err
		case <-deadline:
			return exceeded(fmt.Sprintf("the time limit of %s (--timeout raises it)", lim.Timeout))
		case <-poll:
			if h := heapBytes(); h > base && h-base > lim.HeapBytes {
				return exceeded(fmt.Sprintf("the memory limit of %d MiB", lim.HeapBytes>>20))
			}
		}
	}
}
