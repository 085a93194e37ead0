package envoy

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// BenchmarkNativeRequests is simulated requests per second through the
// native model only (route match, LB with priorities, outlier detection,
// Istio's retry policy; no Wasm): 10k requests/s of virtual traffic, 5ms
// upstream latency, 1% connect failures (retried).
func BenchmarkNativeRequests(b *testing.B) {
	od := &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(100), Consecutive_5Xx: wrapperspb.UInt32(5)}
	s := snap(retryRemoteLocalities(istioDefaultRetry()), 0, od,
		ep{addr: "10.0.0.1:80", locality: "a"}, ep{addr: "10.0.0.2:80", locality: "a"}, ep{addr: "10.0.0.3:80", locality: "b"},
		ep{addr: "10.1.0.1:15443", priority: 1})
	s.Clusters[0].LbPolicy = clusterv3.Cluster_LEAST_REQUEST
	n := 0
	net := &fakeNet{fn: func(_ time.Time, a *Attempt) Result {
		n++
		if n%100 == 0 {
			return Result{Outcome: OutcomeConnectFailure, Latency: time.Millisecond}
		}
		return Result{Outcome: OutcomeResponse, Status: 200, Latency: 5 * time.Millisecond}
	}}
	clock := vclock.New(time.Time{})
	done := 0
	p, err := New(Config{Name: "gw", Snapshot: s, Clock: clock, Network: net, Seed: 1, OnRecord: func(*Record) { done++ }})
	if err != nil {
		b.Fatal(err)
	}
	h := hdrs("svc", "/reviews/1")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		p.Send(Request{Port: 8080, Headers: h})
		clock.Advance(100 * time.Microsecond)
		net.sent = net.sent[:0]
	}
	clock.Advance(time.Minute)
	b.StopTimer()
	if done != b.N {
		b.Fatalf("%d of %d requests completed", done, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
