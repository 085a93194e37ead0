package httpsim

// AsyncUpstream is an upstream that answers later: a router with retries,
// back-off and timeouts running on the clock (the Envoy model in
// harness/simulator/envoy). It must call respond exactly once, at the virtual time
// the answer reaches the router.
type AsyncUpstream func(req *UpstreamRequest, respond func(AsyncResponse))

// AsyncResponse is an AsyncUpstream's answer: the upstream response that
// is forwarded (Local nil), or the router's local reply.
type AsyncResponse struct {
	UpstreamResponse
	// Local is the router's local reply (no healthy upstream, reset,
	// timeout, overflow), with its response code details and flags.
	Local *RouterReply
	// Flags are response flags added to a forwarded response (URX, UO).
	Flags uint64
	// Attempts is the number of upstream attempts (upstream.request_attempt_count).
	Attempts int
}

// RouterReply is a local reply of the router.
type RouterReply struct {
	Status  int
	Details string
	Body    string
	Flags   uint64
}

// sendAsync hands the request to the AsyncUpstream; the answer arrives on
// the clock.
func (s *Stream) sendAsync(req *UpstreamRequest) {
	req.Route = s.route
	req.Stream = s
	s.g.AsyncUpstream(req, func(r AsyncResponse) {
		if s.Complete || s.replySent {
			return
		}
		s.info.AttemptCount = uint64(r.Attempts)
		if r.Address != "" {
			s.info.HasUpstream = true
			s.info.UpstreamAddress = r.Address
			s.info.UpstreamHostMetadata = r.HostMetadata
			s.info.UpstreamLocality = r.Locality
		}
		s.info.BackendLatency = s.g.Process.Clock.Now().Sub(s.start)
		if r.Local != nil {
			s.routerReply(r.Local.Status, r.Local.Details, r.Local.Flags|r.Flags, r.Local.Body)
			return
		}
		s.flags |= r.Flags
		s.upstreamResponse(r.UpstreamResponse)
		s.schedule()
	})
}
