// Package proxywasm is a proxy-wasm ABI 0.2.x host on wazero that behaves
// like Envoy 1.33+ (proxy-wasm-cpp-host), not like the spec or the SDK's
// proxytest where they disagree. See harness/wasmhost/README.md for the checklist.
//
// The package is the ABI layer only: it owns VMs, contexts, header maps,
// buffers, shared data, queues, metrics, properties and the asynchronous
// events a VM raises. The HTTP filter chain and router live in
// harness/httpsim; the exchange-file runner in harness/wasmhost/exchange.
package proxywasm

// Status is proxy_status_t (cpp-host WasmResult).
type Status uint32

const (
	StatusOK                   Status = 0
	StatusNotFound             Status = 1
	StatusBadArgument          Status = 2
	StatusSerializationFailure Status = 3
	StatusParseFailure         Status = 4
	StatusInvalidMemoryAccess  Status = 6
	StatusEmpty                Status = 7
	StatusCasMismatch          Status = 8
	StatusInternalFailure      Status = 10
	StatusBrokenConnection     Status = 11
	StatusUnimplemented        Status = 12
)

// Action is proxy_action_t as returned by the header/body/trailer callbacks.
type Action uint32

const (
	ActionContinue Action = 0
	ActionPause    Action = 1
)

// LogLevel is proxy_log_level_t.
type LogLevel int

const (
	LogTrace LogLevel = iota
	LogDebug
	LogInfo
	LogWarn
	LogError
	LogCritical
)

var levelNames = [...]string{"trace", "debug", "info", "warn", "error", "critical"}

func (l LogLevel) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return "unknown"
	}
	return levelNames[l]
}

// ParseLogLevel accepts the names String returns.
func ParseLogLevel(s string) (LogLevel, bool) {
	for i, n := range levelNames {
		if n == s {
			return LogLevel(i), true
		}
	}
	return 0, false
}

// MapType is proxy_map_type_t.
type MapType uint32

const (
	MapRequestHeaders MapType = iota
	MapRequestTrailers
	MapResponseHeaders
	MapResponseTrailers
	MapGrpcInitialMetadata
	MapGrpcTrailingMetadata
	MapHTTPCallResponseHeaders
	MapHTTPCallResponseTrailers
)

// BufferType is proxy_buffer_type_t.
type BufferType uint32

const (
	BufferRequestBody BufferType = iota
	BufferResponseBody
	BufferDownstreamData
	BufferUpstreamData
	BufferHTTPCallResponseBody
	BufferGrpcReceive
	BufferVMConfiguration
	BufferPluginConfiguration
	BufferForeignFunctionArguments
)

// StreamType is proxy_stream_type_t.
type StreamType uint32

const (
	StreamRequest StreamType = iota
	StreamResponse
	StreamDownstream
	StreamUpstream
)

// MetricType is proxy_metric_type_t; Envoy stores it in an id's low 2 bits.
type MetricType uint32

const (
	MetricCounter MetricType = iota
	MetricGauge
	MetricHistogram
)

const metricTypeMask = 0x3

func (t MetricType) String() string {
	switch t {
	case MetricCounter:
		return "counter"
	case MetricGauge:
		return "gauge"
	case MetricHistogram:
		return "histogram"
	}
	return "unknown"
}

// WASI errno values the shims return.
const (
	errnoSuccess    = 0
	errnoBadf       = 8
	errnoFault      = 21
	errnoInval      = 28
	errnoNoent      = 44
	errnoNosys      = 52
	errnoNotsup     = 58
	errnoNotcapable = 76
)

// ABI markers, most preferred first (cpp-host takes the first one it finds).
const (
	ABI021 = "proxy_abi_version_0_2_1"
	ABI020 = "proxy_abi_version_0_2_0"
	ABI010 = "proxy_abi_version_0_1_0"
)

// FailurePolicy is the filter's failure_policy (Istio failStrategy).
type FailurePolicy int

const (
	// FailReload is Envoy 1.33+'s default: fail closed, then recreate the
	// VM for new streams once the backoff has elapsed.
	FailReload FailurePolicy = iota
	FailClosed
	FailOpen
)

func (p FailurePolicy) String() string {
	switch p {
	case FailOpen:
		return "FAIL_OPEN"
	case FailClosed:
		return "FAIL_CLOSED"
	}
	return "FAIL_RELOAD"
}

// ParseFailurePolicy accepts Envoy and Istio spellings.
func ParseFailurePolicy(s string) (FailurePolicy, bool) {
	switch s {
	case "", "FAIL_RELOAD":
		return FailReload, true
	case "FAIL_CLOSED", "FAIL_CLOSE":
		return FailClosed, true
	case "FAIL_OPEN":
		return FailOpen, true
	}
	return 0, false
}
