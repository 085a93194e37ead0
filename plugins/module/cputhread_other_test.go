//go:build !linux

package module_test

import "time"

func threadCPUTime() (time.Duration, bool) { return 0, false }
