package recorded

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/detour-mesh/detour/harness/simulator/xds"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen/input"
	_ "github.com/detour-mesh/detour/internal/golden" // -update, as every test package
)

// The codec's own test: any snapshot (here a few named resources, not a
// proxy's configuration) comes back equal, in order.
func snapshot() *xds.Snapshot {
	return &xds.Snapshot{Node: "sidecar~10.100.0.1~client-cluster-1.bookinfo~bookinfo.svc.cluster.local",
		Listeners:  []*listenerv3.Listener{{Name: "0.0.0.0_9080"}, {Name: "virtualOutbound"}},
		Routes:     []*routev3.RouteConfiguration{{Name: "9080"}},
		Clusters:   []*clusterv3.Cluster{{Name: "outbound|9080||reviews"}, {Name: "BlackHoleCluster"}},
		Endpoints:  []*endpointv3.ClusterLoadAssignment{{ClusterName: "outbound|9080||reviews"}},
		Extensions: []*corev3.TypedExtensionConfig{{Name: "bookinfo.detour-retry"}}}
}

func in(ip string) input.Input {
	return input.Input{
		ControlPlane: input.ControlPlane{Cluster: "cluster-1", Config: "kind: DestinationRule\n", Clusters: []input.Cluster{{ID: "cluster-1",
			Services: []input.Service{{Name: "reviews", Labels: map[string]string{"app": "reviews", "b": "2", "a": "1"},
				Endpoints: []input.Endpoint{{IP: ip}}}}}}},
		Proxy: input.Proxy{Type: input.Sidecar, Cluster: "cluster-1", Name: "client-cluster-1"},
	}
}

func TestEncodeDecode(t *testing.T) {
	r := Recording{Input: in("10.100.1.1"), Snapshot: snapshot()}
	b, err := Encode(r)
	require.NoError(t, err)
	got, err := Decode(b)
	require.NoError(t, err)
	assert.Equal(t, r.Input, got.Input)
	assert.Equal(t, r.Snapshot.Node, got.Snapshot.Node)
	for _, p := range []struct{ a, b []proto.Message }{
		{msgs(r.Snapshot.Listeners), msgs(got.Snapshot.Listeners)},
		{msgs(r.Snapshot.Routes), msgs(got.Snapshot.Routes)},
		{msgs(r.Snapshot.Clusters), msgs(got.Snapshot.Clusters)},
		{msgs(r.Snapshot.Endpoints), msgs(got.Snapshot.Endpoints)},
		{msgs(r.Snapshot.Extensions), msgs(got.Snapshot.Extensions)},
	} {
		require.Len(t, p.b, len(p.a))
		for i := range p.a {
			assert.True(t, proto.Equal(p.a[i], p.b[i]), "%v != %v", p.a[i], p.b[i])
		}
	}
	_, err = Decode(b[:len(b)-4])
	assert.Error(t, err, "a truncated recording")
}

func msgs[M proto.Message](ms []M) []proto.Message {
	out := make([]proto.Message, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

// The name is the proxy and a hash of the whole input: equal inputs (map
// order aside) share it, a pod more or less does not.
func TestName(t *testing.T) {
	a, err := Name(in("10.100.1.1"))
	require.NoError(t, err)
	b, err := Name(in("10.100.1.1"))
	require.NoError(t, err)
	c, err := Name(in("10.100.1.2"))
	require.NoError(t, err)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, c)
	assert.True(t, strings.HasPrefix(a, "client-cluster-1.") && strings.HasSuffix(a, Ext), a)
	assert.Len(t, strings.TrimSuffix(strings.TrimPrefix(a, "client-cluster-1."), Ext), 16)
}

// The recorder keeps what the generator answered; the replay gives it
// back for that input and refuses any other.
func TestRecordThenReplay(t *testing.T) {
	calls := 0
	gen := func(_ context.Context, i input.Input) (*xds.Snapshot, error) {
		calls++
		if i.Proxy.Cluster == "" {
			return nil, errors.New("no cluster")
		}
		return snapshot(), nil
	}
	rec := &Recorder{Gen: gen}
	_, err := rec.Generate(context.Background(), input.Input{})
	require.Error(t, err)
	snap, err := rec.Generate(context.Background(), in("10.100.1.1"))
	require.NoError(t, err)
	snap.Node = "changed after the call" // recorded when it happened
	dir := t.TempDir()
	got := rec.Recorded()
	require.Len(t, got, 1)
	for name, data := range got {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	files, err := Files(dir)
	require.NoError(t, err)
	assert.Len(t, files, 1)
	replay := Replay{Dir: dir}.Generate
	back, err := replay(context.Background(), in("10.100.1.1"))
	require.NoError(t, err)
	assert.Equal(t, snapshot().Node, back.Node)
	assert.Len(t, back.Clusters, 2)
	_, err = replay(context.Background(), in("10.100.1.2"))
	assert.ErrorContains(t, err, "no recording client-cluster-1.")
	assert.ErrorContains(t, err, "-run TestRecordings -update")
	assert.Equal(t, 2, calls)
}

func TestSummary(t *testing.T) {
	assert.Equal(t, "harness/simulator/sim/testdata/golden/drills/bookinfo-cold-recovery.txt", Summary("examples/bookinfo/drills/cold-recovery.yaml"))
	assert.True(t, Summarised("examples/bookinfo/drills/cold-recovery.yaml"))
	assert.False(t, Summarised("examples/bookinfo/drills/flapping.yaml"))
}
