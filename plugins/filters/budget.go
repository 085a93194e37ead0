package main

import (
	"encoding/binary"
	"strconv"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

	"github.com/detour-mesh/detour/plugins/retry"
)

// The budget's denominator, the requests the retry filters watch, is
// counted per VM in Go and published under the VM's own slot key with a
// plain write (no compare-and-swap, no read) on every change; a retry sums
// the slots. Each request so costs two host writes instead of two
// compare-and-swap loops. A VM that is reloaded takes a new slot; the old
// one keeps its last count (a larger budget, never a smaller one).

// claimSlot gives this VM its slot for the active-request count.
func (s *service) claimSlot() error {
	var n uint32
	err := update(s.bkey+"/slots", func(old []byte) []byte {
		n = 0
		if len(old) == 4 {
			n = binary.LittleEndian.Uint32(old)
		}
		binary.LittleEndian.PutUint32(s.abuf[:], n+1)
		return s.abuf[:]
	})
	s.slotKey = s.bkey + "/active/" + strconv.Itoa(int(n))
	return err
}

func (s *service) countActive(d int32) error {
	if d < 0 && s.active == 0 {
		return nil
	}
	s.active = uint32(int32(s.active) + d)
	binary.LittleEndian.PutUint32(s.abuf[:], s.active)
	return proxywasm.SetSharedData(s.slotKey, s.abuf[:], 0)
}

// totalActive sums every VM's active-request count.
func (s *service) totalActive() (uint32, error) {
	b, _, err := proxywasm.GetSharedData(s.bkey + "/slots")
	if err != nil || len(b) != 4 {
		return s.active, nil
	}
	n := binary.LittleEndian.Uint32(b)
	var total uint32
	for i := range n {
		v, _, err := proxywasm.GetSharedData(s.bkey + "/active/" + strconv.Itoa(int(i)))
		if err == nil && len(v) == 4 {
			total += binary.LittleEndian.Uint32(v)
		}
	}
	return total, nil
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
