package main

import "github.com/detour-mesh/detour/plugins/retry"

// The budget's denominator, the requests the retry filters watch, is an
// Envoy gauge (retry.active): Envoy keeps one stat per name for the whole
// process, so every worker's VM adds to the same value with
// proxy_increment_metric and a retry reads the sum with one
// proxy_get_metric, exact, as Envoy's own budget reads the cluster's
// upstream_rq_active. Each request so costs two increments: no key, no
// buffer, no lock on the host's shared-data map. A VM that is reloaded
// leaves its requests in flight counted (a larger budget, never a smaller
// one).

func (s *service) countActive(d int32) error {
	if d < 0 && s.active == 0 {
		return nil
	}
	s.m.active.Add(int64(d)) // the SDK panics on a host error: exit fails open
	s.active = uint32(int32(s.active) + d)
	return nil
}

// totalActive is every VM's active-request count.
func (s *service) totalActive() (uint32, error) {
	v := s.m.active.Value()
	if v < int64(s.active) { // never below this VM's own
		return s.active, nil
	}
	return uint32(v), nil
}

// budgetOp is the shared retry budget during one compare-and-swap.
type budgetOp struct{ retry.Budget }

// budget applies f to the shared budget in a compare-and-swap loop.
func (s *service) budget(f func(*budgetOp)) error {
	var b budgetOp
	return update(s.bkey, func(old []byte) []byte {
		b.Decode(old)
		f(&b)
		return b.Encode(s.bbuf[:])
	})
}
