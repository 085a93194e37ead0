package main

import (
	"os"
	"runtime/debug"
)

// streamGCPercent is the GC target of vet and compile. They stream: the live
// heap stays at about 20 MB however many intents, so the default GOGC=100
// collects after every 20 MB that CUE allocates, which measured 17 % of
// compile's CPU; 300 collects a quarter as often for about 60 MB more peak
// heap, still flat in the number of intents (BENCHMARKS.md, "Compile and
// vet at scale").
const streamGCPercent = 300

// tuneGC applies streamGCPercent unless the user set GOGC.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(streamGCPercent)
	}
}
