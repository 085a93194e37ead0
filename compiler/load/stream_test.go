package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withWorkers runs the test with n workers (engines), as on an n-core
// machine.
func withWorkers(t *testing.T, n int) {
	t.Helper()
	old, oldProcs := Workers, runtime.GOMAXPROCS(n)
	Workers = n
	t.Cleanup(func() { Workers = old; runtime.GOMAXPROCS(oldProcs) })
}

// invalidDoc is an intent with one error, on its 9th line, column 47 ("order" names an
// unknown cluster), for a stream of mostly valid ones.
func invalidDoc(i int) string {
	return fmt.Sprintf(`apiVersion: detour.dev/v1alpha1
kind: FailoverIntent
metadata: {name: bad-%d, namespace: ns}
spec:
  service: {port: 9080}
  clusters:
    - {name: east, region: r1, zone: z1, network: n1, eastWestGateway: {address: 10.0.0.1}}
    - {name: west, region: r2, zone: z2, network: n2, eastWestGateway: {address: 10.0.0.2}}
  failover: {mode: named, order: [east, west, north]}
`, i)
}

// TestStreamInOrder: on several workers, documents come out in input
// order, each at its own line of the stream, with the same errors as when
// each document is loaded alone.
func TestStreamInOrder(t *testing.T) {
	withWorkers(t, 3)
	valid := string(manyIntents(t, 1))
	var (
		stream bytes.Buffer
		want   []string
		line   = 1
	)
	for i := range 60 {
		doc := strings.Replace(valid, "name: svc-0", fmt.Sprintf("name: svc-%d", i), 1)
		if i%7 == 3 {
			doc = "---\n" + invalidDoc(i)
			want = append(want, fmt.Sprintf("s.yaml:%d:47: spec.failover.order[2]: unknown cluster \"north\"", line+9))
		} else {
			want = append(want, fmt.Sprintf("s.yaml:%d:1: ns/svc-%d", line+1, i)) // after its "---" line
		}
		stream.WriteString(doc)
		line += strings.Count(doc, "\n")
	}
	var got []string
	err := Stream(context.Background(), nil, []Input{{Name: "s.yaml", R: &stream}}, func(d Doc) error {
		for _, e := range d.Errs {
			got = append(got, e.Error())
		}
		for _, s := range d.Sources {
			got = append(got, fmt.Sprintf("%s:%d:%d: %s/%s", s.File, s.Line, s.Column, s.Intent.Metadata.Namespace, s.Intent.Metadata.Name))
		}
		return nil
	})
	require.NoError(t, err)
	// The namespace of manyIntents' base document.
	for i := range want {
		want[i] = strings.Replace(want[i], "ns/svc", "bookinfo/svc", 1)
	}
	assert.Equal(t, want, got)

	// Loaded alone, the invalid document reports the same error at its
	// own lines.
	_, err = Bytes("one.yaml", []byte(invalidDoc(3)))
	assert.EqualError(t, err, "one.yaml:9:47: spec.failover.order[2]: unknown cluster \"north\"")
}

// blockingReader serves data, then blocks until release is closed before
// serving rest: a stream whose end is not there yet.
type blockingReader struct {
	data, rest []byte
	release    chan struct{}
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	if r.release != nil {
		<-r.release
		r.release = nil
	}
	if len(r.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// TestStreamReportsBeforeTheEnd: an error is delivered while the stream is
// still open. The reader blocks after the bad document until the error has
// been seen, so a loader that read the whole stream first would never see
// it (the backstop below fails the test instead of hanging).
func TestStreamReportsBeforeTheEnd(t *testing.T) {
	withWorkers(t, 2)
	r := &blockingReader{
		// The bad document ends where the next one starts.
		data:    append(manyIntents(t, 3), "---\n"+invalidDoc(1)+"---\n"...),
		rest:    bytes.ReplaceAll(manyIntents(t, 2)[len("---\n"):], []byte("svc-"), []byte("more-")),
		release: make(chan struct{}),
	}
	released := false
	var docs, errs int
	done := make(chan error, 1)
	go func() {
		done <- Stream(context.Background(), nil, []Input{{Name: "s.yaml", R: r}}, func(d Doc) error {
			if len(d.Errs) > 0 && !released {
				errs++
				released = true
				close(r.release) // the error arrived before the rest of the stream
			}
			docs += len(d.Sources)
			return nil
		})
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(2 * time.Minute): // a backstop against a hang, not a timing assertion
		t.Fatal("the error was not delivered before the stream ended")
	}
	assert.True(t, released)
	assert.Equal(t, 1, errs)
	assert.Equal(t, 5, docs, "the documents after the error are validated too")
}

// genStream is an io.Reader of n valid intents made as they are read, so
// the test holds no copy of the stream. Before the body of every every-th
// intent it waits on resume, having given only its "---" line: by then
// every intent before it has been handed to the consumer and nothing else
// is being validated.
type genStream struct {
	n, i, every int
	base        []byte
	buf         []byte
	resume      chan struct{}
	header      bool // the "---" of intent i is out
}

func (g *genStream) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		if g.i == g.n {
			return 0, io.EOF
		}
		if !g.header {
			g.buf, g.header = []byte("---\n"), true
			break
		}
		if g.i > 0 && g.i%g.every == 0 {
			<-g.resume
		}
		g.buf = bytes.Replace(g.base, []byte("name: reviews"), fmt.Appendf(nil, "name: svc-%d", g.i), 1)
		g.i, g.header = g.i+1, false
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// TestStreamMemoryFlat: the live heap does not grow with the number of
// documents read, as Stream holds a bounded window of them. It is sampled
// (after a collection) every 250 intents of 3,000, each time when the
// reader waits and every intent read so far has been delivered: the same
// state each time but for what the stream has accumulated. Keeping each
// intent would cost over 1 KiB apiece; 256 bytes per intent is allowed.
func TestStreamMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("validates 3,000 intents")
	}
	withWorkers(t, 2)
	base, err := os.ReadFile("testdata/valid/minimal.yaml")
	require.NoError(t, err)
	const n, every = 3000, 250
	g := &genStream{n: n, every: every, base: base, resume: make(chan struct{})}
	var (
		seen    int
		samples []int64
	)
	err = Stream(context.Background(), nil, []Input{{Name: "s.yaml", R: g}}, func(d Doc) error {
		require.Empty(t, d.Errs)
		seen += len(d.Sources)
		if seen%every == 0 && seen < n {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			samples = append(samples, int64(m.HeapAlloc))
			g.resume <- struct{}{}
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, n, seen)
	require.Len(t, samples, n/every-1)
	kib := make([]int64, len(samples))
	for i, v := range samples {
		kib[i] = v >> 10
	}
	t.Logf("live heap every %d intents (KiB): %v", every, kib)
	// From the second sample on: the first comes before the second
	// worker's engine is built.
	growth := samples[len(samples)-1] - samples[1]
	intents := int64(every * (len(samples) - 2))
	assert.Less(t, growth, intents*256, "heap grew by %d KiB over %d intents", growth>>10, intents)
}
