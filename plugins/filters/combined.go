package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// --- all three in one context ---------------------------------------------------

// combinedStream is the three filters in one HTTP context (root ID
// config.PluginCombined), in the order the compiled priorities chain them.
type combinedStream struct {
	types.DefaultHttpContext
	r  routerStream
	rt retryStream
	o  outlierStream
}

// Each callback runs its parts under one exit (one deferred call): a panic
// in a part fails the rest of that callback open too, and is logged and
// counted as every part's.

func (c *combinedStream) OnHttpRequestHeaders(_ int, eos bool) (a types.Action) {
	a = types.ActionContinue // on a panic too
	enter()
	defer c.r.p.exit()
	// Both parts read one copy of the headers.
	hs := requestHeaders()
	c.r.hs, c.rt.hs = hs, hs
	c.r.onRequestHeaders()
	// One stream, one request: the retry part reuses the router's
	// :authority check.
	c.rt.authKnown, c.rt.authMatch = c.r.authKnown, c.r.authMatch
	c.rt.onRequestHeaders()
	c.r.hs, c.rt.hs = nil, nil // valid for this callback only
	return
}

func (c *combinedStream) OnHttpRequestBody(n int, eos bool) types.Action {
	return c.rt.OnHttpRequestBody(n, eos)
}

func (c *combinedStream) OnHttpResponseHeaders(_ int, eos bool) (a types.Action) {
	a = types.ActionContinue
	enter()
	defer c.r.p.exit()
	c.o.routed, c.o.routedOK = c.r.picked, c.r.pickedOK
	c.o.onResponseHeaders(eos)
	return c.rt.onResponseHeaders()
}

func (c *combinedStream) OnHttpResponseTrailers(int) types.Action {
	enter()
	defer c.r.p.exit()
	c.o.onResponseTrailers()
	return types.ActionContinue
}

func (c *combinedStream) OnHttpStreamDone() {
	enter()
	defer c.r.p.exit()
	// The retry part first: it gives back the active-request count, which
	// a panic in the outlier part must not leak for the VM's lifetime.
	c.rt.onStreamDone()
	c.o.onStreamDone()
	c.recycle()
}

// streamPool keeps ended combined streams for the next ones: a stream's
// context was the one Go allocation of a healthy request (about 1.3 per
// request, and the garbage collections that follow). The guest is single
// threaded; the pool is plain memory, bounded.
type streamPool struct{ s []*combinedStream }

const streamPoolMax = 64

func (p *streamPool) get() *combinedStream {
	if n := len(p.s); n > 0 {
		c := p.s[n-1]
		p.s = p.s[:n-1]
		return c
	}
	return new(combinedStream)
}

// recycle hands an ended stream back, unless an http_call it dispatched
// may still answer into it (the retry part's callback holds the stream)
// or the pool is full. proxy_on_log (the SDK's OnHttpStreamDone) is the
// stream's last callback; proxy_on_delete only drops the SDK's entry.
func (c *combinedStream) recycle() {
	p := c.r.p
	if c.rt.tries != 0 || len(p.free.s) >= streamPoolMax {
		return
	}
	if p.free.s == nil {
		p.free.s = make([]*combinedStream, 0, streamPoolMax)
	}
	*c = combinedStream{} // drop references (bodies, headers)
	p.free.s = append(p.free.s, c)
}
