package drills

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/report"
	"github.com/detour-mesh/detour/harness/simulator/sim"
	"github.com/detour-mesh/detour/harness/simulator/xdsgen"
)

// The weak configurations of the seeds, as hand-written Istio YAML run with
// --istio on Istio's own generator and the Envoy model: each reproduces
// the behaviour the seed documents describe.

func runWeak(t *testing.T, name string) sim.RunReport {
	t.Helper()
	sc, err := sim.Load("testdata/weak/" + name + ".yaml")
	require.NoError(t, err)
	rep, err := sim.Run(context.Background(), sc, sim.Options{Generate: xdsgen.Generate})
	require.NoError(t, err)
	require.Len(t, rep.Runs, 1)
	t.Log(rep.Summary())
	return rep.Runs[0]
}

// errorsBetween counts user-visible errors of requests started in [from, to) seconds.
func errorsBetween(run sim.RunReport, from, to int) (errs, reqs int) {
	for _, s := range run.Seconds[from:to] {
		errs += s.Errors
		reqs += s.Requests
	}
	return errs, reqs
}

func TestWeakStrictWeightsDeadCluster(t *testing.T) {
	run := runWeak(t, "strict-weights")
	before, _ := errorsBetween(run, 0, 20)
	assert.Zero(t, before)
	// From the ejection on, cluster-2's half of the traffic gets 503 UH.
	errs, reqs := errorsBetween(run, 25, 50)
	assert.InDelta(t, 0.5, float64(errs)/float64(reqs), 0.1, "the dead cluster's weight")
	assert.Greater(t, run.ResponseFlags["UH"], errs/2, "503 no healthy upstream once the only endpoint is ejected")
	require.Len(t, run.Faults, 1)
	assert.Nil(t, run.Faults[0].FailOverS, "strict weights never fail over")
}

func TestWeakLocalityFailoverWithoutOutlierDetection(t *testing.T) {
	run := runWeak(t, "no-outlier-detection")
	assert.Empty(t, slices.DeleteFunc(slices.Clone(run.Events), func(e report.EventJSON) bool { return e.Kind != "eject" }), "no outlier detection, no ejection")
	// The local pods keep getting their share of traffic until the end of
	// the fault, and every one of those requests fails.
	late, reqs := errorsBetween(run, 44, 50)
	assert.Greater(t, late, reqs/4)
	assert.Nil(t, run.Faults[0].FailOverS, "never fails over")
	assert.Nil(t, run.Faults[0].DetectS)
}

func TestWeakDefaultMaxEjectionPercent(t *testing.T) {
	run := runWeak(t, "max-ejection-10")
	var ejected, refused int
	for _, e := range run.Events {
		switch e.Kind {
		case "eject":
			ejected++
		case "ejection_overflow":
			refused++
		}
	}
	assert.Zero(t, ejected, "1 of 2 hosts is 50%% > max_ejection_percent 10")
	assert.Positive(t, refused, "the detector did trip")
	// First tries keep going to cluster-2's dead gateway for the whole fault.
	last := run.Seconds[48]
	assert.Positive(t, last.Retries, "connect failures to cluster-2 retried")
	assert.Nil(t, run.Faults[0].DetectS)
}

// A remote service scaled to zero behind its east-west gateway: the
// gateway's tcp_proxy finds no host for the SNI and closes the connection
// during the client's TLS handshake, a remote connection failure (UF) that
// Istio's default retry policy retries under connect-failure, on the other
// gateway. The seeds (002/003) say users see cluster-2's share fail; in
// Envoy's code they do not: the retries absorb it but for requests whose
// every attempt found cluster-2 (503 URX,UF).
func TestWeakRemoteServiceScaledToZeroRetried(t *testing.T) {
	run := runWeak(t, "remote-scaled-no-retry")
	errs, reqs := errorsBetween(run, 20, 50)
	assert.Less(t, float64(errs)/float64(reqs), 0.02, "cluster-2's share is retried on cluster-3")
	assert.Positive(t, errs, "with round robin over two gateways, some requests meet cluster-2 on every attempt")
	for _, e := range run.Errors {
		assert.Equal(t, "URX,UF", e.Flags, "every error is a handshake close, retried until the retries ran out")
	}
	assert.Greater(t, run.Retries, reqs/3, "cluster-2's half of the fault's first attempts is retried")
}
