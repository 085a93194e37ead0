// Package retry is the router's retry arithmetic: retry_on parsing and the
// retry decision for a response or a reset
// (source/common/router/retry_state_impl.cc: parseRetryOn,
// wouldRetryFromHeaders, wouldRetryFromReset) and the fully jittered
// exponential back-off (source/common/common/backoff_strategy.cc,
// JitteredExponentialBackOffStrategy).
package retry

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// On is the retry_on bit set.
type On uint32

const (
	On5xx On = 1 << iota
	OnGatewayError
	OnConnectFailure
	OnRetriable4xx
	OnRefusedStream
	OnRetriableStatusCodes
	OnReset
	OnResetBeforeRequest
	OnRetriableHeaders
	OnEnvoyRateLimited
	OnHTTP3PostConnectFailure
	OnGrpcCancelled
	OnGrpcDeadlineExceeded
	OnGrpcResourceExhausted
	OnGrpcUnavailable
	OnGrpcInternal
)

var names = map[string]On{
	"5xx": On5xx, "gateway-error": OnGatewayError, "connect-failure": OnConnectFailure,
	"retriable-4xx": OnRetriable4xx, "refused-stream": OnRefusedStream,
	"retriable-status-codes": OnRetriableStatusCodes, "reset": OnReset,
	"reset-before-request": OnResetBeforeRequest, "retriable-headers": OnRetriableHeaders,
	"envoy-ratelimited": OnEnvoyRateLimited, "http3-post-connect-failure": OnHTTP3PostConnectFailure,
	"cancelled": OnGrpcCancelled, "deadline-exceeded": OnGrpcDeadlineExceeded,
	"resource-exhausted": OnGrpcResourceExhausted, "unavailable": OnGrpcUnavailable, "internal": OnGrpcInternal,
}

// Parse reads a retry_on string (comma separated, spaces ignored). Unknown
// tokens are reported in the error; the known ones are still returned, so
// a caller can warn and go on.
func Parse(s string) (On, error) {
	var on On
	var unknown []string
	for _, tok := range strings.Split(s, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		b, ok := names[tok]
		if !ok {
			unknown = append(unknown, strconv.Quote(tok))
			continue
		}
		on |= b
	}
	if len(unknown) > 0 {
		return on, fmt.Errorf("unknown retry_on condition %s", strings.Join(unknown, ", "))
	}
	return on, nil
}

// ResetReason is Http::StreamResetReason, as far as the model produces it.
type ResetReason int

const (
	ResetNone ResetReason = iota
	ConnectionFailure
	ConnectionTimeout
	ConnectionTermination
	LocalReset // per-try timeout
	RemoteReset
	RemoteRefusedStreamReset
	Overflow
)

// Response is what the retry decision reads from response headers.
type Response struct {
	Status int
	// GrpcStatus is the grpc-status header (-1 if absent).
	GrpcStatus int
	// EnvoyRateLimited: x-envoy-ratelimited is present.
	EnvoyRateLimited bool
	// Overloaded: x-envoy-overloaded is present (an upstream Envoy shed
	// the request); never retried.
	Overloaded bool
	// HeadersMatch: one of the retriable_headers matchers matched.
	HeadersMatch bool
}

// FromHeaders is wouldRetryFromHeaders.
func FromHeaders(on On, codes []uint32, r Response) bool {
	if r.Overloaded {
		return false
	}
	// Rate-limited responses from an upstream Envoy are retried only
	// under envoy-ratelimited.
	if r.EnvoyRateLimited {
		return on&OnEnvoyRateLimited != 0
	}
	st := r.Status
	if on&On5xx != 0 && st >= 500 && st < 600 {
		return true
	}
	if on&OnGatewayError != 0 && st >= 502 && st < 505 {
		return true
	}
	if on&OnRetriable4xx != 0 && st == 409 {
		return true
	}
	if on&OnRetriableStatusCodes != 0 {
		for _, c := range codes {
			if uint32(st) == c {
				return true
			}
		}
	}
	if on&OnRetriableHeaders != 0 && r.HeadersMatch {
		return true
	}
	switch r.GrpcStatus {
	case 1:
		return on&OnGrpcCancelled != 0
	case 4:
		return on&OnGrpcDeadlineExceeded != 0
	case 8:
		return on&OnGrpcResourceExhausted != 0
	case 13:
		return on&OnGrpcInternal != 0
	case 14:
		return on&OnGrpcUnavailable != 0
	}
	return false
}

// FromReset is wouldRetryFromReset. requestStarted reports whether bytes
// were sent upstream (false only for connection failures here).
func FromReset(on On, reason ResetReason, requestStarted bool) bool {
	if reason == Overflow {
		return false
	}
	if on&(On5xx|OnGatewayError|OnReset) != 0 {
		return true
	}
	if on&OnResetBeforeRequest != 0 && !requestStarted {
		return true
	}
	if on&OnRefusedStream != 0 && reason == RemoteRefusedStreamReset {
		return true
	}
	if on&OnConnectFailure != 0 && (reason == ConnectionFailure || reason == ConnectionTimeout) {
		return true
	}
	return false
}

// Backoff is JitteredExponentialBackOffStrategy: each call returns a
// uniform draw in [0, interval) where the interval starts at base and
// doubles up to max.
type Backoff struct {
	base, max, next uint64 // milliseconds
}

// NewBackoff builds the strategy; max 0 means 10*base (the router's rule).
func NewBackoff(base, max time.Duration) *Backoff {
	b := uint64(base.Milliseconds())
	m := uint64(max.Milliseconds())
	if b == 0 {
		b = 25
	}
	if m == 0 {
		m = 10 * b
	}
	return &Backoff{base: b, max: m, next: b}
}

// Next returns the next back-off given a random draw.
func (b *Backoff) Next(draw uint64) time.Duration {
	backoff := b.next
	if b.next < b.max/2 {
		b.next *= 2
	} else {
		b.next = b.max
	}
	return time.Duration(min(draw%backoff, b.max)) * time.Millisecond
}

// Bound is the exclusive upper bound of the n-th back-off (1-based).
func Bound(base, max time.Duration, n int) time.Duration {
	b := NewBackoff(base, max)
	var bound uint64
	for range n {
		bound = b.next
		b.Next(0)
	}
	return time.Duration(bound) * time.Millisecond
}
