package timeline_test

import (
	"math"

	"github.com/detour-mesh/detour/harness/simulator/timeline"
)

// synthetic is a 3-minute outage of cluster-1, then a degraded cluster-3
// that never recovers: plain Istio drops traffic until outlier detection
// ejects the hosts; Detour fails over within a second and ramps back.
func synthetic() timeline.Plot {
	const n = 180
	faults := []timeline.Span{
		{Label: "outage cluster-1 gateway deleted", Start: 60, End: 120},
		{Label: "cluster-3 reviews 50% errors", Start: 150, End: -1},
	}
	istio := panel("istio", n, func(t int) (c1, c2, c3, none, errs float64) {
		wobble := 0.05 * math.Sin(float64(t)/3)
		switch {
		case t < 60:
			return 1, 0, 0, 0, 0
		case t < 72:
			return 0, 0, 0, 1, 200
		case t < 120:
			return 0, .5 + wobble, .45 - wobble, .05, 10
		case t < 150:
			return 1, 0, 0, 0, 0
		default:
			return .97, 0, 0, .03, 6
		}
	})
	istio.Note = "2 954 user-visible errors (5.5 %)"
	istio.Faults = faults
	istio.Marks = nil
	detour := panel("detour", n, func(t int) (c1, c2, c3, none, errs float64) {
		wobble := 0.05 * math.Sin(float64(t)/3)
		switch {
		case t < 60:
			return 1, 0, 0, 0, 0
		case t < 61:
			return .4, .4, .2, 0, 0
		case t < 131:
			return 0, .6 + wobble, .4 - wobble, 0, 0
		case t < 141:
			// The ramp: 10 % for 5 s, 50 % for 5 s, then 100 %.
			r := map[bool]float64{true: .1, false: .5}[t < 136]
			return r, (1 - r) * .6, (1 - r) * .4, 0, 0
		default:
			return 1, 0, 0, 0, 0
		}
	})
	// Latency: 5/30 ms local; the failover costs detour 40 ms more until
	// it ramps back, where istio's p99 hits its errors' timeouts.
	for t := 0; t < n; t++ {
		ip50, ip99, dp50, dp99 := 5.0, 30.0, 5.0, 30.0
		if t >= 60 && t < 72 {
			ip99 = 250
		}
		if t >= 60 && t < 150 {
			dp50, dp99 = 45, 70
		}
		istio.LatencyP50, istio.LatencyP99 = append(istio.LatencyP50, ip50), append(istio.LatencyP99, ip99)
		detour.LatencyP50, detour.LatencyP99 = append(detour.LatencyP50, dp50), append(detour.LatencyP99, dp99)
	}
	detour.Note = "0 user-visible errors"
	detour.Faults = faults
	detour.Marks = []timeline.Mark{
		{At: 60.3, Label: "DEGRADED"},
		{At: 60.8, Label: "FAILED_OVER"},
		{At: 121, Label: "FAILING_BACK"},
		{At: 146, Label: "PRIMARY"},
		{At: 150.2, Label: "DEGRADED"},
	}
	// cluster-1 answers a probe at 121 s, is held down 10 s, then ramps
	// 10 → 50 → 100 % in 5 s steps; the state returns to PRIMARY on the
	// filters' next tick after the last step.
	detour.Failbacks = []timeline.Failback{{Label: "cluster-1", Start: 121, HoldEnd: 131,
		Steps: []timeline.Step{{At: 131, Percent: 10}, {At: 136, Percent: 50}, {At: 141, Percent: 100}}, End: 141}}
	// The fleet's other source: cluster-3's own sidecars, local until its
	// reviews half fail at 150 s; Envoy keeps most of them there, the
	// filters eject cluster-3 and send them to cluster-2.
	istio.Sources = []timeline.Source{source(n, "300 rps · 1 480 user-visible errors", func(t int) (c2, c3, none float64) {
		if t < 150 {
			return 0, 1, 0
		}
		return .1, .87, .03
	})}
	detour.Sources = []timeline.Source{source(n, "300 rps · 12 user-visible errors", func(t int) (c2, c3, none float64) {
		if t < 150 {
			return 0, 1, 0
		}
		return 1, 0, 0
	})}
	return timeline.Plot{
		Title:    "region-outage: istio vs detour",
		Subtitle: "seed 1 · 180 s at 200 rps · entry cluster-1 ingress gateway",
		Panels:   []timeline.Panel{istio, detour},
	}
}

func panel(name string, n int, at func(t int) (c1, c2, c3, none, errs float64)) timeline.Panel {
	p := timeline.Panel{Title: name, Series: []timeline.Series{
		{Name: "cluster-1"}, {Name: "cluster-2"}, {Name: "cluster-3"}, {Name: "no cluster", Muted: true},
	}}
	for t := 0; t < n; t++ {
		c1, c2, c3, none, errs := at(t)
		for i, v := range []float64{c1, c2, c3, none} {
			p.Series[i].Share = append(p.Series[i].Share, v)
		}
		p.Errors = append(p.Errors, errs)
	}
	return p
}

func source(n int, note string, at func(t int) (c2, c3, none float64)) timeline.Source {
	src := timeline.Source{Title: "from cluster-3", Note: note, Series: []timeline.Series{
		{Name: "cluster-2"}, {Name: "cluster-3"}, {Name: "no cluster", Muted: true},
	}}
	for t := 0; t < n; t++ {
		c2, c3, none := at(t)
		for i, v := range []float64{c2, c3, none} {
			src.Series[i].Share = append(src.Series[i].Share, v)
		}
	}
	return src
}
