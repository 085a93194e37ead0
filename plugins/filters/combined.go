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

func (c *combinedStream) OnHttpRequestHeaders(n int, eos bool) types.Action {
	enter()
	defer leave()
	// Both parts read one copy of the headers.
	hs := requestHeaders()
	c.r.hs, c.rt.hs = hs, hs
	c.r.OnHttpRequestHeaders(n, eos)
	// One stream, one request: the retry part reuses the router's
	// :authority check.
	c.rt.authKnown, c.rt.authMatch = c.r.authKnown, c.r.authMatch
	a := c.rt.OnHttpRequestHeaders(n, eos)
	c.r.hs, c.rt.hs = nil, nil // valid for this callback only
	return a
}

func (c *combinedStream) OnHttpRequestBody(n int, eos bool) types.Action {
	return c.rt.OnHttpRequestBody(n, eos)
}

func (c *combinedStream) OnHttpResponseHeaders(n int, eos bool) types.Action {
	enter()
	defer leave()
	c.o.routed, c.o.routedOK = c.r.picked, c.r.pickedOK
	c.o.OnHttpResponseHeaders(n, eos)
	return c.rt.OnHttpResponseHeaders(n, eos)
}

func (c *combinedStream) OnHttpResponseTrailers(n int) types.Action {
	enter()
	defer leave()
	return c.o.OnHttpResponseTrailers(n)
}

func (c *combinedStream) OnHttpStreamDone() {
	enter()
	defer leave()
	c.o.OnHttpStreamDone()
	c.rt.OnHttpStreamDone()
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
