package envoy

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/detour-mesh/detour/harness/simulator/envoy/internal/outlier"
)

// Locality picks ported from Envoy's test/common/upstream/
// upstream_impl_test.cc (HostSetImplLocalityTest.*,
// OverProvisioningFactorTest.LocalityPickChanges): the EDF schedule over
// effective locality weights.

const uiTest = "test/common/upstream/upstream_impl_test.cc "

// localitySet builds one priority with a locality per entry of sizes,
// healthy[i] of them healthy.
func localitySet(weights []uint32, sizes, healthy []int) *prioritySet {
	ps := &prioritySet{rr: map[string]uint64{}}
	for i, w := range weights {
		l := &locality{name: fmt.Sprint(i), weight: w}
		for j := range sizes[i] {
			h := &host{addr: fmt.Sprintf("10.0.%d.%d:80", i, j), healthy: j < healthy[i], od: &outlier.Host{}}
			l.hosts = append(l.hosts, h)
			ps.hosts = append(ps.hosts, h)
		}
		ps.localities = append(ps.localities, l)
	}
	return ps
}

func TestConformanceLocalityPicks(t *testing.T) {
	seq := []struct {
		envoy   string
		weights []uint32
		want    []int
	}{
		{"HostSetImplLocalityTest.Unweighted", []uint32{1, 1, 1}, []int{0, 1, 2, 0, 1, 2}},
		{"HostSetImplLocalityTest.Weighted", []uint32{1, 2}, []int{1, 0, 1, 1, 0, 1}},
		{"HostSetImplLocalityTest.MissingWeight", []uint32{1, 0, 1}, []int{0, 2, 0, 2, 0, 2}},
		{"HostSetImplLocalityTest.AllZeroWeights", []uint32{0, 0}, []int{-1}},
	}
	for _, c := range seq {
		cl := &cluster{opf: 140}
		n := len(c.weights)
		ones := make([]int, n)
		for i := range ones {
			ones[i] = 1
		}
		ps := localitySet(c.weights, ones, ones)
		var got []int
		for range c.want {
			got = append(got, cl.chooseLocality(ps, false))
		}
		assert.Equal(t, c.want, got, uiTest+c.envoy)
	}

	// Counts over 100 picks.
	counts := []struct {
		envoy          string
		opf            uint64
		weights        []uint32
		sizes, healthy []int
		want0, want1   int
	}{
		{"HostSetImplLocalityTest.UnhealthyFailover", 140, []uint32{1, 2}, []int{5, 1}, []int{5, 1}, 33, 67},
		{"HostSetImplLocalityTest.UnhealthyFailover", 140, []uint32{1, 2}, []int{5, 1}, []int{4, 1}, 33, 67},
		{"HostSetImplLocalityTest.UnhealthyFailover", 140, []uint32{1, 2}, []int{5, 1}, []int{3, 1}, 29, 71},
		{"HostSetImplLocalityTest.UnhealthyFailover", 140, []uint32{1, 2}, []int{5, 1}, []int{2, 1}, 22, 78},
		{"HostSetImplLocalityTest.UnhealthyFailover", 140, []uint32{1, 2}, []int{5, 1}, []int{1, 1}, 12, 88},
		{"HostSetImplLocalityTest.UnhealthyFailover", 140, []uint32{1, 2}, []int{5, 1}, []int{0, 1}, 0, 100},
		{"OverProvisioningFactorTest.LocalityPickChanges", 100, []uint32{1, 1}, []int{2, 1}, []int{1, 1}, 33, 67},
		{"OverProvisioningFactorTest.LocalityPickChanges", 200, []uint32{1, 1}, []int{2, 1}, []int{1, 1}, 50, 50},
	}
	for _, c := range counts {
		cl := &cluster{opf: c.opf}
		ps := localitySet(c.weights, c.sizes, c.healthy)
		var n [2]int
		for range 100 {
			n[cl.chooseLocality(ps, false)]++
		}
		assert.Equal(t, [2]int{c.want0, c.want1}, n, "%s%s healthy %v opf %d", uiTest, c.envoy, c.healthy, c.opf)
	}
}
