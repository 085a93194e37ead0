package main

import (
	"os"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

	"github.com/detour-mesh/detour/plugins/cell"
)

// The cell header's signature (plugins/cell, docs/filters.md "The cell
// header"): the router signs the header it sets and honours only a header
// a Detour hop signed for this request within the max age.

// requestIDHeader binds a signature to one request. Envoy adds it to
// every request before the filters run when the client sent none.
const requestIDHeader = "x-request-id"

type cellState struct {
	keys   *cell.Keys // nil: no keys, the header is neither set nor honoured
	maxAge int64
	buf    [cell.MaxValueLen]byte
	// Rejected headers by reason (each is also a stripped header).
	forged, stale, unverified proxywasm.MetricCounter
}

// loadCellKeys reads the keys from the proxy's environment (Istio:
// WasmPlugin vmConfig.env, valueFrom HOST). Without valid keys the router
// still routes; it only stops trusting and setting the cell header.
func (s *service) loadCellKeys(root string) {
	cs := s.cfg.CellSettings()
	s.cell.maxAge = int64(cs.MaxAgeMs)
	prefix := "detour." + s.cfg.Service.Host + ".router."
	s.cell.forged = proxywasm.DefineCounterMetric(prefix + "cell_forged")
	s.cell.stale = proxywasm.DefineCounterMetric(prefix + "cell_stale")
	s.cell.unverified = proxywasm.DefineCounterMetric(prefix + "cell_unverified")
	v, ok := os.LookupEnv(cs.KeyEnv)
	if !ok || v == "" {
		proxywasm.LogWarnf("detour: %s: %s is not set: the cell header is neither set nor honoured", root, cs.KeyEnv)
		return
	}
	k, err := cell.ParseKeys(v)
	if err != nil {
		proxywasm.LogErrorf("detour: %s: %s: %v: the cell header is neither set nor honoured", root, cs.KeyEnv, err)
		return
	}
	s.cell.keys = k
	proxywasm.LogInfof("detour: %s: cell header signed with the first of %d keys from %s (max age %dms)", root, k.Len(), cs.KeyEnv, cs.MaxAgeMs)
}

// verifyCell returns the region of a cell header a Detour hop signed for
// this request, or false (counted by reason) for any other.
func (s *service) verifyCell(v string) (string, bool) {
	if s.cell.keys == nil {
		s.cell.unverified.Increment(1)
		return "", false
	}
	rid, _ := proxywasm.GetHttpRequestHeader(requestIDHeader)
	region, r := s.cell.keys.Verify(v, rid, nowMs(), s.cell.maxAge)
	switch r {
	case cell.Valid:
		return region, true
	case cell.Stale:
		s.cell.stale.Increment(1)
	default:
		s.cell.forged.Increment(1)
	}
	return "", false
}

// setCell sets the cell header to region, signed for this request; with
// no keys it sets nothing (a later hop could not tell it from a forgery).
func (s *service) setCell(name, region string, now int64) error {
	if s.cell.keys == nil {
		return nil
	}
	rid, _ := proxywasm.GetHttpRequestHeader(requestIDHeader)
	if now == 0 {
		now = nowMs()
	}
	b, err := s.cell.keys.Sign(s.cell.buf[:0], region, now, rid)
	if err != nil {
		return err
	}
	return proxywasm.ReplaceHttpRequestHeader(name, string(b))
}
