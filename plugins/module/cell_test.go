package module_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/wasmhost/httpsim"
	"github.com/detour-mesh/detour/plugins/cell"
	"github.com/detour-mesh/detour/plugins/config"
)

const meshReviews = "bookinfo/out/bookinfo/reviews/clusters/cluster-1.yaml"

var (
	cellKey    = bytes.Repeat([]byte{0x5a}, 32)
	cellKeyOld = bytes.Repeat([]byte{0x3c}, 32)
	otherKey   = bytes.Repeat([]byte{0x77}, 32)
)

func keyEnv(keys ...[]byte) [][2]string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, base64.StdEncoding.EncodeToString(k))
	}
	return [][2]string{{config.DefaultCellKeyEnv, strings.Join(parts, ",")}}
}

func signCell(t *testing.T, key []byte, region string, at time.Time, rid string) string {
	t.Helper()
	k, err := cell.NewKeys(key)
	require.NoError(t, err)
	v, err := k.Sign(nil, region, at.UnixMilli(), rid)
	require.NoError(t, err)
	return string(v)
}

// cellRegion is a cell header's region (its signature is checked where
// it matters, in the tests of this file).
func cellRegion(v string) string {
	r, _, _ := strings.Cut(v, ";")
	return r
}

// sendReviews sends one request for reviews from the mesh proxy, with
// extra headers, and runs it to completion.
func (w *world) sendReviews(extra ...[2]string) *httpsim.Stream {
	w.t.Helper()
	h := append([][2]string{{":method", "GET"}, {":path", "/reviews/1"}, {":scheme", "http"}, {":authority", "reviews.bookinfo.svc.cluster.local:9080"}}, extra...)
	s := w.gw.Send(httpsim.Request{Headers: h})
	w.clock.Advance(time.Second)
	require.True(w.t, s.Complete)
	return s
}

// A workload cannot keep its own requests out of its healthy local
// cluster: a cell header it wrote, altered, re-used for another request,
// replayed after the max age, or signed with a key the mesh does not
// hold is stripped, counted, and the request stays local. Only a header
// a Detour hop signed for this request moves it.
func TestCellHeaderForgeriesNeverMoveTraffic(t *testing.T) {
	w := newWorld(t, meshReviews, worldOpts{workers: 1, env: keyEnv(cellKey)})
	require.Equal(t, "cluster-1", w.cfg.Local)
	require.Len(t, w.logs("cell header signed with the first of 1 keys from DETOUR_CELL_KEYS (max age 10000ms)"), 1)
	const rid = "5b0e6f3c-9d1a-4e7b-8c2f-0a1b2c3d4e5f"
	valid := func() string { return signCell(t, cellKey, "us-west1", w.clock.Now(), rid) }
	local := signCell(t, cellKey, "us-east1", w.clock.Now(), rid)
	tests := []struct {
		name    string
		headers [][2]string
		counter string
		// replay: the clock moves past the max age after signing.
		replay bool
	}{
		{"hand-written region", [][2]string{{"x-detour-cell", "us-west1"}, {"x-request-id", rid}}, "cell_forged", false},
		{"hand-written, request id chosen", [][2]string{{"x-detour-cell", "us-west1;1800000000000;AAAAAAAAAAAAAAAAAAAAAA"}, {"x-request-id", rid}}, "cell_forged", false},
		{"signed with a key the mesh does not hold", [][2]string{{"x-detour-cell", signCell(t, otherKey, "us-west1", w.clock.Now(), rid)}, {"x-request-id", rid}}, "cell_forged", false},
		{"tampered: the local region's header pointed elsewhere", [][2]string{{"x-detour-cell", "us-west1" + strings.TrimPrefix(local, "us-east1")}, {"x-request-id", rid}}, "cell_forged", false},
		{"replayed on another request", [][2]string{{"x-detour-cell", valid()}, {"x-request-id", "another-request"}}, "cell_forged", false},
		{"replayed without its request id (Envoy makes a new one)", [][2]string{{"x-detour-cell", valid()}}, "cell_forged", false},
		{"replayed after the max age", [][2]string{{"x-detour-cell", valid()}, {"x-request-id", rid}}, "cell_stale", true},
	}
	stripped := w.m("router.stripped_headers")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := w.m("router." + tc.counter)
			if tc.replay {
				w.clock.Advance(11 * time.Second)
			}
			s := w.sendReviews(tc.headers...)
			assert.Equal(t, 200, s.Response.Status)
			assert.Equal(t, "cluster-1", w.target(s.Upstream.Cluster), "stays in the healthy local cluster")
			_, has := header(s.Upstream.Headers, "x-detour-cell")
			assert.False(t, has, "stripped before the next hop")
			assert.Equal(t, before+1, w.m("router."+tc.counter))
			stripped++
			assert.Equal(t, stripped, w.m("router.stripped_headers"))
		})
	}
	// A request for another service keeps its cell header, unchecked and
	// uncounted here: that service's router checks it.
	o := w.gw.Send(httpsim.Request{Headers: [][2]string{{":method", "GET"}, {":path", "/"}, {":scheme", "http"}, {":authority", "ratings.bookinfo.svc.cluster.local:9080"}, {"x-detour-cell", "us-west1"}}})
	w.clock.Advance(time.Second)
	require.True(t, o.Complete)
	fwd, _ := header(o.Upstream.Headers, "x-detour-cell")
	assert.Equal(t, "us-west1", fwd)
	assert.Equal(t, stripped, w.m("router.stripped_headers"))
	// The genuine header, fresh and for its request, moves it.
	v := valid()
	s := w.sendReviews([2]string{"x-detour-cell", v}, [2]string{"x-request-id", rid})
	assert.Equal(t, "cluster-2", w.target(s.Upstream.Cluster))
	got, _ := header(s.Upstream.Headers, "x-detour-cell")
	assert.Equal(t, v, got, "passed on unchanged: its age keeps counting from the hop that set it")
	assert.Equal(t, stripped, w.m("router.stripped_headers"))
	w.noTraps()
}

// End to end over two hops: a proxy that fails a request over signs the
// cell header for it, and the next hop (another proxy with the same keys)
// keeps the request in that region although its own local cluster is
// healthy; the hop still routes by health when the region has none.
func TestCellHeaderFromADetourHop(t *testing.T) {
	first := newWorld(t, meshReviews, worldOpts{workers: 1, env: keyEnv(cellKey)})
	first.dead["cluster-1"] = true
	const rid = "0f9e8d7c-6b5a-4938-2716-050403020100"
	var signed string
	for range 10 {
		s := first.sendReviews([2]string{"x-request-id", rid})
		if v, ok := header(s.Upstream.Headers, "x-detour-cell"); ok && first.target(s.Upstream.Cluster) == "cluster-2" {
			signed = v
		}
	}
	require.NotEmpty(t, signed, "the failed-over request carries a cell header")
	require.True(t, strings.HasPrefix(signed, "us-west1;"), signed)
	k, err := cell.NewKeys(cellKey)
	require.NoError(t, err)
	region, r := k.Verify(signed, rid, first.clock.Now().UnixMilli(), config.DefaultCellMaxAgeMs)
	require.Equal(t, cell.Valid, r)
	assert.Equal(t, "us-west1", region)

	next := newWorld(t, meshReviews, worldOpts{workers: 1, env: keyEnv(cellKey)})
	next.clock.Advance(first.clock.Now().Sub(next.clock.Now()))
	s := next.sendReviews([2]string{"x-detour-cell", signed}, [2]string{"x-request-id", rid})
	assert.Equal(t, "cluster-2", next.target(s.Upstream.Cluster))
	// The region has no healthy target: the ladder decides.
	next.dead["cluster-2"] = true
	for range 5 {
		next.sendReviews([2]string{"x-detour-cell", signed}, [2]string{"x-request-id", rid})
	}
	require.Equal(t, int64(1), next.m("target.cluster-2.ejected"))
	assert.Equal(t, "cluster-1", next.target(next.sendReviews([2]string{"x-detour-cell", signed}, [2]string{"x-request-id", rid}).Upstream.Cluster))
	assert.Zero(t, next.m("router.cell_forged")+next.m("router.cell_stale"))
	first.noTraps()
	next.noTraps()
}

// Rotation: with [new, old] a header signed with the old key still
// verifies, and the proxy signs with the new one.
func TestCellKeyRotation(t *testing.T) {
	w := newWorld(t, meshReviews, worldOpts{workers: 1, env: keyEnv(cellKey, cellKeyOld)})
	const rid = "rotation-request"
	old := signCell(t, cellKeyOld, "us-west1", w.clock.Now(), rid)
	assert.Equal(t, "cluster-2", w.target(w.sendReviews([2]string{"x-detour-cell", old}, [2]string{"x-request-id", rid}).Upstream.Cluster))

	w.dead["cluster-1"] = true
	var signed string
	for range 10 {
		s := w.sendReviews([2]string{"x-request-id", rid})
		if v, ok := header(s.Upstream.Headers, "x-detour-cell"); ok {
			signed = v
		}
	}
	require.NotEmpty(t, signed)
	onlyNew, err := cell.NewKeys(cellKey)
	require.NoError(t, err)
	_, r := onlyNew.Verify(signed, rid, w.clock.Now().UnixMilli(), config.DefaultCellMaxAgeMs)
	assert.Equal(t, cell.Valid, r, "signed with the first key")
	w.noTraps()
}

// Without keys (the variable unset, or not a key) the router still routes
// but trusts no cell header and sets none; it says so at start.
func TestCellHeaderWithoutKeys(t *testing.T) {
	for name, env := range map[string][][2]string{
		"unset":     nil,
		"too short": {{config.DefaultCellKeyEnv, base64.StdEncoding.EncodeToString(cellKey[:16])}},
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, meshReviews, worldOpts{workers: 1, env: env})
			assert.Len(t, w.logs("the cell header is neither set nor honoured"), 1, "one line, from the router")
			const rid = "no-keys"
			s := w.sendReviews([2]string{"x-detour-cell", signCell(t, cellKey, "us-west1", w.clock.Now(), rid)}, [2]string{"x-request-id", rid})
			assert.Equal(t, "cluster-1", w.target(s.Upstream.Cluster))
			assert.Equal(t, int64(1), w.m("router.cell_unverified"))
			w.dead["cluster-1"] = true
			for range 10 {
				s = w.sendReviews()
			}
			assert.Equal(t, "cluster-2", w.target(s.Upstream.Cluster), "failover works")
			_, has := header(s.Upstream.Headers, "x-detour-cell")
			assert.False(t, has, "no unsigned cell header is set")
			w.noTraps()
		})
	}
}

// Residency wins: a valid header for a region the proxy's ladder does not
// reach (the compiler leaves out the clusters a rule forbids) changes
// nothing.
func TestCellHeaderNeverCrossesResidency(t *testing.T) {
	w := newWorld(t, meshReviews, worldOpts{workers: 1, env: keyEnv(cellKey), configure: func(m map[string]any) {
		targets := m["targets"].([]any)
		m["targets"] = targets[:1] // cluster-1 (us-east1) only
	}})
	require.Len(t, w.cfg.Targets, 1)
	const rid = "residency"
	for range 5 {
		s := w.sendReviews([2]string{"x-detour-cell", signCell(t, cellKey, "us-west1", w.clock.Now(), rid)}, [2]string{"x-request-id", rid})
		assert.Equal(t, "cluster-1", w.target(s.Upstream.Cluster))
	}
	// Even with the local cluster down: panic routing stays on the ladder.
	w.dead["cluster-1"] = true
	for range 5 {
		s := w.sendReviews([2]string{"x-detour-cell", signCell(t, cellKey, "us-west1", w.clock.Now(), rid)}, [2]string{"x-request-id", rid})
		assert.Equal(t, "cluster-1", w.target(s.Upstream.Cluster))
	}
	assert.Zero(t, w.served["cluster-2"])
	w.noTraps()
}

// BenchmarkCellHeader is one healthy GET from the mesh proxy (bookinfo
// reviews, local cluster-1) without a cell header, with a valid one (which
// moves it to cluster-2) and with a forged one (stripped): the difference
// is the router's verification in the guest (one HMAC, one header read
// for x-request-id, the clock) and, for the forged one, the removal. The
// header is re-signed every 100 requests, outside the timing, so it never
// goes stale.
func BenchmarkCellHeader(b *testing.B) {
	for _, kind := range []string{"none", "valid", "forged"} {
		b.Run(kind, func(b *testing.B) {
			w := newWorld(b, meshReviews, worldOpts{workers: 1, env: keyEnv(cellKey)})
			k, err := cell.NewKeys(cellKey)
			require.NoError(b, err)
			const rid = "bench-request"
			base := [][2]string{{":method", "GET"}, {":path", "/reviews/1"}, {":scheme", "http"}, {":authority", "reviews.bookinfo.svc.cluster.local:9080"}, {"x-request-id", rid}}
			h := append([][2]string{}, base...)
			want := "cluster-1"
			resign := func() {
				switch kind {
				case "valid":
					v, err := k.Sign(nil, "us-west1", w.clock.Now().UnixMilli(), rid)
					require.NoError(b, err)
					h = append(append(h[:0], base...), [2]string{"x-detour-cell", string(v)})
					want = "cluster-2"
				case "forged":
					h = append(append(h[:0], base...), [2]string{"x-detour-cell", "us-west1;1800000000000;AAAAAAAAAAAAAAAAAAAAAA"})
				}
			}
			resign()
			b.ResetTimer()
			done := cpuPerOp(b)
			for i := range b.N {
				if i%100 == 99 {
					b.StopTimer()
					resign()
					b.StartTimer()
				}
				s := w.gw.Send(httpsim.Request{Headers: h})
				w.clock.Advance(10 * time.Millisecond)
				if !s.Complete || s.Response.Status != 200 || w.target(s.Upstream.Cluster) != want {
					b.Fatalf("request failed or misrouted: %+v %s", s.Response, s.Upstream.Cluster)
				}
			}
			done()
		})
	}
}

// FuzzCellHeader sends arbitrary cell headers (hand-written, or signed
// and then bit-flipped) with arbitrary request ids through the mesh
// proxy, whose local cluster stays healthy: a request leaves it only when
// the header verifies (the package's own check is the oracle, with the
// request id the upstream saw), and the header reaches the next hop only
// then.
func FuzzCellHeader(f *testing.F) {
	f.Add("us-west1", "rid-1", true, uint16(0))
	f.Add("us-west1", "rid-1", true, uint16(9))
	f.Add("us-west1", "", true, uint16(0))
	f.Add("us-east1", "rid-2", true, uint16(0))
	f.Add("us-west1;1800000000000;AAAAAAAAAAAAAAAAAAAAAA", "rid-3", false, uint16(0))
	var w *world
	keys, err := cell.NewKeys(cellKey)
	require.NoError(f, err)
	printable := func(s string) bool {
		for i := range len(s) {
			if s[i] <= ' ' || s[i] >= 0x7f {
				return false
			}
		}
		return true
	}
	f.Fuzz(func(t *testing.T, value, rid string, sign bool, flip uint16) {
		if w == nil {
			w = newWorld(t, meshReviews, worldOpts{workers: 1, env: keyEnv(cellKey)})
		}
		w.t = t
		if sign {
			if v, err := keys.Sign(nil, value, w.clock.Now().UnixMilli(), rid); err == nil {
				if flip != 0 {
					v[int(flip/8)%len(v)] ^= 1 << (flip % 8)
				}
				value = string(v)
			}
		}
		if value == "" || !printable(value) || !printable(rid) {
			return
		}
		h := [][2]string{{"x-detour-cell", value}}
		if rid != "" {
			h = append(h, [2]string{"x-request-id", rid})
		}
		now := w.clock.Now().UnixMilli()
		s := w.sendReviews(h...)
		if tr := w.proc.Traps(); len(tr) > 0 {
			t.Fatalf("trap: %+v", tr)
		}
		sent, _ := header(s.Upstream.Headers, "x-request-id")
		region, r := keys.Verify(value, sent, now, config.DefaultCellMaxAgeMs)
		want := "cluster-1"
		if r == cell.Valid && region == "us-west1" {
			want = "cluster-2"
		}
		if got := w.target(s.Upstream.Cluster); got != want {
			t.Fatalf("cell %q (%v) for request %q: routed to %s, want %s", value, r, sent, got, want)
		}
		fwd, has := header(s.Upstream.Headers, "x-detour-cell")
		if has != (r == cell.Valid) || has && fwd != value {
			t.Fatalf("cell %q (%v): forwarded %v %q", value, r, has, fwd)
		}
	})
}
