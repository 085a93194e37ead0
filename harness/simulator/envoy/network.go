// Package envoy models Envoy's data plane (route matching, the router's
// retries, native outlier detection, priority load, panic threshold,
// locality weights, connect timeouts, the HTTP filter chain) over the xDS a
// proxy receives (harness/simulator/xds), on the virtual clock (harness/wasmhost/vclock).
//
// The model does not know the topology: what happens on the wire is asked of
// a Network, which the simulator (harness/simulator/sim) builds from the scenario's
// clusters, gateways, endpoints and faults.
package envoy

import "time"

// Outcomes of one upstream attempt, as the proxy's connection pool and
// codec would see them. Each maps onto Envoy's response flags and outlier
// detector results (see the model's router).
const (
	// OutcomeResponse: a response arrived (Status is set) after Latency.
	OutcomeResponse = "response"
	// OutcomeConnectFailure: the connection was refused at once (a scaled-
	// to-zero gateway): UF, local-origin connect failure.
	OutcomeConnectFailure = "connect_failure"
	// OutcomeConnectTimeout: no answer to the connect (partition); the
	// cluster's connect_timeout decides when the proxy gives up: UF.
	OutcomeConnectTimeout = "connect_timeout"
	// OutcomeHandshakeFailure: TCP connected but the peer closed the
	// connection during the TLS handshake (an east-west gateway with no
	// filter chain for the SNI) after Latency. The pool never saw the
	// connection complete, so Envoy reports a remote connection failure:
	// UF, a local-origin connect failure, retried under connect-failure
	// (source/common/conn_pool/conn_pool_base.cc onConnectionEvent: a close
	// before the handshake completed is PoolFailureReason::
	// RemoteConnectionFailure; the TLS socket raises Connected only once
	// the handshake is done, source/common/tls/ssl_socket.cc).
	OutcomeHandshakeFailure = "handshake_failure"
	// OutcomeReset: the connection was reset after Latency (before or
	// without response headers): UR / upstream reset.
	OutcomeReset = "reset"
	// OutcomeHang: nothing ever comes back; the per-try or route timeout
	// ends the attempt (UT).
	OutcomeHang = "hang"
)

// Attempt is one request attempt the proxy sends to one upstream host.
type Attempt struct {
	// Proxy is the simulated proxy sending it (the scenario's name for it).
	Proxy string
	// Cluster is the Envoy cluster (e.g. outbound|9080|v1|reviews.default.svc.cluster.local).
	Cluster string
	// Address is the host's socket address (ip:port) from EDS.
	Address string
	// Metadata of the host from EDS (Istio's filter metadata: network, cluster, ...),
	// flattened to "filter.key" → value.
	Metadata map[string]string
	Headers  [][2]string
	Body     []byte
	// Number is 1 for the first attempt, 2 for the first retry, ...
	Number int
}

// Result is what the wire did with an attempt.
type Result struct {
	Outcome string
	// Latency is the time until the response (or reset) arrives.
	Latency time.Duration
	Status  int
	Headers [][2]string
	Body    []byte
	// Cause explains the outcome for the report ("cluster-2 ingress scaled to 0").
	Cause string
	// Reset is the reset reason of OutcomeReset: ResetRemote (default, UR),
	// ResetConnectionTermination (the peer closed the connection, UC) or
	// ResetRefusedStream (HTTP/2 REFUSED_STREAM, retried under
	// refused-stream).
	Reset string
}

// Network is the simulated world behind the proxies.
type Network interface {
	// Send decides, at the current virtual time, the result of an attempt.
	Send(now time.Time, a *Attempt) Result
}
