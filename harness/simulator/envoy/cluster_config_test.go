package envoy

import (
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestEDSServiceNameDefaultsToClusterName: an EDS cluster without
// eds_cluster_config.service_name takes its endpoints from the assignment
// named after the cluster (api/envoy/config/cluster/v3/cluster.proto:
// service_name is an optional alternative to the cluster name).
func TestEDSServiceNameDefaultsToClusterName(t *testing.T) {
	for _, name := range []string{"", svc} {
		s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
		s.Clusters[0].EdsClusterConfig.ServiceName = name
		p, clock := newTestProxy(s, &fakeNet{})
		r := run(t, p, clock)
		assert.Equal(t, 200, r.Status, "service_name %q", name)
		require.Len(t, r.Attempts, 1)
		assert.Equal(t, "10.0.0.1:80", r.Attempts[0].Address)
	}
}

// TestLeastRequestChoiceCount: least_request_lb_config.choice_count sets
// how many hosts a pick compares; without it Envoy compares two
// (api/envoy/config/cluster/v3/cluster.proto, choice_count defaults to 2).
func TestLeastRequestChoiceCount(t *testing.T) {
	for _, tc := range []struct {
		cfg  *clusterv3.Cluster_LeastRequestLbConfig
		want int
	}{
		{nil, 2},
		{&clusterv3.Cluster_LeastRequestLbConfig{}, 2},
		{&clusterv3.Cluster_LeastRequestLbConfig{ChoiceCount: wrapperspb.UInt32(5)}, 5},
	} {
		s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
		c := s.Clusters[0]
		c.LbPolicy = clusterv3.Cluster_LEAST_REQUEST
		if tc.cfg != nil {
			c.LbConfig = &clusterv3.Cluster_LeastRequestLbConfig_{LeastRequestLbConfig: tc.cfg}
		}
		p, _ := newTestProxy(s, &fakeNet{})
		cl, err := p.buildCluster(c)
		require.NoError(t, err)
		assert.Equal(t, lbLeastRequest, cl.lb)
		assert.Equal(t, tc.want, cl.choiceCount, "%v", tc.cfg)
	}
}

// TestResetBodyNamesRetriesOnlyWhenRetried: the local reply after a reset
// says "retried and the latest" only when more than one attempt was made
// (source/common/router/router.cc, the upstream reset's local reply).
func TestResetBodyNamesRetriesOnlyWhenRetried(t *testing.T) {
	for _, tc := range []struct {
		retry   bool
		retried bool
	}{{false, false}, {true, true}} {
		s := snap(nil, 0, nil, ep{addr: "10.0.0.1:80"})
		if tc.retry {
			s = snap(istioDefaultRetry(), 0, nil, ep{addr: "10.0.0.1:80"})
		}
		p, clock := newTestProxy(s, byHost(map[string]Result{"10.0.0.1:80": refused}))
		r := run(t, p, clock)
		assert.Equal(t, 503, r.Status)
		assert.Equal(t, tc.retried, strings.Contains(r.Body, "retried and the latest"), r.Body)
		assert.Contains(t, r.Body, "reset reason: remote connection failure")
	}
}
