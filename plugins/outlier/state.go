package outlier

import "encoding/binary"

// State is a service's failover state.
type State uint8

const (
	// Primary: every target healthy, traffic where the configuration puts it.
	Primary State = iota
	// Degraded: a target is failing or a non-preferred target is out;
	// traffic still flows as configured.
	Degraded
	// FailedOver: a target that normally takes traffic is ejected; its
	// share goes elsewhere.
	FailedOver
	// FailingBack: every preferred target is back and at least one is still
	// in hold-down or on the ramp.
	FailingBack
)

var stateNames = [...]string{"PRIMARY", "DEGRADED", "FAILED_OVER", "FAILING_BACK"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "UNKNOWN"
}

// States lists every state, in gauge-value order.
var States = [...]State{Primary, Degraded, FailedOver, FailingBack}

// View summarises the targets for the state machine.
type View struct {
	// PreferredOut: a target that takes traffic when all are healthy is ejected.
	PreferredOut bool
	// Ramping: a recovered target is in hold-down or not yet at 100 %.
	Ramping bool
	// AnyOut: some target is ejected; AnyFailing: some target has counted failures.
	AnyOut, AnyFailing bool
}

// Next is the state the view calls for. The order of the checks makes the
// cycle PRIMARY → DEGRADED → FAILED_OVER → FAILING_BACK → PRIMARY: failures
// degrade, an ejection of a preferred target fails over, its recovery fails
// back while the ramp runs, and the ramp's end returns to PRIMARY.
func Next(v View) State {
	switch {
	case v.PreferredOut:
		return FailedOver
	case v.Ramping:
		return FailingBack
	case v.AnyOut || v.AnyFailing:
		return Degraded
	}
	return Primary
}

// ServiceRecord is a service's shared state: the current State since when,
// and Gen, raised on every change of any target's ejection so VMs know when
// to re-read the targets.
type ServiceRecord struct {
	State State
	Since int64
	Gen   uint64
}

// ServiceRecordSize is the encoded size of a ServiceRecord.
const ServiceRecordSize = 1 + 1 + 8 + 8

// Encode writes s into b (len(b) >= ServiceRecordSize).
func (s *ServiceRecord) Encode(b []byte) []byte {
	b = b[:ServiceRecordSize]
	b[0] = recordVersion
	b[1] = byte(s.State)
	binary.LittleEndian.PutUint64(b[2:], uint64(s.Since))
	binary.LittleEndian.PutUint64(b[10:], s.Gen)
	return b
}

// Decode reads a ServiceRecord; anything else decodes as PRIMARY, Gen 0.
func (s *ServiceRecord) Decode(b []byte) {
	*s = ServiceRecord{}
	if len(b) != ServiceRecordSize || b[0] != recordVersion || b[1] > byte(FailingBack) {
		return
	}
	s.State = State(b[1])
	s.Since = int64(binary.LittleEndian.Uint64(b[2:]))
	s.Gen = binary.LittleEndian.Uint64(b[10:])
}
