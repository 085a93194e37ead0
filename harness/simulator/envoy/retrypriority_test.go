package envoy

import (
	"testing"

	udpatype "github.com/cncf/xds/go/udpa/type/v1"
	xdstype "github.com/cncf/xds/go/xds/type/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	omitcanary "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/omit_canary_hosts/v3"
	omitmeta "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/omit_host_metadata/v3"
	prevhosts "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	prevprio "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/priority/previous_priorities/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// A retry_priority whose factory Envoy does not find by its typed
// config's type rejects the route configuration
// (source/common/router/config_impl.cc RetryPolicyImpl:
// getAndCheckFactory<RetryPriorityFactory>, "Didn't find a registered
// implementation"; extensionType); an empty name fails validation first
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
			`retry_priority "envoy.retry_priorities.other": no registered retry priority for type ""`},
		{"unknown name and type", &routev3.RetryPolicy_RetryPriority{Name: "acme",
			ConfigType: &routev3.RetryPolicy_RetryPriority_TypedConfig{TypedConfig: other}},
			`retry_priority "acme": no registered retry priority for type "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"`},
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

// Retry host predicates are looked up the same way (RetryPolicyImpl:
// getAndCheckFactory<RetryHostPredicateFactory> for each), by type, not
// name: a predicate Envoy does not register rejects the route
// configuration. Of the three
// it registers, previous_hosts is modelled (re-picks), omit_canary_hosts
// changes nothing here (no simulated host is a canary) and
// omit_host_metadata is not modelled: a warning says so.
func TestRetryHostPredicates(t *testing.T) {
	typed := func(m proto.Message) *routev3.RetryPolicy_RetryHostPredicate {
		a, err := anypb.New(m)
		require.NoError(t, err)
		return &routev3.RetryPolicy_RetryHostPredicate{ConfigType: &routev3.RetryPolicy_RetryHostPredicate_TypedConfig{TypedConfig: a}}
	}
	named := func(name string, hp *routev3.RetryPolicy_RetryHostPredicate) *routev3.RetryPolicy_RetryHostPredicate {
		hp.Name = name
		return hp
	}
	prio, err := anypb.New(&prevprio.PreviousPrioritiesConfig{UpdateFrequency: 2})
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		hp       *routev3.RetryPolicy_RetryHostPredicate
		previous bool
		warn     string
		err      string
	}{
		{"istio's", named("envoy.retry_host_predicates.previous_hosts", typed(&prevhosts.PreviousHostsPredicate{})), true, "", ""},
		{"by type", named("acme.previous", typed(&prevhosts.PreviousHostsPredicate{})), true, "", ""},
		{"by name alone", &routev3.RetryPolicy_RetryHostPredicate{Name: "envoy.retry_host_predicates.previous_hosts"}, false, "",
			`retry_host_predicate[0] "envoy.retry_host_predicates.previous_hosts": no registered retry host predicate for type ""`},
		{"the type wins over the name", named("envoy.retry_host_predicates.previous_hosts", typed(&omitcanary.OmitCanaryHostsPredicate{})), false, "", ""},
		{"in a TypedStruct", named("acme", typed(&xdstype.TypedStruct{TypeUrl: "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"})), true, "", ""},
		{"in a legacy TypedStruct", named("acme", typed(&udpatype.TypedStruct{TypeUrl: "type.googleapis.com/envoy.extensions.retry.host.omit_host_metadata.v3.OmitHostMetadataConfig"})), false, "omit_host_metadata: not modelled", ""},
		{"canary", named("envoy.retry_host_predicates.omit_canary_hosts", typed(&omitcanary.OmitCanaryHostsPredicate{})), false, "", ""},
		{"metadata", named("m", typed(&omitmeta.OmitHostMetadataConfig{})), false, "omit_host_metadata: not modelled", ""},
		{"unknown", named("acme.other_hosts", typed(&structpb.Struct{})), false, "",
			`retry_host_predicate[0] "acme.other_hosts": no registered retry host predicate for type "google.protobuf.Struct"`},
		{"another extension's type", named("acme", &routev3.RetryPolicy_RetryHostPredicate{
			ConfigType: &routev3.RetryPolicy_RetryHostPredicate_TypedConfig{TypedConfig: prio}}), false, "",
			`"acme": no registered retry host predicate for type "envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig"`},
		{"empty name", typed(&prevhosts.PreviousHostsPredicate{}), false, "", "retry_host_predicate[0].name: must not be empty"},
	} {
		var warns []string
		p, err := compileRetry(&routev3.RetryPolicy{RetryOn: "5xx", RetryHostPredicate: []*routev3.RetryPolicy_RetryHostPredicate{tc.hp}},
			func(w string) { warns = append(warns, w) })
		if tc.err != "" {
			var rej rejectError
			assert.ErrorAs(t, err, &rej, tc.name)
			assert.ErrorContains(t, err, tc.err, tc.name)
			continue
		}
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.previous, p.previousHosts, tc.name)
		if tc.warn == "" {
			assert.Empty(t, warns, tc.name)
		} else if assert.Len(t, warns, 1, tc.name) {
			assert.Contains(t, warns[0], tc.warn, tc.name)
		}
	}
}
