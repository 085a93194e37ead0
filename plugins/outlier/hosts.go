package outlier

import "encoding/binary"

// Per-host health inside a target. Envoy ejects hosts, not clusters: when
// some of a target's pods fail, Envoy's outlier detection takes them out of
// the target's subset cluster and the rest take their traffic, while the
// target itself still looks healthy to a per-target count. The Hosts table
// mirrors that detection per upstream address (the consecutive detectors
// of DetectorHostMonitorImpl::putHttpResponseCode and putResult, the
// ejection time base × times capped at max, and the max-ejection share with
// always_eject_one_host; source/common/upstream/outlier_detection_impl.cc),
// so the router can give a partly ejected target only the share Envoy's
// priority load would (router.Health.Hosts). Failure percentage is not
// mirrored per host: it runs on Envoy's interval timer over a host's
// request volume, which one target's table cannot see reliably.

// MaxHosts is the most hosts one target's table tracks; more hosts share
// the stalest slots (the table then under-counts, and the router spills
// less: today's per-target behaviour).
const MaxHosts = 16

// hostTTLMs: a host not seen for this long is no longer counted (a pod
// scaled away); seenRefreshMs: a success refreshes a host's last-seen time
// at most this often, so a healthy host costs a write per period, not per
// request.
const (
	hostTTLMs     = 120000
	seenRefreshMs = 10000
)

// SuspectMs is how long a failure the filters learnt of keeps a target
// suspect (Hosts.Suspect): a host of it fails and Envoy has not ejected it
// yet. retriedRefreshMs bounds the writes of RetriedAt to one per period.
const (
	SuspectMs        = 1000
	retriedRefreshMs = 100
	// RetriedEvidence is how many answers Envoy's retries saved in one
	// burst (none more than SuspectMs apart) before they count as a
	// failure seen for hosts out of rotation (Count): a host failing
	// again and again, which Envoy's consecutive detectors eject. A pod
	// removed from the endpoints shows only the few requests in flight to
	// it (3 in the v2-subset drill), and must not count as ejected.
	RetriedEvidence = 5
)

// Host is one upstream address's health.
type Host struct {
	// Key identifies the address (HostKey); 0 is an empty slot.
	Key uint64
	// Seen is the last time an answer from the host was recorded.
	Seen int64
	// EjectedUntil is the end of the host's ejection (0: not ejected).
	EjectedUntil int64
	// SilentSince: a VM found the host out of rotation then (Rotation; 0:
	// it answers).
	SilentSince int64
	// FailedAt is the host's last failure seen (0: none).
	FailedAt int64
	// Consecutive failures, as Record's.
	Cons5xx, ConsGateway, ConsLocal uint16
	// Times is Envoy's ejection backoff multiplier for the host; DecayAt
	// the last time it was ejected or lowered.
	Times   uint16
	DecayAt int64
}

// Hosts is one target's host table.
type Hosts struct {
	H [MaxHosts]Host
	// RetriedAt is the last answer of the target that Envoy's own retry
	// saved (upstream.request_attempt_count above 1; 0: none): an attempt
	// on some host of the target failed, though the filters saw only the
	// retried attempt's success. The failed host is not named.
	RetriedAt int64
	// RetriedN counts the answers of RetriedAt's burst (capped).
	RetriedN uint16
	// EvidenceAt is the last time a burst of retried answers was evidence
	// (RetriedEvidence of them; 0: never). It is kept apart from RetriedAt
	// so a lone retried answer after the burst, which starts a new count,
	// does not erase the failure the burst showed (Count).
	EvidenceAt int64
}

const hostSize = 8 + 8 + 8 + 8 + 8 + 2*4 + 8

// HostsSize is the encoded size of a Hosts table.
const HostsSize = 1 + 8 + 2 + 8 + MaxHosts*hostSize

const hostsVersion = 3

// HostKey is the 64-bit FNV-1a hash of an address (never 0).
func HostKey[T string | []byte](addr T) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(addr); i++ {
		h ^= uint64(addr[i])
		h *= 1099511628211
	}
	if h == 0 {
		h = 1
	}
	return h
}

// Encode writes t into b (len(b) >= HostsSize).
func (t *Hosts) Encode(b []byte) []byte {
	b = b[:HostsSize]
	le := binary.LittleEndian
	b[0] = hostsVersion
	le.PutUint64(b[1:], uint64(t.RetriedAt))
	le.PutUint16(b[9:], t.RetriedN)
	le.PutUint64(b[11:], uint64(t.EvidenceAt))
	for i := range t.H {
		h, o := &t.H[i], 19+i*hostSize
		le.PutUint64(b[o:], h.Key)
		le.PutUint64(b[o+8:], uint64(h.Seen))
		le.PutUint64(b[o+16:], uint64(h.EjectedUntil))
		le.PutUint16(b[o+24:], h.Cons5xx)
		le.PutUint16(b[o+26:], h.ConsGateway)
		le.PutUint16(b[o+28:], h.ConsLocal)
		le.PutUint16(b[o+30:], h.Times)
		le.PutUint64(b[o+32:], uint64(h.DecayAt))
		le.PutUint64(b[o+40:], uint64(h.SilentSince))
		le.PutUint64(b[o+48:], uint64(h.FailedAt))
	}
	return b
}

// Decode reads a table; anything else decodes as empty.
func (t *Hosts) Decode(b []byte) {
	*t = Hosts{}
	if len(b) != HostsSize || b[0] != hostsVersion {
		return
	}
	le := binary.LittleEndian
	t.RetriedAt = int64(le.Uint64(b[1:]))
	t.RetriedN = le.Uint16(b[9:])
	t.EvidenceAt = int64(le.Uint64(b[11:]))
	for i := range t.H {
		h, o := &t.H[i], 19+i*hostSize
		h.Key = le.Uint64(b[o:])
		h.Seen = int64(le.Uint64(b[o+8:]))
		h.EjectedUntil = int64(le.Uint64(b[o+16:]))
		h.Cons5xx = le.Uint16(b[o+24:])
		h.ConsGateway = le.Uint16(b[o+26:])
		h.ConsLocal = le.Uint16(b[o+28:])
		h.Times = le.Uint16(b[o+30:])
		h.DecayAt = int64(le.Uint64(b[o+32:]))
		h.SilentSince = int64(le.Uint64(b[o+40:]))
		h.FailedAt = int64(le.Uint64(b[o+48:]))
	}
}

// Count reports how many hosts the table counts at now (seen within the
// TTL, or out) and how many of them are out: ejected by the table's own
// counts, or out of rotation (SilentSince) for less than the TTL while some
// host of the target failed within the TTL (a failure the filters saw, or
// a burst Envoy's retries hid: EvidenceAt). A host that left rotation without any
// failure seen is taken for one removed from the endpoints (a pod scaled
// away, whose own failures are connect failures that name no host), which
// Envoy no longer counts either.
func (t *Hosts) Count(now int64) (known, out int) {
	failed := within(t.EvidenceAt, now, hostTTLMs)
	for i := range t.H {
		h := &t.H[i]
		failed = failed || h.Key != 0 && h.FailedAt != 0 && now-h.FailedAt < hostTTLMs
	}
	for i := range t.H {
		h := &t.H[i]
		if h.Key == 0 {
			continue
		}
		silent := h.SilentSince != 0 && now-h.SilentSince < hostTTLMs
		ejected := h.EjectedUntil > now || silent && failed
		if ejected || now-h.Seen < hostTTLMs && !silent {
			known++
		}
		if ejected {
			out++
		}
	}
	return known, out
}

// within reports whether at (0: never) is less than d ms before now.
func within(at, now, d int64) bool { return at != 0 && now-at < d && now >= at }

// Suspect reports whether a host of the target failed within SuspectMs of
// now and is not known to be out: the target's last failures (a retried
// attempt, or an answer the filters saw fail from a host neither ejected
// nor out of rotation) say some host of it fails while Envoy still sends
// it requests. A request Envoy will not retry (a method the route's retry
// policy leaves out) sent there now may land on that host, and its
// failure reaches the user (router.Suspects).
func (t *Hosts) Suspect(now int64) bool {
	if within(t.RetriedAt, now, SuspectMs) {
		return true
	}
	for i := range t.H {
		h := &t.H[i]
		if h.Key != 0 && within(h.FailedAt, now, SuspectMs) && h.EjectedUntil <= now && h.SilentSince == 0 {
			return true
		}
	}
	return false
}

// ObserveRetried records at now an answer of the target that Envoy's retry
// saved (Hosts.RetriedAt, RetriedN, EvidenceAt); it reports whether t
// changed. Once a burst is evidence, RetriedAt and EvidenceAt move at most
// once per retriedRefreshMs, so a failing host costs a write per period,
// not per request.
func (t *Hosts) ObserveRetried(now int64) bool {
	burst := within(t.RetriedAt, now, SuspectMs)
	switch {
	case !burst:
		t.RetriedAt, t.RetriedN = now, 1
	case t.RetriedN < RetriedEvidence-1:
		t.RetriedAt, t.RetriedN = now, t.RetriedN+1
	case now-t.RetriedAt < retriedRefreshMs && t.RetriedN >= RetriedEvidence:
		return false
	default:
		t.RetriedAt, t.RetriedN, t.EvidenceAt = now, RetriedEvidence, now
	}
	return true
}

// Dirty reports whether any host has counted failures or is ejected: a
// success then has counters to reset.
func (t *Hosts) Dirty() bool {
	for i := range t.H {
		h := &t.H[i]
		if h.Key != 0 && (h.EjectedUntil != 0 || h.Cons5xx != 0 || h.ConsGateway != 0 || h.ConsLocal != 0) {
			return true
		}
	}
	return false
}

// slot finds key's entry, or takes an empty or the stalest non-ejected
// slot for it (-1 when every slot holds an ejected host).
func (t *Hosts) slot(key uint64, now int64) int {
	free := -1
	for i := range t.H {
		h := &t.H[i]
		if h.Key == key {
			return i
		}
		if h.EjectedUntil > now {
			continue
		}
		if free < 0 || t.H[free].Key != 0 && (h.Key == 0 || h.Seen < t.H[free].Seen) {
			free = i
		}
	}
	if free >= 0 {
		t.H[free] = Host{Key: key}
	}
	return free
}

// Touch records at now that key answered a success since the last call
// (the caller's tick), without counting it: the host is in the table
// (added if new) and its last-seen time is refreshed once per
// seenRefreshMs, as a counted success would. It does not bring a silent
// host back: the answers it sums may predate the silence (Envoy ejected
// the host after them), and a host that really answers again is fresh
// in the rotation and counted at that answer. An ejected host is left
// alone. It reports whether t changed. Counting a success (resetting the
// consecutive counts) stays with ObserveHost, at the answer.
func (t *Hosts) Touch(key uint64, now int64) bool {
	if key == 0 {
		return false
	}
	i := t.slot(key, now)
	if i < 0 {
		return false
	}
	h := &t.H[i]
	if h.EjectedUntil > now {
		return false
	}
	changed := false
	if h.Seen == 0 || now-h.Seen >= seenRefreshMs || now < h.Seen {
		h.Seen, changed = now, true
	}
	return changed
}

// ObserveHost counts one outcome of the host key at now. It reports
// whether t changed (the caller writes it back) and whether the host was
// ejected by it. An ejected host's outcomes are not counted (requests
// already in flight when it was ejected).
func (s *Settings) ObserveHost(t *Hosts, key uint64, o Outcome, now int64) (changed, ejected bool) {
	if o == Ignored || key == 0 {
		return false, false
	}
	i := t.slot(key, now)
	if i < 0 {
		return false, false
	}
	h := &t.H[i]
	if h.EjectedUntil > now {
		return false, false
	}
	if h.Seen == 0 || now-h.Seen >= seenRefreshMs || now < h.Seen {
		h.Seen, changed = now, true
	}
	if h.SilentSince != 0 {
		h.SilentSince, changed = 0, true // it answers: back in rotation
	}
	hit := false
	switch o {
	case Success:
		if h.Cons5xx != 0 || h.ConsGateway != 0 || h.ConsLocal != 0 {
			h.Cons5xx, h.ConsGateway, h.ConsLocal = 0, 0, 0
			changed = true
		}
		return changed, false
	case LocalOrigin:
		h.FailedAt = now
		h.ConsLocal = inc16(h.ConsLocal)
		hit = s.ConsecutiveLocal > 0 && uint32(h.ConsLocal) >= s.ConsecutiveLocal
	case Gateway, Ext5xx:
		h.FailedAt = now
		h.ConsLocal = 0
		h.Cons5xx = inc16(h.Cons5xx)
		if o == Gateway {
			h.ConsGateway = inc16(h.ConsGateway)
		} else {
			h.ConsGateway = 0
		}
		hit = s.ConsecutiveGateway > 0 && uint32(h.ConsGateway) >= s.ConsecutiveGateway ||
			s.Consecutive5xx > 0 && uint32(h.Cons5xx) >= s.Consecutive5xx
	}
	h.Seen = now
	if hit {
		known, out := t.Count(now)
		if s.AllowEject(out, known) {
			s.ejectHost(h, now)
			return true, true
		}
	}
	return true, false
}

// ejectHost ejects h for base × times (capped at max), raising times as
// Envoy's ejectTimeBackoff does.
func (s *Settings) ejectHost(h *Host, now int64) {
	if int64(h.Times)*s.BaseMs < s.MaxMs+s.BaseMs {
		h.Times++
	}
	d := min(s.BaseMs*int64(max(h.Times, 1)), s.MaxMs)
	h.EjectedUntil = now + d
	h.DecayAt = now + d
	h.Cons5xx, h.ConsGateway, h.ConsLocal = 0, 0, 0
}

// ExpireHosts returns the hosts whose ejection is over at now (Envoy
// un-ejects them on its interval timer) and lowers the backoff of hosts
// healthy for an interval since; it reports whether t changed.
func (s *Settings) ExpireHosts(t *Hosts, now int64) bool {
	changed := false
	if t.RetriedAt != 0 && now-t.RetriedAt >= hostTTLMs {
		t.RetriedAt, t.RetriedN, changed = 0, 0, true
	}
	if t.EvidenceAt != 0 && now-t.EvidenceAt >= hostTTLMs {
		t.EvidenceAt, changed = 0, true
	}
	for i := range t.H {
		h := &t.H[i]
		if h.Key == 0 {
			continue
		}
		switch {
		case h.EjectedUntil != 0 && h.EjectedUntil <= now:
			// Back in service: seen now, so it counts while it is tried again.
			h.EjectedUntil, h.Seen = 0, now
			changed = true
		case h.EjectedUntil == 0 && h.Times > 0 && now-h.DecayAt >= s.IntervalMs:
			// onIntervalTimer lowers the multiplier of a host that is
			// not ejected by one per interval.
			h.Times--
			h.DecayAt = now
			changed = true
		case h.FailedAt != 0 && now-h.FailedAt >= hostTTLMs:
			h.FailedAt = 0
			changed = true
		case h.EjectedUntil == 0 && now-max(h.Seen, h.SilentSince) >= 2*hostTTLMs:
			t.H[i] = Host{}
			changed = true
		}
	}
	return changed
}

func inc16(v uint16) uint16 {
	if v == ^uint16(0) {
		return v
	}
	return v + 1
}
