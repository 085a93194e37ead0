package outlier

// Rotation is one VM's view of which of a target's hosts Envoy sends
// requests to. Envoy's load balancer spreads a target's requests over its
// hosts, so a host in rotation answers about one of every n of the
// target's answers (n hosts); one that has not answered for
// SilentAnswers × n of them is out of rotation: Envoy's outlier detection
// ejected it, or it is gone. The filters see only a request's final
// response (Envoy's retries hide the attempts that failed), so this is how
// they learn of an ejection Envoy made; counting answers instead of time
// makes the test independent of the request rate. It is kept per VM, in
// plain memory: every worker's load balancer skips an ejected host, so
// each VM sees the same silence, and only a change is written to the
// shared host table.
type Rotation struct {
	key  [MaxHosts]uint64
	last [MaxHosts]uint64 // seq at the host's last answer
	out  [MaxHosts]bool
	seq  uint64
}

// SilentAnswers is how many of its target's answers per host a host may
// miss before it is out of rotation. With n hosts picked at random an
// in-rotation host misses 12 × n answers in a row with probability
// (1 - 1/n)^(12n) < e^-12 (5e-7 for 3 hosts; round robin and least
// request, Istio's default, spread more evenly than that); fewer answers
// detect an ejection sooner: in the two-pods drill 8 gave a p99 of 68 ms,
// 12 70 ms, 20 103 ms (the pod left overloaded until the spill starts).
const SilentAnswers = 12

// Answer records an answer of the target from key. It reports whether the
// host is new to this VM or back in rotation (fresh), and the slots of the
// hosts that just went silent (a bit per slot; Key names them).
func (r *Rotation) Answer(key uint64) (fresh bool, silent uint32) {
	if key == 0 {
		return false, 0
	}
	r.seq++
	n := uint64(0)
	at, stalest := -1, -1
	for i := range r.key {
		switch {
		case r.key[i] == key:
			at = i
		case r.key[i] == 0:
			if stalest < 0 || r.key[stalest] != 0 {
				stalest = i
			}
			continue
		case stalest < 0 || r.key[stalest] != 0 && r.last[i] < r.last[stalest]:
			stalest = i
		}
		n++
	}
	if at < 0 {
		at, fresh = stalest, true
		if r.key[at] == 0 {
			n++
		}
		r.key[at], r.out[at] = key, false
	}
	if r.out[at] {
		r.out[at], fresh = false, true
	}
	r.last[at] = r.seq
	limit := SilentAnswers * n
	for i := range r.key {
		if r.key[i] != 0 && !r.out[i] && r.seq-r.last[i] >= limit {
			r.out[i] = true
			silent |= 1 << uint(i)
		}
	}
	return fresh, silent
}

// Seq is the number of answers recorded so far; AnsweredSince(Seq())
// later names the hosts that answered in between.
func (r *Rotation) Seq() uint64 { return r.seq }

// AnsweredSince is the slots (a bit per slot; Key names them) of the
// hosts in rotation whose last answer came after seq (one out of
// rotation answered before it went out).
func (r *Rotation) AnsweredSince(seq uint64) uint32 {
	var m uint32
	for i := range r.key {
		if r.key[i] != 0 && !r.out[i] && r.last[i] > seq {
			m |= 1 << uint(i)
		}
	}
	return m
}

// Key is the host in slot i (0: none).
func (r *Rotation) Key(i int) uint64 { return r.key[i] }

// SetSilent marks key silent in t at now (Rotation found it out of
// rotation); it reports whether t changed.
func (t *Hosts) SetSilent(key uint64, now int64) bool {
	i := t.slot(key, now)
	if i < 0 || t.H[i].SilentSince != 0 {
		return false
	}
	t.H[i].SilentSince = now
	if t.H[i].Seen == 0 {
		t.H[i].Seen = now
	}
	return true
}
