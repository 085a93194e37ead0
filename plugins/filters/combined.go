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
}
