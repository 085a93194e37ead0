package envoy

import (
	"strings"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
	pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"
)

// gateway runs requests through the proxy-wasm HTTP filters (httpsim)
// before the router, as Envoy's HTTP connection manager does
// (source/common/http/filter_manager.cc): the route is selected when the
// request arrives and again if a filter cleared the route cache; the router
// is the model's (retries, outlier detection) behind httpsim's
// asynchronous upstream hook.
type gateway struct {
	p     *Proxy
	ports map[uint32]*httpsim.Gateway
	reqs  map[*httpsim.Stream]*gwRequest
}

type gwRequest struct {
	x     *Exchange
	rec   *Record
	flags []string
}

// directCluster stands for a direct_response route in httpsim (which
// knows only cluster routes); the model answers it locally.
const directCluster = "\x00direct_response"

func newGateway(p *Proxy) *gateway {
	return &gateway{p: p, ports: map[uint32]*httpsim.Gateway{}, reqs: map[*httpsim.Stream]*gwRequest{}}
}

// listener returns the httpsim gateway of one listener port.
func (g *gateway) listener(port uint32) *httpsim.Gateway {
	if gw := g.ports[port]; gw != nil {
		return gw
	}
	lr := g.p.routes.find(port)
	gw := &httpsim.Gateway{
		Process: g.p.cfg.Process,
		Filters: g.p.cfg.Filters,
		Router: func(h *pw.Headers) (httpsim.Route, bool) {
			pairs := h.Pairs()
			r := lr.match(pairs)
			if r == nil {
				return httpsim.Route{}, false
			}
			out := httpsim.Route{Name: r.name, VirtualHost: r.vh.name, Data: r}
			if r.direct != nil || r.unmodelled != "" {
				out.Cluster = directCluster
			} else {
				out.Cluster = r.pickCluster(pairs, g.p.rng.Uint64())
			}
			return out, true
		},
		Clusters:      func(name string) bool { return name == directCluster || g.p.HasCluster(name) },
		AsyncUpstream: g.upstream,
		OnComplete:    g.complete,
	}
	g.ports[port] = gw
	return gw
}

func (g *gateway) send(req Request, x *Exchange) {
	gr := &gwRequest{x: x, rec: &Record{Tag: req.Tag, Start: g.p.clock.Now()}}
	var body [][]byte
	if len(req.Body) > 0 {
		body = [][]byte{req.Body}
	}
	s := g.listener(req.Port).Send(httpsim.Request{Headers: req.Headers, Body: body, Worker: req.Worker})
	g.reqs[s] = gr
}

// upstream is the router behind the filter chain.
func (g *gateway) upstream(req *httpsim.UpstreamRequest, respond func(httpsim.AsyncResponse)) {
	gr := g.reqs[req.Stream]
	r, _ := req.Route.Data.(*route)
	if gr == nil || r == nil {
		respond(httpsim.AsyncResponse{Local: &httpsim.RouterReply{Status: 404, Details: "route_not_found", Flags: flagNR}})
		return
	}
	cluster := req.Cluster
	if cluster == directCluster {
		cluster = ""
	}
	g.p.route(gr.rec, r, cluster, req.Headers, req.Body, func(f final) {
		gr.flags = f.names()
		out := httpsim.AsyncResponse{Attempts: len(gr.rec.Attempts)}
		if n := len(gr.rec.Attempts); n > 0 {
			a := gr.rec.Attempts[n-1]
			out.Address = a.Address
			parts := strings.SplitN(a.Locality, "/", 3)
			parts = append(parts, "", "", "")
			out.Locality = pw.Locality{Region: parts[0], Zone: parts[1], SubZone: parts[2]}
		}
		if f.viaUpstream {
			out.Status, out.Headers, out.Body = f.status, f.headers, []byte(f.body)
			out.Flags = f.flags
		} else {
			out.Local = &httpsim.RouterReply{Status: f.status, Details: f.details, Body: f.body, Flags: f.flags}
		}
		respond(out)
	})
}

// complete records what the client received.
func (g *gateway) complete(s *httpsim.Stream) {
	gr := g.reqs[s]
	if gr == nil {
		return
	}
	delete(g.reqs, s)
	rec := gr.rec
	resp := s.Response
	rec.Status, rec.Details, rec.Body, rec.Reset = resp.Status, resp.Details, resp.Body, resp.Reset
	rec.Status = userStatus(rec.Status, resp.Headers)
	names := append([]string(nil), gr.flags...)
	for _, f := range resp.Flags {
		if !contains(names, f) {
			names = append(names, f)
		}
	}
	rec.Flags = names
	g.p.finish(gr.x, rec)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
