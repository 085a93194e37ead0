package envoy

import (
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	prevhosts "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	prevprio "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/priority/previous_priorities/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/anypb"
)

// A retry_priority whose factory Envoy does not find, by its typed
// config's type or by its name, rejects the route configuration
// (source/common/router/config_impl.cc RetryPolicyImpl:
// getAndCheckFactory<RetryPriorityFactory>, "Didn't find a registered
// implementation"); an empty name fails validation first
// (route_components.proto: name min_len 1). Istio's generator emits only
// envoy.retry_priorities.previous_priorities with its typed config
// (pilot/pkg/networking/core/route/retry).
func TestRetryPriorityUnknownRejected(t *testing.T) {
	prio, err := anypb.New(&prevprio.PreviousPrioritiesConfig{UpdateFrequency: 2})
	require.NoError(t, err)
	other, err := anypb.New(&prevhosts.PreviousHostsPredicate{})
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		priority *routev3.RetryPolicy_RetryPriority
		err      string
	}{
		{"istio's", &routev3.RetryPolicy_RetryPriority{Name: "envoy.retry_priorities.previous_priorities",
			ConfigType: &routev3.RetryPolicy_RetryPriority_TypedConfig{TypedConfig: prio}}, ""},
		{"unknown name, no config", &routev3.RetryPolicy_RetryPriority{Name: "envoy.retry_priorities.other"},
			`unknown extension "envoy.retry_priorities.other"`},
		{"unknown name and type", &routev3.RetryPolicy_RetryPriority{Name: "acme",
			ConfigType: &routev3.RetryPolicy_RetryPriority_TypedConfig{TypedConfig: other}},
			`unknown extension "acme" (typed_config "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate")`},
		{"empty name", &routev3.RetryPolicy_RetryPriority{
			ConfigType: &routev3.RetryPolicy_RetryPriority_TypedConfig{TypedConfig: prio}}, "retry_priority.name: must not be empty"},
	} {
		_, err := compileRetry(&routev3.RetryPolicy{RetryOn: "5xx", RetryPriority: tc.priority}, func(string) {})
		if tc.err == "" {
			assert.NoError(t, err, tc.name)
			continue
		}
		var rej rejectError
		assert.ErrorAs(t, err, &rej, tc.name)
		assert.ErrorContains(t, err, tc.err, tc.name)
	}
}
