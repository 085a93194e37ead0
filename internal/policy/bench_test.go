package policy

import (
	"context"
	"testing"
)

// BenchmarkNew measures compiling the embedded policies (once per run of
// detour policy).
func BenchmarkNew(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		if _, err := New(ctx, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck measures evaluating every rule over the unsafe samples
// (8 documents: intents with what-if status and Istio resources) plus the
// combined pass.
func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	docs, err := Collect("testdata/unsafe")
	if err != nil {
		b.Fatal(err)
	}
	eng, err := New(ctx, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(docs)), "docs")
	for b.Loop() {
		if _, err := eng.Check(ctx, docs); err != nil {
			b.Fatal(err)
		}
	}
}
