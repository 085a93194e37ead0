package envoy

import (
	"fmt"
	"strconv"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	prevprio "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/priority/previous_priorities/v3"

	"github.com/detour-mesh/detour/harness/simulator/envoy/internal/retry"
)

// A route's retry policy as the router uses it
// (source/common/router/config_impl.cc RetryPolicyImpl,
// source/common/router/retry_state_impl.cc).

type retryPolicy struct {
	on               retry.On
	numRetries       uint32
	perTry           time.Duration
	codes            []uint32
	base, max        time.Duration
	previousHosts    bool
	hostSelectionMax int64
	// prioFreq is previous_priorities' update_frequency (0: no retry priority).
	prioFreq       int
	headers        []*headerMatcher
	requestHeaders []*headerMatcher
}

// appliesTo is the retriable_request_headers gate: with matchers, only a
// request one of them matches may be retried.
func (p *retryPolicy) appliesTo(headers [][2]string) bool {
	if len(p.requestHeaders) == 0 {
		return true
	}
	for _, hm := range p.requestHeaders {
		if hm.matches(headers) {
			return true
		}
	}
	return false
}

// retriableHeaders reports whether one of retriable_headers matches the
// response (its :status included).
func (p *retryPolicy) retriableHeaders(status int, headers [][2]string) bool {
	if len(p.headers) == 0 {
		return false
	}
	all := append([][2]string{{":status", strconv.Itoa(status)}}, headers...)
	for _, hm := range p.headers {
		if hm.matches(all) {
			return true
		}
	}
	return false
}

// rejectError is configuration Envoy's proto validation refuses.
type rejectError struct{ msg string }

func (e rejectError) Error() string { return e.msg }

// compileRetry keeps what it understands and warns about the rest; it
// fails on what Envoy rejects.
func compileRetry(rp *routev3.RetryPolicy, warn func(string)) (*retryPolicy, error) {
	on, err := retry.Parse(rp.GetRetryOn())
	if err != nil {
		warn("retry_on: " + err.Error() + " (ignored)")
	}
	p := &retryPolicy{on: on, numRetries: 1, codes: rp.GetRetriableStatusCodes(),
		hostSelectionMax: rp.GetHostSelectionRetryMaxAttempts()}
	if rp.GetNumRetries() != nil {
		p.numRetries = rp.GetNumRetries().GetValue()
	}
	if rp.GetPerTryTimeout() != nil {
		p.perTry = rp.GetPerTryTimeout().AsDuration()
	}
	if bo := rp.GetRetryBackOff(); bo != nil {
		p.base = bo.GetBaseInterval().AsDuration()
		if bo.GetMaxInterval() != nil {
			p.max = bo.GetMaxInterval().AsDuration()
		}
	}
	if p.base == 0 {
		p.base = 25 * time.Millisecond
	}
	if p.max == 0 {
		p.max = 10 * p.base
	}
	// The route's retry extensions are looked up by their typed config's
	// type, and a miss rejects the route configuration
	// (source/common/router/config_impl.cc, RetryPolicyImpl:
	// getAndCheckFactory, extensionType); their names must not be empty
	// (route_components.proto: min_len 1). Istio emits previous_hosts
	// and previous_priorities.
	for i, hp := range rp.GetRetryHostPredicate() {
		if hp.GetName() == "" {
			return nil, rejectError{fmt.Sprintf("route.retry_policy.retry_host_predicate[%d].name: must not be empty", i)}
		}
		switch t, _ := extensionType(hp.GetTypedConfig()); t {
		case "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate":
			p.previousHosts = true
		case "envoy.extensions.retry.host.omit_canary_hosts.v3.OmitCanaryHostsPredicate":
			// Rejects hosts whose metadata marks them canary
			// (envoy.lb canary: true); no simulated host is one.
		case "envoy.extensions.retry.host.omit_host_metadata.v3.OmitHostMetadataConfig":
			warn("retry_host_predicate omit_host_metadata: not modelled (ignored)")
		default:
			return nil, rejectError{fmt.Sprintf("route.retry_policy.retry_host_predicate[%d] %q: no registered retry host predicate for type %q (Envoy registers previous_hosts, omit_canary_hosts and omit_host_metadata, found by their typed_config)",
				i, hp.GetName(), t)}
		}
	}
	if pr := rp.GetRetryPriority(); pr != nil {
		if pr.GetName() == "" {
			return nil, rejectError{"route.retry_policy.retry_priority.name: must not be empty"}
		}
		if t, _ := extensionType(pr.GetTypedConfig()); t != "envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig" {
			return nil, rejectError{fmt.Sprintf("route.retry_policy.retry_priority %q: no registered retry priority for type %q (Envoy registers only previous_priorities, found by its typed_config)",
				pr.GetName(), t)}
		}
		var c prevprio.PreviousPrioritiesConfig
		if err := extensionConfig(pr.GetTypedConfig(), &c); err != nil {
			return nil, rejectError{"route.retry_policy.retry_priority: " + err.Error()}
		}
		p.prioFreq = int(c.GetUpdateFrequency())
		if p.prioFreq <= 0 {
			// previous_priorities_config.proto: update_frequency gt 0.
			return nil, rejectError{"route.retry_policy.retry_priority: previous_priorities update_frequency must be greater than 0, got " + strconv.Itoa(p.prioFreq)}
		}
	}
	for _, h := range rp.GetRetriableHeaders() {
		hm, err := compileHeader(h)
		if err != nil {
			warn("retriable_headers: " + err.Error() + " (ignored)")
			continue
		}
		p.headers = append(p.headers, hm)
	}
	// retriable_request_headers: the policy applies only to requests one
	// of them matches (retry_state_impl.cc, RetryStateImpl::create).
	for _, h := range rp.GetRetriableRequestHeaders() {
		hm, err := compileHeader(h)
		if err != nil {
			warn("retriable_request_headers: " + err.Error() + " (ignored)")
			continue
		}
		p.requestHeaders = append(p.requestHeaders, hm)
	}
	return p, nil
}
