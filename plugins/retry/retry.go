// Package retry is the decision core of Detour's retry filter: whether a
// failed response is retried on the next target of the ladder, and the
// retry budget every worker VM shares. It is plain Go (no proxy-wasm
// import) and allocates nothing per request.
//
// The retriable conditions follow Envoy's router
// (source/common/router/retry_state_impl.cc, wouldRetryFromHeaders and
// wouldRetryFromReset); the budget follows RetryBudgetImpl in
// source/common/upstream/resource_manager_impl.h: at most
// max(percent × active requests, min concurrency) retries in flight.
package retry

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/detour-mesh/detour/plugins/config"
	"github.com/detour-mesh/detour/plugins/outlier"
)

// Condition bits of retryOn.
const (
	On5xx uint32 = 1 << iota
	OnGatewayError
	OnReset
	OnConnectFailure
	OnRefusedStream
	OnRetriable4xx
	OnStatusCodes
)

var conditions = map[string]uint32{
	"5xx": On5xx, "gateway-error": OnGatewayError, "reset": OnReset, "reset-before-request": OnReset,
	"connect-failure": OnConnectFailure, "refused-stream": OnRefusedStream, "retriable-4xx": OnRetriable4xx,
	"retriable-status-codes": OnStatusCodes,
}

// Methods an HTTP request may use, as bits.
var methodBits = map[string]uint16{
	"GET": 1, "HEAD": 2, "OPTIONS": 4, "PUT": 8, "DELETE": 16, "POST": 32, "PATCH": 64, "TRACE": 128, "CONNECT": 256,
}

// Policy is the retry filter's configuration, preprocessed.
type Policy struct {
	Attempts      uint32
	PerTryTimeout uint32 // ms
	MaxBody       uint32
	on            uint32
	codes         [10]uint64 // retriable status codes 0..639
	methods       uint16
	budgetPct     float64
	budgetMin     uint32
}

// NewPolicy preprocesses config.Retry. Conditions it does not model
// (gRPC statuses, retriable-headers, ...) never trigger a retry: the
// filter does not retry gRPC requests (plugins/filters/grpc.go), and
// Envoy's own retries within a target keep the route's gRPC conditions.
func NewPolicy(r config.Retry) (Policy, error) {
	p := Policy{Attempts: r.Attempts, PerTryTimeout: r.PerTryTimeoutMs, MaxBody: r.MaxBodyBytes,
		budgetPct: r.BudgetPercent, budgetMin: r.BudgetMinConcurrency}
	if p.MaxBody == 0 {
		p.MaxBody = config.DefaultMaxBodyBytes
	}
	for i, c := range r.RetryOn {
		if b, ok := conditions[c]; ok {
			p.on |= b
			continue
		}
		if n, err := strconv.Atoi(c); err == nil && n >= 100 && n <= 599 {
			p.on |= OnStatusCodes
			p.codes[n/64] |= 1 << uint(n%64)
			continue
		}
		if len(c) == 0 {
			return Policy{}, fmt.Errorf("plugin config: retry.retryOn[%d]: empty condition", i)
		}
	}
	for i, m := range r.Methods {
		b, ok := methodBits[m]
		if !ok {
			return Policy{}, fmt.Errorf("plugin config: retry.methods[%d]: %q is not an HTTP method", i, m)
		}
		p.methods |= b
	}
	return p, nil
}

// MethodAllowed reports whether requests with method may be retried.
func (p *Policy) MethodAllowed(method string) bool {
	b, ok := methodBits[method]
	return ok && p.methods&b != 0
}

// Retriable reports whether a response (code, Envoy response flags, reset
// before a response) calls for a retry under the policy.
func (p *Policy) Retriable(code int, flags uint64, reset bool) bool {
	resetLike := reset || code == 0 || flags&(outlier.FlagUpstreamRemoteReset|outlier.FlagLocalReset|
		outlier.FlagUpstreamConnectionTermination|outlier.FlagUpstreamRequestTimeout) != 0
	connect := flags&(outlier.FlagUpstreamConnectionFailure|outlier.FlagNoHealthyUpstream|outlier.FlagNoClusterFound) != 0
	// Envoy never retries an overflow: the cluster's breakers refused the
	// request itself. But UO next to an upstream failure (UF, UC, UR, ...)
	// is the router refusing its own retry of that failure for its retry
	// budget (router.cc, RetryStatus::NoOverflow): the failure is the
	// target's, and another target may answer it.
	if p.Attempts == 0 || (flags&outlier.FlagUpstreamOverflow != 0 && !connect && flags&resetFlags == 0) {
		return false
	}
	switch {
	case (resetLike || connect) && p.on&(On5xx|OnGatewayError|OnReset) != 0:
		return true
	case connect && p.on&OnConnectFailure != 0:
		return true
	case code >= 500 && code <= 599 && p.on&On5xx != 0:
		return true
	case code >= 502 && code <= 504 && p.on&OnGatewayError != 0:
		return true
	case code == 409 && p.on&OnRetriable4xx != 0:
		return true
	case code > 0 && code < 640 && p.on&OnStatusCodes != 0 && p.codes[code/64]&(1<<uint(code%64)) != 0:
		return true
	}
	return false
}

// Unsent reports whether a failure, by its Envoy response flags, never
// reached a server: the connection failed (UF), no host was healthy (UH)
// or the cluster did not exist (NC). Retrying it adds no load anywhere, so
// the budget, which bounds retry amplification, does not count it: when a
// zone goes down every request in flight fails at once, and a budget of
// min concurrency 3 would turn all but three of them into errors.
func Unsent(flags uint64) bool {
	return flags&(outlier.FlagUpstreamConnectionFailure|outlier.FlagNoHealthyUpstream|outlier.FlagNoClusterFound) != 0
}

// resetFlags are the upstream failures a response flag can report.
const resetFlags = outlier.FlagUpstreamRemoteReset | outlier.FlagLocalReset | outlier.FlagUpstreamConnectionTermination | outlier.FlagUpstreamRequestTimeout

// Budget is the shared retry accounting: requests the retry filter
// watches and retries in flight, across every worker VM.
type Budget struct {
	Active  uint32
	Retries uint32
}

// BudgetSize is the encoded size of a Budget.
const BudgetSize = 8

// Encode writes b into buf (len >= BudgetSize).
func (b *Budget) Encode(buf []byte) []byte {
	buf = buf[:BudgetSize]
	binary.LittleEndian.PutUint32(buf, b.Active)
	binary.LittleEndian.PutUint32(buf[4:], b.Retries)
	return buf
}

// Decode reads a Budget; anything else is an empty budget.
func (b *Budget) Decode(buf []byte) {
	*b = Budget{}
	if len(buf) == BudgetSize {
		b.Active = binary.LittleEndian.Uint32(buf)
		b.Retries = binary.LittleEndian.Uint32(buf[4:])
	}
}

// Max is the number of retries allowed in flight with active requests:
// max(percent × active, min concurrency); with no budget configured
// (percent 0) retries are not capped.
func (p *Policy) Max(active uint32) uint32 {
	if p.budgetPct == 0 {
		return ^uint32(0)
	}
	m := uint32(p.budgetPct / 100 * float64(active))
	return max(m, p.budgetMin)
}

// TryAcquire takes a retry slot if the budget has one. Retries count as
// active requests too (Envoy: a retry is an upstream request).
func (p *Policy) TryAcquire(b *Budget) bool {
	if b.Retries >= p.Max(b.Active) {
		return false
	}
	b.Retries++
	b.Active++
	return true
}

// Release returns a retry slot.
func (b *Budget) Release() {
	if b.Retries > 0 {
		b.Retries--
	}
	if b.Active > 0 {
		b.Active--
	}
}

// Start and Done count a watched request in and out.
func (b *Budget) Start() { b.Active++ }

// Done counts a watched request out.
func (b *Budget) Done() {
	if b.Active > 0 {
		b.Active--
	}
}
