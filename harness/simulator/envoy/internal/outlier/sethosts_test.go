package outlier

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// An EDS update that keeps an ejected host keeps it among the active
// ejections (outlier_detection_impl.cc: the ejections_active gauge falls
// only when an ejected host leaves the set in onClusterMemberUpdate), so
// max_ejection_percent still counts it: of two hosts at 50 %, with the
// first ejected before the update, the second's five failures after it
// eject nothing.
func TestHostSetUpdateKeepsActiveEjections(t *testing.T) {
	r := newRig(t, &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(50)}, 2, false)
	r.fail(r.hosts[0], 500, 5)
	require.True(t, r.hosts[0].Ejected)
	r.d.SetHosts(r.hosts)
	assert.Equal(t, 1, r.d.Active())
	r.fail(r.hosts[1], 500, 5)
	assert.False(t, r.hosts[1].Ejected, "max_ejection_percent reached")
}
