package module_test

import (
	"syscall"
	"time"
	"unsafe"
)

// threadCPUTime is the calling OS thread's CPU time
// (CLOCK_THREAD_CPUTIME_ID, the scheduler's nanosecond account): the
// request path's own cost, without the other threads of the process (the
// Go GC's background workers, idle spinning). getrusage(RUSAGE_THREAD)
// splits the same time into user and system by tick samples, too coarse
// for blocks of a millisecond.
func threadCPUTime() (time.Duration, bool) {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
