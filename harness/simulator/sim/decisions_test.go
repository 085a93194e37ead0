package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/detour-mesh/detour/compiler/intent"
)

// The intent's subsets become the topology's by their version label (what
// Istio's DestinationRule subsets select pods by), their name when they
// have none; the endpoints are spread evenly, rounded up: 3 over 2
// subsets is 2 each.
func TestMergeTopologySubsetVersions(t *testing.T) {
	in := &intent.Intent{Spec: intent.Spec{
		Clusters: []intent.Cluster{{Name: "c1", Region: "r1", Endpoints: 3}},
		Subsets:  []intent.Subset{{Name: "stable", Labels: map[string]string{"version": "v1"}}, {Name: "canary"}},
	}}
	top := mergeTopology(Topology{}, in, "reviews")
	assert.Equal(t, []string{"c1"}, clusterNames(top))
	assert.Equal(t, []Subset{{Name: "v1", Endpoints: 2}, {Name: "canary", Endpoints: 2}}, top.Clusters[0].Services[0].Subsets)
}
