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
// failure, counts to reset, and on one success in hostSample to keep a
// healthy host's last-seen time.

const hostSample = 8

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
	if o == outlier.Success && !fresh && silent == 0 && !s.hostDirty[i] && p.random(partOutlier)%hostSample != 0 {
		return nil
	}
	now := nowMs()
	var before, after [2]int
	ejected := false
	err = update(s.hkeys[i], func(old []byte) []byte {
		s.hosts.Decode(old)
		before[0], before[1] = s.hosts.Count(now)
		var changed bool
		changed, ejected = s.det.ObserveHost(&s.hosts, key, o, now)
		for j := range outlier.MaxHosts {
			if silent&(1<<uint(j)) != 0 && s.hosts.SetSilent(s.rot[i].Key(j), now) {
				changed = true
			}
		}
		after[0], after[1] = s.hosts.Count(now)
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

// hostCounts reads target i's host table: hosts counted and ejected at now.
func (s *service) hostCounts(i int, now int64) (known, out int) {
	b, _, err := getSharedData(s.hkeys[i])
	if err != nil {
		return 0, 0
	}
	s.hosts.Decode(b)
	s.hostDirty[i] = s.hosts.Dirty()
	return s.hosts.Count(now)
}

// tickHosts (outlier root, every tick) returns hosts whose ejection is
// over and forgets hosts gone; every VM re-reads when a count moved.
func (s *service) tickHosts(now int64) error {
	moved := false
	for i := range s.hkeys {
		var known, out int
		err := update(s.hkeys[i], func(old []byte) []byte {
			s.hosts.Decode(old)
			changed := s.det.ExpireHosts(&s.hosts, now)
			known, out = s.hosts.Count(now)
			if !changed {
				return nil
			}
			return s.hosts.Encode(s.hbuf[:])
		})
		if err != nil {
			return err
		}
		// Counts also move as hosts age out: compared with what this VM
		// last saw, not only with the table's writes.
		h := &s.health[i]
		if int(h.Hosts) != known || int(h.HostsOut) != out {
			h.Hosts, h.HostsOut = uint16(known), uint16(out)
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
