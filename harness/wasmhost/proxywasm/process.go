package proxywasm

import (
	"fmt"
	"sync"
	"time"

	"github.com/detour-mesh/detour/harness/wasmhost/vclock"
)

// Process is the state an Envoy process shares between its worker VMs:
// shared data and queues (keyed by vm_id), stats, and the log. It owns the
// virtual clock all VMs' asynchronous events run on.
type Process struct {
	Clock *vclock.Clock
	// LogLevel drops log entries below it (Envoy's wasm logger level).
	LogLevel LogLevel
	// HTTPCalls answers proxy_http_call; nil means no cluster exists.
	HTTPCalls HTTPCallHandler
	// Node is what xds.node.* reports.
	Node Node
	// Trace, if set, sees every callback into a VM (vm_id, worker, export
	// name, context id), for tests and debugging.
	Trace func(vmID string, worker int, callback string, ctxID uint32)
	// HostCall, if set, sees every import a guest calls ("env.proxy_log",
	// "wasi.clock_time_get", ...), for tests and benchmarks that count the
	// host calls a request costs.
	HostCall func(vmID string, worker int, fn string)
	// StaleSharedData, if set, is asked on every proxy_get_shared_data of
	// a key written at least twice; when it returns true the guest gets the
	// value and cas from before the latest write, as if that write (another
	// worker's) landed between this get and the guest's next set. A guest
	// that passes the cas back then gets CAS_MISMATCH and must re-read; one
	// that ignores it loses that write. Test-only: Envoy's workers race for
	// real, this host runs them one at a time.
	StaleSharedData func(vmID, key string) bool

	mu        sync.Mutex
	cas       uint32
	shared    map[string]map[string]*sharedValue
	queueIDs  map[[2]string]uint32
	queues    map[uint32]*queue
	nextQueue uint32
	Stats     *Stats

	logs  []LogEntry
	traps []Trap
	calls []HTTPCallRecord
}

// Node is the Envoy node identity.
type Node struct {
	ID, Cluster           string
	Region, Zone, SubZone string
	Metadata              map[string]any
}

// NewProcess returns an empty process on clock (a new one if nil).
func NewProcess(clock *vclock.Clock) *Process {
	if clock == nil {
		clock = vclock.New(time.Time{})
	}
	return &Process{
		Clock:     clock,
		LogLevel:  LogInfo,
		cas:       1,
		shared:    map[string]map[string]*sharedValue{},
		queueIDs:  map[[2]string]uint32{},
		queues:    map[uint32]*queue{},
		nextQueue: 1,
		Stats:     newStats(),
	}
}

// --- shared data (cpp-host shared_data.cc) --------------------------------

type sharedValue struct {
	value []byte
	cas   uint32
	// The version before the latest write (StaleSharedData).
	prev    []byte
	prevCas uint32
}

// nextCas is cpp-host's global counter: never 0.
func (p *Process) nextCas() uint32 {
	c := p.cas
	p.cas++
	if p.cas == 0 {
		p.cas++
	}
	return c
}

// GetSharedData returns a copy of the value and its cas.
func (p *Process) GetSharedData(vmID, key string) ([]byte, uint32, Status) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.shared[vmID][key]
	if !ok {
		return nil, 0, StatusNotFound
	}
	return append([]byte(nil), v.value...), v.cas, StatusOK
}

// guestGetSharedData is GetSharedData for a guest's call, where the
// StaleSharedData knob applies.
func (p *Process) guestGetSharedData(vmID, key string) ([]byte, uint32, Status) {
	if p.StaleSharedData != nil {
		p.mu.Lock()
		var prev []byte
		var prevCas uint32
		if v, ok := p.shared[vmID][key]; ok {
			prev, prevCas = append([]byte(nil), v.prev...), v.prevCas
		}
		p.mu.Unlock()
		// The knob runs unlocked: it may read the shared data itself.
		if prevCas != 0 && p.StaleSharedData(vmID, key) {
			return prev, prevCas, StatusOK
		}
	}
	return p.GetSharedData(vmID, key)
}

// SetSharedData stores value. cas 0 always overwrites; otherwise it must
// match the stored cas. A missing key is always created.
func (p *Process) SetSharedData(vmID, key string, value []byte, cas uint32) Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.shared[vmID]
	if m == nil {
		m = map[string]*sharedValue{}
		p.shared[vmID] = m
	}
	if v, ok := m[key]; ok {
		if cas != 0 && cas != v.cas {
			return StatusCasMismatch
		}
		v.prev, v.prevCas = v.value, v.cas
		v.value = append([]byte(nil), value...)
		v.cas = p.nextCas()
		return StatusOK
	}
	m[key] = &sharedValue{value: append([]byte(nil), value...), cas: p.nextCas()}
	return StatusOK
}

// SharedDataKeys lists (key, value) for vmID, for reports.
func (p *Process) SharedData(vmID string) map[string][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range p.shared[vmID] {
		out[k] = append([]byte(nil), v.value...)
	}
	return out
}

// --- shared queues ----------------------------------------------------------

type queue struct {
	vmID  string
	items [][]byte
	owner *Root
}

// registerQueue binds (vmID, name) to root; the last registrant owns it, as
// in cpp-host, and re-registering keeps the id.
func (p *Process) registerQueue(vmID, name string, owner *Root) uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := [2]string{vmID, name}
	id, ok := p.queueIDs[key]
	if !ok {
		id = p.nextQueue
		p.nextQueue++
		p.queueIDs[key] = id
		p.queues[id] = &queue{vmID: vmID}
	}
	p.queues[id].owner = owner
	return id
}

func (p *Process) resolveQueue(vmID, name string) (uint32, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id, ok := p.queueIDs[[2]string{vmID, name}]
	return id, ok
}

// enqueue appends and posts on_queue_ready to the owner's event loop: it
// never runs inside the enqueuing call.
func (p *Process) enqueue(id uint32, value []byte) Status {
	p.mu.Lock()
	q, ok := p.queues[id]
	if !ok {
		p.mu.Unlock()
		return StatusNotFound
	}
	q.items = append(q.items, append([]byte(nil), value...))
	owner := q.owner
	p.mu.Unlock()
	if owner != nil {
		p.Clock.Post(func() {
			vm := owner.vm
			if vm.failed || owner.done {
				return
			}
			vm.call("proxy_on_queue_ready", vm.fn.onQueueReady, owner.id, uint64(owner.id), uint64(id))
		})
	}
	return StatusOK
}

func (p *Process) dequeue(id uint32) ([]byte, Status) {
	p.mu.Lock()
	defer p.mu.Unlock()
	q, ok := p.queues[id]
	if !ok {
		return nil, StatusNotFound
	}
	if len(q.items) == 0 {
		return nil, StatusEmpty
	}
	v := q.items[0]
	q.items = q.items[1:]
	return v, StatusOK
}

// --- logs, traps, http calls -----------------------------------------------

// LogEntry is one log line a plugin produced (proxy_log or WASI stdout/
// stderr).
type LogEntry struct {
	Time    time.Time `json:"-"`
	At      string    `json:"at"`
	Worker  int       `json:"worker"`
	Plugin  string    `json:"plugin,omitempty"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
	// Envoy is the line Envoy's log would contain.
	Envoy string `json:"envoy"`
	// Stream is the stream whose context logged it, if any.
	Stream *StreamInfo `json:"-"`
}

func (p *Process) log(vm *VM, root *Root, level LogLevel, msg string) {
	p.logFrom(vm, root, nil, level, msg)
}

func (p *Process) logFrom(vm *VM, root *Root, stream *StreamInfo, level LogLevel, msg string) {
	if level < p.LogLevel {
		return
	}
	prefix, plugin := "", ""
	if root != nil {
		plugin = root.cfg.Name
		for _, s := range []string{root.cfg.Name, root.cfg.RootID} {
			if s != "" {
				prefix += " " + s
			}
		}
	}
	if vm.cfg.VMID != "" {
		prefix += " " + vm.cfg.VMID
	}
	now := p.Clock.Now()
	e := LogEntry{
		Time: now, At: p.since(now), Worker: vm.cfg.Worker, Plugin: plugin, Level: level.String(), Message: msg,
		Envoy: fmt.Sprintf("wasm log%s: %s", prefix, msg), Stream: stream,
	}
	p.mu.Lock()
	p.logs = append(p.logs, e)
	p.mu.Unlock()
}

func (p *Process) since(t time.Time) string { return t.Sub(p.Clock.Start()).String() }

// Logs returns every log entry so far.
func (p *Process) Logs() []LogEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]LogEntry(nil), p.logs...)
}

func (p *Process) recordTrap(t Trap) {
	t.At = p.since(t.Time)
	p.mu.Lock()
	p.traps = append(p.traps, t)
	p.mu.Unlock()
}

// Traps returns every VM failure so far.
func (p *Process) Traps() []Trap {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Trap(nil), p.traps...)
}

// HTTPCallRecords returns every accepted proxy_http_call so far.
func (p *Process) HTTPCallRecords() []HTTPCallRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]HTTPCallRecord(nil), p.calls...)
}
