package envoy

import (
	"math"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Slow start (slow_start_config of the round robin and least request load
// balancers; what Istio's DestinationRule warmup / warmupDurationSecs
// sets) follows EdfLoadBalancerBase in
// source/extensions/load_balancing_policies/common/load_balancer_impl.cc:
//
//   - a host enters slow start when the load balancer first sees it healthy
//     (recalculateHostsInSlowStart stamps lastHcPassTime with the current
//     time when no active health check did; the hosts present when the
//     load balancer is built are stamped then);
//   - while some host is in its window (noHostsAreInSlowStart, from the
//     latest such stamp), host weights are
//     weight × max((max(1 ms, age) / window)^(1/aggression), min_weight_percent)
//     (applySlowStartFactor, applyAggressionFactor; aggression defaults to
//     1, and a value <= 0 falls back to 1; min_weight_percent defaults to 10);
//   - only the host choice within a host source sees these weights:
//     priority loads and locality weights do not, so hosts that all come
//     back together (a whole cluster's pods) share the load as before.
//
// The model draws hosts in proportion to the slowed weights (seeded) where
// Envoy runs its EDF scheduler over them, as it does for unequal weights.

type slowStart struct {
	window     time.Duration
	aggression float64
	minWeight  float64 // 0..1
	// latest is the newest slow start stamp (latest_host_added_time_,
	// initially the load balancer's creation).
	latest time.Time
}

// slowStartConfig is the fields common to the legacy and typed configs.
type slowStartConfig interface {
	GetSlowStartWindow() *durationpb.Duration
	GetAggression() *corev3.RuntimeDouble
	GetMinWeightPercent() *typev3.Percent
}

// readSlowStart reads slow_start_config from lb_config (round_robin_lb_config,
// least_request_lb_config) or the typed load_balancing_policy the model chose.
func (cl *cluster) readSlowStart(c *clusterv3.Cluster, typed slowStartConfig) {
	var cfg slowStartConfig
	switch {
	case typed != nil && typed.GetSlowStartWindow() != nil:
		cfg = typed
	case cl.lb == lbRoundRobin && c.GetRoundRobinLbConfig().GetSlowStartConfig() != nil:
		cfg = c.GetRoundRobinLbConfig().GetSlowStartConfig()
	case cl.lb == lbLeastRequest && c.GetLeastRequestLbConfig().GetSlowStartConfig() != nil:
		cfg = c.GetLeastRequestLbConfig().GetSlowStartConfig()
	default:
		return
	}
	window := cfg.GetSlowStartWindow().AsDuration()
	if window <= 0 {
		return // isSlowStartEnabled: a zero window is off
	}
	ss := &slowStart{window: window, aggression: 1, minWeight: 0.1, latest: cl.p.clock.Now()}
	if a := cfg.GetAggression(); a != nil {
		ss.aggression = a.GetDefaultValue()
	}
	if ss.aggression <= 0 || math.IsNaN(ss.aggression) {
		ss.aggression = 1
	}
	if m := cfg.GetMinWeightPercent(); m != nil {
		ss.minWeight = m.GetValue() / 100
	}
	cl.slowStart = ss
}

// stampSlowStart stamps hosts seen healthy for the first time
// (recalculateHostsInSlowStart, run on every host set update).
func (cl *cluster) stampSlowStart() {
	ss := cl.slowStart
	if ss == nil {
		return
	}
	now := cl.p.clock.Now()
	for _, h := range cl.all {
		if !h.healthy || !h.healthySince.IsZero() {
			continue
		}
		h.healthySince = now
		if now.After(ss.latest) {
			ss.latest = now
		}
	}
}

// slowStartFactor is applySlowStartFactor's multiplier for host h.
func (ss *slowStart) factor(h *host, now time.Time) float64 {
	if h.healthySince.IsZero() || !h.usable() {
		return 1
	}
	age := now.Sub(h.healthySince)
	if age >= ss.window {
		return 1
	}
	tf := float64(max(time.Millisecond, age)) / float64(ss.window)
	if ss.aggression != 1 {
		tf = math.Pow(tf, 1/ss.aggression)
	}
	return max(tf, ss.minWeight)
}

// pickSlowStart draws a host by slowed weight while some host is in slow
// start and the slowed weights differ; nil otherwise (the usual pick).
func (cl *cluster) pickSlowStart(src []*host) *host {
	ss := cl.slowStart
	now := cl.p.clock.Now()
	if ss == nil || now.Sub(ss.latest) > ss.window {
		return nil // noHostsAreInSlowStart
	}
	weight := func(h *host) float64 {
		w := float64(h.weight) * ss.factor(h, now)
		if cl.lb == lbLeastRequest {
			w /= float64(h.active + 1)
		}
		return w
	}
	total, equal := 0.0, true
	first := weight(src[0])
	for _, h := range src {
		w := weight(h)
		total += w
		equal = equal && w == first
	}
	if equal || total <= 0 {
		return nil
	}
	v := cl.p.rng.Float64() * total
	for _, h := range src {
		if v -= weight(h); v < 0 {
			return h
		}
	}
	return src[len(src)-1]
}
