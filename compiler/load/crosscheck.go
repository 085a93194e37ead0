package load

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/detour-mesh/detour/compiler/intent"
)

// crossCheckOK is the schema's _check block (schemas/detour/checks.cue) in
// Go, for the fast path: the fast schema leaves _check out, and an intent
// this accepts needs no further CUE evaluation. It says only whether every
// check passes; an intent it rejects is evaluated again with the full
// schema, whose messages are the ones reported. So a check here may be
// stricter than the schema's (that costs time only), never looser;
// TestCrossCheckAgrees keeps the two equal.
func crossCheckOK(in *intent.Intent) bool {
	s := &in.Spec
	if len(s.Clusters) < 2 {
		return false
	}
	names := make([]string, len(s.Clusters))
	for i, c := range s.Clusters {
		if slices.Contains(names[:i], c.Name) {
			return false
		}
		names[i] = c.Name
	}
	hasRegion := func(r string) bool {
		return slices.ContainsFunc(s.Clusters, func(c intent.Cluster) bool { return c.Region == r })
	}
	hasZone := func(z string) bool {
		return slices.ContainsFunc(s.Clusters, func(c intent.Cluster) bool { return c.Zone == z })
	}

	switch s.Failover.Mode {
	case "named":
		if s.Failover.Order != nil {
			for i, n := range s.Failover.Order {
				if !slices.Contains(names, n) || slices.Contains(s.Failover.Order[:i], n) {
					return false
				}
			}
			for _, n := range names {
				if !slices.Contains(s.Failover.Order, n) {
					return false
				}
			}
		}
	case "weighted":
		var sum uint64
		for _, c := range s.Clusters {
			if c.Weight != nil {
				sum += uint64(*c.Weight)
			}
		}
		if sum != 100 {
			return false
		}
	case "activeStandby":
		var active, standby bool
		for _, c := range s.Clusters {
			active = active || c.Role == "active"
			standby = standby || c.Role == "standby"
			if c.Weight != nil && (*c.Weight > 0 && c.Role == "standby" || *c.Weight == 0 && c.Role == "active") {
				return false
			}
		}
		if !active || !standby {
			return false
		}
	}

	for _, r := range s.Failover.Rules {
		actions := 0
		for _, set := range []bool{len(r.Only) > 0, r.Any, len(r.AnyExcept) > 0, r.None} {
			if set {
				actions++
			}
		}
		if actions != 1 {
			return false
		}
		locs := append(append([]intent.Locality{r.From}, r.Only...), r.AnyExcept...)
		for _, l := range locs {
			if l.Cluster != "" && !slices.Contains(names, l.Cluster) ||
				l.Region != "" && !hasRegion(l.Region) ||
				l.Zone != "" && !hasZone(l.Zone) {
				return false
			}
		}
	}

	for i, sub := range s.Subsets {
		if slices.ContainsFunc(s.Subsets[:i], func(t intent.Subset) bool { return t.Name == sub.Name }) {
			return false
		}
		for k, n := range sub.Clusters {
			if !slices.Contains(names, n) || slices.Contains(sub.Clusters[:k], n) {
				return false
			}
		}
	}

	for _, c := range s.Clusters {
		if !gatewayAddressOK(c.EastWestGateway.Address) {
			return false
		}
	}

	ramp := s.Failback.Ramp
	if len(ramp) == 0 || ramp[len(ramp)-1] != 100 {
		return false
	}
	for i := 1; i < len(ramp); i++ {
		if ramp[i] <= ramp[i-1] {
			return false
		}
	}

	if s.Retries.Backoff.Max.Duration != 10*s.Retries.Backoff.Base.Duration {
		return false
	}

	d := s.Detection
	needsEnvoyFilter := d.FailurePercentage != nil || d.AlwaysEjectOne && d.MaxEjectionPercent < 100
	if s.Entry.Kind == "eastWest" && needsEnvoyFilter && s.Entry.Clients == nil {
		return false
	}

	if !s.Retries.NonIdempotent && slices.ContainsFunc(s.Retries.Methods, func(m string) bool {
		return m == "POST" || m == "PATCH" || m == "CONNECT"
	}) {
		return false
	}
	for _, r := range s.Retries.RetryOn {
		switch r {
		case "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable":
			if s.Service.Protocol != "GRPC" {
				return false
			}
		case "retriable-status-codes", "retriable-headers":
			return false
		}
	}

	// The filters count whole milliseconds in 32 bits.
	const maxDuration = 4294800000000000
	if l := d.Latency; l != nil {
		if l.P99.Duration < time.Millisecond || l.P99.Duration > maxDuration ||
			l.Window.Duration < time.Millisecond || l.Window.Duration > maxDuration ||
			l.Window.Duration < l.P99.Duration ||
			l.CrossRegion != nil && l.CrossRegion.Duration > maxDuration {
			return false
		}
	}
	for _, t := range []struct {
		d   time.Duration
		min bool
	}{
		{d.Interval.Duration, true},
		{d.BaseEjectionTime.Duration, true},
		{s.Retries.PerTryTimeout.Duration, true},
		{s.Retries.Timeout.Duration, true},
		{s.Retries.Backoff.Base.Duration, false},
		{s.Retries.Backoff.Max.Duration, false},
		{s.Failback.HoldDown.Duration, true},
		{s.Failback.StepInterval.Duration, true},
		{s.Failback.ProbeInterval.Duration, true},
		{s.Failback.FlapHalfLife.Duration, true},
		{s.Failback.MaxHoldDown.Duration, true},
	} {
		if t.min && t.d < time.Millisecond || t.d > maxDuration {
			return false
		}
	}
	return true
}

var (
	// dnsName is the schema's #DNSName pattern (length checked apart).
	dnsName   = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$`)
	hasLetter = regexp.MustCompile(`[A-Za-z]`)
)

// gatewayAddressOK mirrors the schema's address checks: an IP address
// (CUE's net.IP is netip.ParseAddr) without a zone, or a DNS host name (a
// letter somewhere, so that 10.0.1.300 is no name; it holds no port).
func gatewayAddressOK(a string) bool {
	if _, err := netip.ParseAddr(a); err == nil && !strings.Contains(a, "%") {
		return true
	}
	return hasLetter.MatchString(a) && dnsName.MatchString(a) && len(a) <= 253
}
