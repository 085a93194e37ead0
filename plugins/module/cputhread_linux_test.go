package module_test

import (
	"syscall"
	"time"
)

// threadCPUTime is the calling OS thread's user plus system CPU time
// (RUSAGE_THREAD): the request path's own cost, without the other
// threads of the process (the Go GC's background workers, idle spinning).
func threadCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	const rusageThread = 1
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
