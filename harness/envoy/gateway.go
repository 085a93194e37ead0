package envoy

// gateway runs requests through the Wasm HTTP filter chain (httpsim) in
// front of the router.
type gateway struct {
	p *Proxy
}

func newGateway(p *Proxy) *gateway { return &gateway{p: p} }

func (g *gateway) send(req Request, x *Exchange) {
	// Filled in with httpsim's asynchronous upstream hook.
	g.p.startNative(req, x)
}
