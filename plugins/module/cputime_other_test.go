//go:build !unix

package module_test

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
