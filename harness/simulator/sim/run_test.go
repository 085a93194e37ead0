package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func scenarioFile(t *testing.T, body string) *Scenario {
	intent, err := filepath.Abs("../../../examples/bookinfo/intent.yaml")
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "drill.yaml")
	require.NoError(t, os.WriteFile(p, []byte(fmt.Sprintf("intent: %s\n%s", intent, body)), 0o644))
	sc, err := Load(p)
	require.NoError(t, err)
	return sc
}

const scaleToZero = `
name: local-scaled-to-zero
traffic: {entry: cluster-1, rate: 50, duration: 60s, seed: 3, methods: {GET: 9, POST: 1}}
faults:
  - {name: down, kind: serviceScaledToZero, start: 20s, end: 40s, target: {cluster: cluster-1, service: reviews}}
expect: {maxUserVisibleErrors: 0}
`

func TestRunDeterministic(t *testing.T) {
	sc := scenarioFile(t, scaleToZero)
	var out [2][]byte
	for i := range out {
		rep, err := Run(context.Background(), sc, Options{Generate: replay})
		require.NoError(t, err)
		out[i], err = rep.JSON()
		require.NoError(t, err)
	}
	assert.Equal(t, string(out[0]), string(out[1]))
	sc.Traffic.Seed++
	rep, err := Run(context.Background(), sc, Options{Generate: replay})
	require.NoError(t, err)
	other, err := rep.JSON()
	require.NoError(t, err)
	assert.NotEqual(t, string(out[0]), string(other), "another seed, another run")
}

func TestRunScaleToZeroThroughEDS(t *testing.T) {
	rep, err := Run(context.Background(), scenarioFile(t, scaleToZero), Options{Generate: replay})
	require.NoError(t, err)
	require.Len(t, rep.Runs, 1)
	run := rep.Runs[0]
	assert.Equal(t, "istio", run.Name)
	assert.InDelta(t, 3000, run.Requests, 300)
	assert.Equal(t, []string{"cluster-1", "cluster-2", "none"}, run.Clusters)
	// Healthy: everything stays local. Outside the fault only the way back
	// is remote (the share counts failback), a few percent of the run.
	assert.Equal(t, []float64{1, 0, 0}, run.Seconds[5].Share)
	assert.Greater(t, run.CrossRegionShare, 0.0)
	assert.Less(t, run.CrossRegionShare, 0.05)
	// Pods gone at 20 s, EDS without them at 21 s: connect failures are
	// retried (connect-failure) until then, then everything goes remote.
	assert.Equal(t, []float64{0, 1, 0}, run.Seconds[25].Share)
	assert.Equal(t, []float64{1, 0, 0}, run.Seconds[50].Share)
	var eds []float64
	for _, e := range run.Events {
		if e.Kind == "eds" {
			eds = append(eds, e.AtS)
		}
	}
	assert.Equal(t, []float64{21, 41}, eds, "Kubernetes changes at 20 s and 40 s, pushed after the control-plane delay")
	f := run.Faults[0]
	require.NotNil(t, f.DetectS)
	assert.LessOrEqual(t, *f.DetectS, 1.0)
	require.NotNil(t, f.FailOverS)
	require.NotNil(t, f.FailBackS)
	assert.LessOrEqual(t, *f.FailBackS, 2.0)
	assert.Greater(t, run.Retries, 0)
	t.Log(rep.Summary())
}

// Errors about references to the topology (which the intent may give)
// point at the line and column of the reference in the scenario file.
func TestRunErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"traffic: {entry: cluster-9}\n", `:2:18: traffic.entry: no cluster "cluster-9" (expected edge or one of cluster-1, cluster-2)`},
		{"traffic: {entry: edge}\n", ":2:18: traffic.entry: edge entry, but the configuration has no edge.yaml"},
		{"traffic: {entry: cluster-1}\nfaults: [{kind: clusterOutage, target: {cluster: c3}}]\n", `:3:50: faults[0].target.cluster: no cluster "c3" in the topology (expected one of cluster-1, cluster-2)`},
		{"traffic: {entry: cluster-1}\nfaults: [{kind: serviceScaledToZero, target: {cluster: cluster-1, service: details}}]\n", `:3:76: faults[0].target.service: no service "details" in the topology (expected one of reviews)`},
		{"traffic: {entry: cluster-1}\nfaults: [{kind: serviceScaledToZero, target: {region: us-east1, subset: v9}}]\n", `:3:73: faults[0].target.subset: no subset "v9" in the topology (expected one of v1, v2, v3)`},
		{"traffic: {entry: cluster-1}\nfaults: [{kind: partition, target: {regions: [us-east1, mars]}}]\n", `:3:57: faults[0].target.regions[1]: no region "mars" in the topology (expected one of us-east1, us-west1)`},
		{"traffic: {entry: cluster-1}\nfaults: [{kind: clusterOutage, target: {zone: moon-1a}}]\n", `:3:47: faults[0].target.zone: no zone "moon-1a" in the topology (expected one of us-east1-b, us-west1-a)`},
		{"traffic: {entry: cluster-1, sources: {cluster-7: 10}}\n", `:2:50: traffic.sources.cluster-7: no cluster "cluster-7" in the topology (expected one of cluster-1, cluster-2)`},
		{"traffic: {entry: cluster-1}\nexpect: {maxShareOutside: {regions: [us-east1, atlantis], max: 0}}\n", `:3:37: expect.maxShareOutside.regions: no region "atlantis" in the topology (expected one of us-east1, us-west1)`},
	} {
		_, err := Run(context.Background(), scenarioFile(t, tc.body), Options{Generate: replay})
		require.Error(t, err, tc.body)
		assert.Contains(t, err.Error(), "drill.yaml"+tc.want)
	}
	_, err := Run(context.Background(), scenarioFile(t, "traffic: {entry: cluster-1}\n"), Options{})
	assert.ErrorContains(t, err, "drill.yaml: no xDS generator")
}

// A zone fault hits every endpoint of the zone's clusters; the residency
// expectation measures the share of requests that left the regions, over
// the whole run.
func TestZoneFaultAndResidency(t *testing.T) {
	sc := scenarioFile(t, `traffic: {entry: cluster-1, rate: 50, duration: 40s, seed: 3}
faults:
  - {name: zone-down, kind: serviceScaledToZero, start: 10s, end: 20s, target: {zone: us-east1-b}}
expect:
  maxShareOutside: {regions: [us-east1], max: 0%}
expectBaseline:
  maxShareOutside: {regions: [us-east1, us-west1], max: 0%}
`)
	rep, err := Run(context.Background(), sc, Options{Generate: replay})
	require.NoError(t, err)
	run := rep.Runs[0]
	assert.Equal(t, "zone us-east1-b", rep.Faults[0].Target)
	assert.Equal(t, []float64{0, 1, 0}, run.Seconds[15].Share, "cluster-1's pods are down: cluster-2 answers")
	assert.Equal(t, []float64{1, 0, 0}, run.Seconds[5].Share)
	west := run.RegionShare["us-west1"]
	assert.Greater(t, west, 0.2, "the fault's 10 s of 40 went to us-west1")
	assert.Less(t, west, 0.35)
	var got []Expectation
	for _, x := range run.Expectations {
		if x.Name == "maxShareOutside" {
			got = append(got, x)
		}
	}
	require.Len(t, got, 2, "both blocks apply to the one run without filters, expectBaseline first")
	assert.Equal(t, "share outside us-east1 | us-west1", got[0].Unit)
	assert.Equal(t, 0.0, *got[0].Measured)
	assert.True(t, got[0].OK)
	assert.Equal(t, "share outside us-east1", got[1].Unit)
	assert.Equal(t, west, *got[1].Measured, "every request that left us-east1 went to us-west1")
	assert.False(t, got[1].OK)
	assert.False(t, run.Passed)
}

// What the traffic block changes at the entry proxy: the listener port and
// the :authority (a port without a listener, or a host without a virtual
// host, and the proxy answers every request itself), the progress a run
// reports, and a cancelled run.
func TestRunTrafficKnobs(t *testing.T) {
	run := func(traffic string, opts Options) RunReport {
		t.Helper()
		opts.Generate = replay
		rep, err := Run(context.Background(), scenarioFile(t, "traffic: {entry: cluster-1, rate: 20, duration: 5s, seed: 1"+traffic+"}\n"), opts)
		require.NoError(t, err)
		require.Len(t, rep.Runs, 1)
		return rep.Runs[0]
	}
	ok := run("", Options{})
	require.Positive(t, ok.Requests)
	assert.Zero(t, ok.UserVisibleErrors)
	for _, knob := range []string{", port: 9081", ", host: ratings.bookinfo.svc.cluster.local"} {
		r := run(knob, Options{})
		assert.Equal(t, ok.Requests, r.Requests, knob)
		assert.Equal(t, r.Requests, r.UserVisibleErrors, "%s: every request answered by the proxy", knob)
		assert.Zero(t, r.Attempts, knob)
	}
	r := run(", port: 9080, host: reviews.bookinfo.svc.cluster.local", Options{})
	assert.Zero(t, r.UserVisibleErrors, "the defaults, given")

	var progress []string
	rep, err := Run(context.Background(), scenarioFile(t, "traffic: {entry: cluster-1, rate: 5, duration: 25s}\n"), Options{Generate: replay,
		Progress: func(run string, done float64) { progress = append(progress, fmt.Sprintf("%s %.1f", run, done)) }})
	require.NoError(t, err)
	require.Len(t, rep.Runs, 1)
	assert.Equal(t, []string{"istio 0.4", "istio 0.8", "istio 1.0"}, progress, "after each simulated 10 s")
	progress = nil
	_, err = Run(context.Background(), scenarioFile(t, "traffic: {entry: cluster-1, rate: 5, duration: 20s}\n"), Options{Generate: replay,
		Progress: func(run string, done float64) { progress = append(progress, fmt.Sprintf("%s %.1f", run, done)) }})
	require.NoError(t, err)
	assert.Equal(t, []string{"istio 0.5", "istio 1.0"}, progress, "a whole number of 10 s steps: the end is told once")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Run(ctx, scenarioFile(t, "traffic: {entry: cluster-1, duration: 5s}\n"), Options{Generate: replay})
	assert.ErrorIs(t, err, context.Canceled)
}

// A fleet source's own view: cluster-2's sidecars answer locally until
// cluster-2 goes down, then from cluster-1 (the first cluster, column 0:
// its pods stay ejected past the run's end); the entry in cluster-1 never
// notices.
func TestFleetSourceFailsOver(t *testing.T) {
	sc := scenarioFile(t, `traffic: {entry: cluster-1, fleet: true, duration: 20s, seed: 1}
faults:
  - {name: out, kind: clusterOutage, start: 5s, end: 12s, target: {cluster: cluster-2}}
`)
	rep, err := Run(context.Background(), sc, Options{Generate: replay})
	require.NoError(t, err)
	run := rep.Runs[0]
	require.Equal(t, []string{"cluster-1", "cluster-2", "none"}, run.Clusters)
	require.NotNil(t, run.Fleet)
	require.Len(t, run.Fleet.Sources, 2)
	src := run.Fleet.Sources[1]
	require.Equal(t, "cluster-2", src.Cluster)
	require.Len(t, src.Seconds, 20)
	for _, k := range []int{0, 3} {
		assert.Equal(t, []float64{0, 1, 0}, src.Seconds[k].Share, "second %d: local", k)
	}
	for _, k := range []int{7, 10, 19} {
		assert.Equal(t, []float64{1, 0, 0}, src.Seconds[k].Share, "second %d: cluster-2 is down, cluster-1 answers", k)
	}
	for _, s := range run.Seconds {
		assert.Equal(t, []float64{1, 0, 0}, s.Share, "the entry's second %d: local throughout", s.T)
	}
}

// A fleet source's user-visible errors: every cluster answers 500 (a
// status no route retries) from 5 s to 7 s, so each of the source's
// requests started then fails and none before (after it, ejections take
// their time to end), and its totals are its seconds' sums.
func TestFleetSourceErrors(t *testing.T) {
	sc := scenarioFile(t, `traffic: {entry: cluster-1, fleet: true, duration: 10s, seed: 1}
faults:
  - {name: e1, kind: errorRate, start: 5s, end: 7s, status: 500, target: {cluster: cluster-1}}
  - {name: e2, kind: errorRate, start: 5s, end: 7s, status: 500, target: {cluster: cluster-2}}
`)
	rep, err := Run(context.Background(), sc, Options{Generate: replay})
	require.NoError(t, err)
	src := rep.Runs[0].Fleet.Sources[1]
	require.Equal(t, "cluster-2", src.Cluster)
	requests, errors := 0, 0
	for _, s := range src.Seconds {
		requests, errors = requests+s.Requests, errors+s.Errors
		switch {
		case s.T < 5:
			assert.Zero(t, s.Errors, "second %d: before the fault", s.T)
		case s.T < 7:
			assert.Equal(t, s.Requests, s.Errors, "second %d: every request fails", s.T)
		}
	}
	assert.Equal(t, requests, src.Requests)
	assert.Positive(t, errors)
	assert.Equal(t, errors, src.UserVisibleErrors)
}

// A fleet source's request that finds no endpoint to try makes no
// upstream attempt: no cluster answered it (the share's last column,
// "none") and its user saw an error. The reviews pods of both clusters go
// at 3 s and come back at 5 s; EDS follows a second later each time. The
// compiled DestinationRule ejects a host after 3 consecutive
// local-origin failures for 30 s, up to all of them, and with outlier
// detection Istio turns Envoy's panic routing off: cluster-2's sidecar
// ejects the east-west gateway to cluster-1 in the first second of the
// fault and keeps it out past the run, so from 4 s, when EDS drops its
// own pods, it has nothing to try until EDS brings them back at 6 s.
func TestFleetSourceWithNoPodAnywhere(t *testing.T) {
	sc, err := Load("testdata/runs/fleet-gone-everywhere.yaml")
	require.NoError(t, err)
	rep, err := Run(context.Background(), sc, Options{Generate: replay})
	require.NoError(t, err)
	run := rep.Runs[0]
	require.Equal(t, []string{"cluster-1", "cluster-2", "none"}, run.Clusters)
	src := run.Fleet.Sources[1]
	require.Equal(t, "cluster-2", src.Cluster)
	for _, s := range src.Seconds {
		require.Positive(t, s.Requests, "second %d", s.T)
		switch {
		case s.T < 3 || s.T >= 6:
			assert.Equal(t, []float64{0, 1, 0}, s.Share, "second %d: its own pods answer", s.T)
			assert.Zero(t, s.Errors, "second %d", s.T)
		case s.T < 5:
			assert.Equal(t, s.Requests, s.Errors, "second %d: no pod anywhere", s.T)
		default:
			assert.Equal(t, []float64{0, 0, 1}, s.Share, "second %d: nothing to try", s.T)
			assert.Equal(t, s.Requests, s.Errors, "second %d", s.T)
		}
	}
}
