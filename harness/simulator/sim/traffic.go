package sim

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/detour-mesh/detour/harness/simulator/envoy"
	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// traffic is one source of requests (the entry's, or a fleet source's):
// Poisson arrivals at rate, methods and paths drawn from the seed. Its
// requests are numbered in arrival order, base+1, base+2, ...: the id
// x-request-id carries to every attempt, which ties the attempts to their
// request. They are dealt to the proxy's workers in turn (a worker picks
// the filters' VM); Envoy's kernel-balanced connections are not modelled.
type traffic struct {
	t         Traffic
	rng       *rand.Rand
	total     float64 // the methods' weights
	rate      float64 // requests per second
	authority string
	port      uint32
	base      uint64
	n         uint64 // requests sent
}

// newTraffic draws from its own stream of seed, so a source's requests
// do not depend on the proxy's or the network's draws.
func newTraffic(t Traffic, seed uint64, rate float64, authority string, port uint32, base uint64) *traffic {
	tr := &traffic{t: t, rng: rand.New(rand.NewPCG(seed, 0x74726166666963)), // "traffic"
		rate: rate, authority: authority, port: port, base: base}
	for _, m := range t.Methods {
		tr.total += m.Weight
	}
	return tr
}

// next is the next request: its id, its method and what the proxy is sent.
func (tr *traffic) next() (id uint64, method string, req envoy.Request) {
	tr.n++
	id = tr.base + tr.n
	method, path := draw(tr.rng, tr.t, tr.total)
	tag := strconv.FormatUint(id, 10)
	hdrs := make([][2]string, 0, 5+len(tr.t.Headers))
	hdrs = append(hdrs, [2]string{":method", method}, [2]string{":path", path}, [2]string{":authority", tr.authority},
		[2]string{":scheme", "http"}, [2]string{RequestIDHeader, tag})
	hdrs = append(hdrs, tr.t.Headers...)
	return id, method, envoy.Request{Port: tr.port, Headers: hdrs, Worker: int(tr.n % uint64(tr.t.Workers)), Tag: tag}
}

// start schedules the arrivals on clock from start until the traffic's
// duration; each is handed to send. Each arrival schedules the next, so
// the clock's queue holds only what is in flight.
func (tr *traffic) start(clock *vclock.Clock, start time.Time, send func(id uint64, method string, req envoy.Request)) {
	var at time.Duration
	var arrive func()
	schedule := func() {
		var ok bool
		if at, ok = nextArrival(tr.rng, at, tr.t.Duration, tr.rate); ok {
			clock.At(start.Add(at), arrive)
		}
	}
	arrive = func() {
		send(tr.next())
		schedule()
	}
	schedule()
}

// draw picks a request's method by the traffic's weights (total is their
// sum) and its path uniformly: one random number each, in that order, so a
// seed gives the same requests in every run.
func draw(rng *rand.Rand, t Traffic, total float64) (method, path string) {
	method = t.Methods[len(t.Methods)-1].Name
	x := rng.Float64() * total
	for _, m := range t.Methods {
		if x < m.Weight {
			method = m.Name
			break
		}
		x -= m.Weight
	}
	return method, t.Paths[rng.IntN(len(t.Paths))]
}

// nextArrival is the time of the Poisson arrival after at, at rate per
// second, and whether it comes before end. A rate of 0 (a source given
// none) or one so small that the gap overflows a Duration has none: Go's
// conversion of +Inf or of a too large float to an integer is undefined
// (on amd64 the most negative Duration, which scheduled arrivals in the
// past forever).
func nextArrival(rng *rand.Rand, at, end time.Duration, rate float64) (time.Duration, bool) {
	gap := rng.ExpFloat64() / rate * float64(time.Second)
	if !(gap < float64(end-at)) { // NaN (0/0) too
		return end, false
	}
	return at + time.Duration(gap), true
}
