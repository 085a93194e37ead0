package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

	"github.com/detour-mesh/detour/plugins/outlier"
)

// Host-aware health: each target's hosts are counted in a shared table
// (outlier.Hosts) from the responses' upstream.address, and the router
// gives a target with hosts out only its priority-load share
// (router.HostShare). A host is out when Envoy stopped sending it requests
// (outlier.Rotation, per VM: the trace of Envoy's own ejection) or when
// the table's own consecutive counts eject it. The table is written only
// when something changes: a host new or back, a host out of rotation, a
// failure, counts to reset. A healthy host's last-seen time (its TTL) is
// refreshed by the tick, for the hosts that answered this VM since the
// last tick (outlier.Hosts.Touch): a success on a clean table costs no
// read of it, and the time lags the answer by at most one tick period
// (≤ 1 s, against a 10 s refresh step and a 120 s TTL).

func hostsKey(host, cluster string) string { return "detour/v1/" + host + "/t/" + cluster + "/hosts" }

// observeHost counts one outcome against the host that answered target i.
func (s *service) observeHost(p *plugin, i int, o outlier.Outcome) error {
	if o == outlier.Ignored {
		return nil
	}
	addr, err := getProperty("upstream", "address")
	if err != nil || len(addr) == 0 {
		return nil // a connect failure names no host: the target's count has it
	}
	key := outlier.HostKey(addr)
	fresh, silent := s.rot[i].Answer(key)
	// A success Envoy's retry saved: an earlier attempt failed on another
	// host of the target (previous_hosts), unseen here.
	retried := false
	if o == outlier.Success {
		n, _ := propertyInt("upstream", "request_attempt_count")
		retried = n > 1
	}
	if o == outlier.Success && !retried && !fresh && silent == 0 && !s.hostDirty[i] {
		return nil // nothing to count; the tick refreshes its last-seen time
	}
	now := nowMs()
	var before, after [3]int
	ejected := false
	err = update(s.hkeys[i], func(old []byte) []byte {
		s.hosts.Decode(old)
		before[0], before[1] = s.hosts.Count(now)
		before[2] = b2i(s.hosts.Suspect(now))
		var changed bool
		changed, ejected = s.det.ObserveHost(&s.hosts, key, o, now)
		if retried && s.hosts.ObserveRetried(now) {
			changed = true
		}
		for j := range outlier.MaxHosts {
			if silent&(1<<uint(j)) != 0 && s.hosts.SetSilent(s.rot[i].Key(j), now) {
				changed = true
			}
		}
		after[0], after[1] = s.hosts.Count(now)
		after[2] = b2i(s.hosts.Suspect(now))
		s.hostDirty[i] = s.hosts.Dirty()
		if !changed {
			return nil
		}
		return s.hosts.Encode(s.hbuf[:])
	})
	if err != nil {
		return err
	}
	if ejected || silent != 0 {
		proxywasm.LogInfof("detour: %s: %s: %d of %d hosts out (last answer from %s)", s.cfg.Service.Host, s.cfg.Targets[i].Cluster, after[1], after[0], addr)
	}
	if before != after {
		return s.bumpGen()
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// hostCounts reads target i's host table: hosts counted and ejected at
// now, and whether the target is suspect.
func (s *service) hostCounts(i int, now int64) (known, out int, suspect bool) {
	b, _, err := getSharedData(s.hkeys[i])
	if err != nil {
		return 0, 0, false
	}
	s.hosts.Decode(b)
	s.hostDirty[i] = s.hosts.Dirty()
	known, out = s.hosts.Count(now)
	return known, out, s.hosts.Suspect(now)
}

// tickHosts (outlier root, every tick) returns hosts whose ejection is
// over and forgets hosts gone; every VM re-reads when a count moved.
func (s *service) tickHosts(now int64) error {
	moved := false
	for i := range s.hkeys {
		var known, out int
		var suspect bool
		// The hosts that answered this VM since the last tick: seen
		// (before expiry, which would forget one not written for a while).
		answered := s.rot[i].AnsweredSince(s.rotSeq[i])
		s.rotSeq[i] = s.rot[i].Seq()
		err := update(s.hkeys[i], func(old []byte) []byte {
			s.hosts.Decode(old)
			changed := false
			for j := range outlier.MaxHosts {
				if answered&(1<<uint(j)) != 0 && s.hosts.Touch(s.rot[i].Key(j), now) {
					changed = true
				}
			}
			changed = s.det.ExpireHosts(&s.hosts, now) || changed
			known, out = s.hosts.Count(now)
			suspect = s.hosts.Suspect(now)
			// Another VM's failure started a count here: this VM's next
			// success must reach the table to reset it, as Envoy resets
			// on any success (bounded by a tick).
			s.hostDirty[i] = s.hosts.Dirty()
			if !changed {
				return nil
			}
			return s.hosts.Encode(s.hbuf[:])
		})
		if err != nil {
			return err
		}
		// Counts also move as hosts age out, and suspicion as time
		// passes: compared with what this VM last saw, not only with the
		// table's writes.
		h := &s.health[i]
		if int(h.Hosts) != known || int(h.HostsOut) != out || h.Suspect != suspect {
			h.Hosts, h.HostsOut, h.Suspect = uint16(known), uint16(out), suspect
			moved = true
		}
	}
	if moved {
		return s.bumpGen()
	}
	return nil
}

// count feeds one outcome of target i to the detectors.
func (o *outlierStream) count(i int, oc outlier.Outcome) {
	s := o.p.svc
	if oc != outlier.Success && oc != outlier.Ignored {
		s.hostFailure(i)
	}
	if err := s.observeHost(o.p, i, oc); err != nil {
		o.p.internalError(err)
	}
	if err := s.observe(o.p, i, oc); err != nil {
		o.p.internalError(err)
	}
}

// resetHosts empties target i's host table when the whole target is
// ejected or returns: its hosts' state before (failures, hosts out of
// rotation, pods since replaced) says nothing about the target after.
func (s *service) resetHosts(i int) error {
	var empty outlier.Hosts
	return update(s.hkeys[i], func(old []byte) []byte {
		if len(old) == 0 {
			return nil
		}
		return empty.Encode(s.hbuf[:])
	})
}
