package httpsim

import pw "github.com/detour-mesh/detour/harness/wasmhost/proxywasm"

type frameKind int

const (
	frameHeaders frameKind = iota
	frameBody
	frameTrailers
)

type frame struct {
	kind frameKind
	h    *pw.Headers
	body []byte
	eos  bool
}

// pipeline moves frames through the filters in one direction. Position 0 is
// the first filter to see a frame: filter 0 when decoding, the last filter
// when encoding.
type pipeline struct {
	s       *Stream
	encode  bool
	n       int
	queues  [][]*frame
	blocked []bool
	held    [][]*frame // frames a stopped filter holds until it continues
	buf     []*pw.Buffer
	resumed []bool
	aborted bool
	started bool

	sentBody     []byte
	sentTrailers *pw.Headers
}

func newPipeline(s *Stream, encode bool, n int) *pipeline {
	return &pipeline{s: s, encode: encode, n: n, queues: make([][]*frame, n+1), blocked: make([]bool, n),
		held: make([][]*frame, n), buf: make([]*pw.Buffer, n), resumed: make([]bool, n)}
}

func (p *pipeline) posOf(filter int) int {
	if p.encode {
		return p.n - 1 - filter
	}
	return filter
}

func (p *pipeline) filterAt(pos int) *filterState {
	if p.encode {
		return p.s.filters[p.n-1-pos]
	}
	return p.s.filters[pos]
}

func (p *pipeline) push(pos int, fr *frame) {
	if p.aborted {
		return
	}
	p.queues[pos] = append(p.queues[pos], fr)
}

func (p *pipeline) resume(pos int) {
	if pos >= 0 && pos < p.n {
		p.resumed[pos] = true
	}
}

func (p *pipeline) abort() {
	p.aborted = true
	for i := range p.queues {
		p.queues[i] = nil
	}
}

// pump makes all progress possible now and reports whether it did any.
func (p *pipeline) pump() bool {
	progressed := false
	for pos := 0; pos <= p.n && !p.aborted; pos++ {
		if pos < p.n && p.resumed[pos] {
			p.resumed[pos] = false
			if p.blocked[pos] || p.buf[pos] != nil {
				p.blocked[pos] = false
				p.release(pos)
				progressed = true
			}
		}
		for len(p.queues[pos]) > 0 && !p.aborted && (pos == p.n || !p.blocked[pos]) {
			fr := p.queues[pos][0]
			p.queues[pos] = p.queues[pos][1:]
			progressed = true
			if pos == p.n {
				if p.encode {
					p.s.clientReceive(fr)
				} else {
					p.s.routerReceive(fr)
				}
				continue
			}
			p.deliver(pos, fr)
			if p.s.pendingReply != nil || p.s.pendingReset != "" {
				return true
			}
		}
	}
	return progressed
}

// release forwards what a filter held once it continues.
func (p *pipeline) release(pos int) {
	var out []*frame
	for _, fr := range p.held[pos] {
		if fr.kind != frameBody {
			out = append(out, fr)
		}
	}
	held := p.held[pos]
	p.held[pos] = nil
	if b := p.buf[pos]; b != nil {
		p.buf[pos] = nil
		eos := false
		for _, fr := range held {
			if fr.kind == frameBody && fr.eos {
				eos = true
			}
		}
		bodyFrame := &frame{kind: frameBody, body: b.Data, eos: eos}
		// Body goes before trailers, after headers.
		var ordered []*frame
		placed := false
		for _, fr := range out {
			if fr.kind == frameTrailers && !placed {
				ordered = append(ordered, bodyFrame)
				placed = true
			}
			ordered = append(ordered, fr)
		}
		if !placed {
			ordered = append(ordered, bodyFrame)
		}
		out = ordered
	}
	for _, fr := range out {
		p.push(pos+1, fr)
	}
}

func (p *pipeline) deliver(pos int, fr *frame) {
	f := p.filterAt(pos)
	if p.encode {
		p.started = true
	}
	if f.ctx == nil { // skipped (fail open on a failed VM)
		p.push(pos+1, fr)
		return
	}
	var st pw.FilterStatus
	switch fr.kind {
	case frameHeaders:
		if p.encode {
			st = f.ctx.OnResponseHeaders(fr.h, fr.eos)
		} else {
			st = f.ctx.OnRequestHeaders(fr.h, fr.eos)
		}
		if st.Stops() {
			p.blocked[pos] = true
			p.held[pos] = append(p.held[pos], fr)
			return
		}
		p.push(pos+1, fr)
	case frameBody:
		b := p.buf[pos]
		if b == nil {
			b = &pw.Buffer{Data: fr.body}
		} else {
			b.Data = append(b.Data, fr.body...)
		}
		if p.encode {
			st = f.ctx.OnResponseBody(b, fr.eos)
		} else {
			st = f.ctx.OnRequestBody(b, fr.eos)
		}
		added := f.ctx.AddedTrailers(map[bool]pw.StreamType{false: pw.StreamRequest, true: pw.StreamResponse}[p.encode])
		switch st {
		case pw.Continue:
			p.buf[pos] = nil
			eos := fr.eos && added == nil
			p.push(pos+1, &frame{kind: frameBody, body: b.Data, eos: eos})
			if added != nil && fr.eos {
				p.push(pos+1, &frame{kind: frameTrailers, h: added, eos: true})
			}
		case pw.StopIterationNoBuffer:
			p.buf[pos] = nil
			if fr.eos {
				p.blocked[pos] = true
				p.held[pos] = append(p.held[pos], &frame{kind: frameBody, eos: true})
				p.buf[pos] = &pw.Buffer{}
			}
		default: // buffer (and watermark) keep the data at this filter
			p.buf[pos] = b
			if fr.eos {
				p.blocked[pos] = true
				p.held[pos] = append(p.held[pos], &frame{kind: frameBody, eos: true})
			}
		}
	case frameTrailers:
		if p.encode {
			st = f.ctx.OnResponseTrailers(fr.h)
		} else {
			st = f.ctx.OnRequestTrailers(fr.h)
		}
		if st.Stops() {
			p.blocked[pos] = true
			p.held[pos] = append(p.held[pos], fr)
			return
		}
		if b := p.buf[pos]; b != nil {
			p.buf[pos] = nil
			p.push(pos+1, &frame{kind: frameBody, body: b.Data})
		}
		p.push(pos+1, fr)
	}
}
