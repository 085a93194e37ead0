package sim

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A fault that lasts to the run's end is read to the run's last second:
// with cluster-1's reviews gone from 5 s, every request of both sources
// is served once by cluster-2's pods after failover, so the pods' mean
// load over the fault's window (from 5 s after its start to the end) is
// the requests the sources sent in it, per second; cluster-1 served none.
func TestFleetFaultLoadToTheEnd(t *testing.T) {
	sc := scenarioFile(t, `traffic: {entry: cluster-1, fleet: true, duration: 20s, seed: 2}
faults:
  - {name: gone, kind: serviceScaledToZero, start: 5s, target: {cluster: cluster-1, service: reviews}}
`)
	rep, err := Run(context.Background(), sc, Options{Generate: replay})
	require.NoError(t, err)
	run := rep.Runs[0]
	require.Len(t, run.Fleet.Faults, 1)
	f := run.Fleet.Faults[0]
	assert.Equal(t, 10.0, f.FromS)
	assert.Equal(t, 20.0, f.ToS)
	sent := 0
	for _, s := range run.Seconds {
		if s.T >= 10 && s.T < 20 {
			sent += s.Requests
		}
	}
	for _, src := range run.Fleet.Sources {
		for _, s := range src.Seconds {
			if s.T >= 10 && s.T < 20 {
				sent += s.Requests
			}
		}
	}
	require.Equal(t, []string{"cluster-1", "cluster-2"}, []string{f.Clusters[0].Cluster, f.Clusters[1].Cluster})
	assert.Zero(t, f.Clusters[0].RPS)
	// A request sent in the window's last milliseconds may be served
	// after it: a fraction of a percent.
	assert.InEpsilon(t, float64(sent)/10, f.Clusters[1].RPS, 0.01)
}

// A fleet source's overflow errors are its user-visible errors whose last
// attempt found the pods over capacity: cluster-2's reviews take 400
// requests/s and queue 500 ms, enough for its own source's 300 but not under
// both sources' 550 once cluster-1's pods are gone at 5 s. No request
// overflows before, so the fault's overflow errors (from its start to the
// end) are the sources' own, summed.
func TestFleetSourceOverflowErrors(t *testing.T) {
	sc := scenarioFile(t, `traffic: {entry: cluster-1, fleet: true, duration: 12s, seed: 2}
topology:
  clusters:
    - {name: cluster-1}
    - {name: cluster-2, services: [{name: reviews, capacity: 400, maxQueue: 500ms}]}
faults:
  - {name: gone, kind: serviceScaledToZero, start: 5s, target: {cluster: cluster-1, service: reviews}}
`)
	rep, err := Run(context.Background(), sc, Options{Generate: replay})
	require.NoError(t, err)
	fl := rep.Runs[0].Fleet
	src := fl.Sources[1]
	require.Equal(t, "cluster-2", src.Cluster)
	require.Positive(t, src.OverflowErrors)
	assert.LessOrEqual(t, src.OverflowErrors, src.UserVisibleErrors)
	for _, s := range src.Seconds {
		if s.T < 5 {
			assert.Zero(t, s.Errors, "second %d: under capacity", s.T)
		}
	}
	require.Len(t, fl.Faults, 1)
	assert.Equal(t, fl.Sources[0].OverflowErrors+src.OverflowErrors, fl.Faults[0].OverflowErrors)
	assert.Equal(t, fl.Sources[0].OverflowErrors+src.OverflowErrors, fl.Total.OverflowErrors)
}

// traffic.host names what the entry sends to. At the edge it is an edge
// host, which the fleet's sidecars do not route: they keep sending to the
// service's FQDN and see no error before the fault (at 3 s).
func TestFleetSidecarsIgnoreTheEdgeHost(t *testing.T) {
	sc, err := Load("testdata/runs/edge-fleet.yaml")
	require.NoError(t, err)
	sc.Traffic.Host = "bookinfo.example.com"
	rep, err := Run(context.Background(), sc, Options{Generate: replay, Only: RunIstio})
	require.NoError(t, err)
	run := rep.Runs[0]
	assert.Zero(t, run.Seconds[0].Errors, "the edge routes its host")
	for _, src := range run.Fleet.Sources[1:] {
		require.Positive(t, src.Requests, src.Cluster)
		for _, s := range src.Seconds[:3] {
			assert.Zero(t, s.Errors, "%s, second %d", src.Cluster, s.T)
		}
	}
}
