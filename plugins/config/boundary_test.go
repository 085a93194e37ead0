package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestValidateBoundaries: each range check accepts its ends and rejects
// one past them.
func TestValidateBoundaries(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"weight 100", func(c *Config) { c.Targets[0].Weight = 100 }, true},
		{"max ejection 100 %", func(c *Config) { c.Detection.MaxEjectionPercent = 100 }, true},
		{"max ejection 101 %", func(c *Config) { c.Detection.MaxEjectionPercent = 101 }, false},
		{"probe path /", func(c *Config) { c.Detection.ProbePath = "/" }, true},
		{"probe path without /", func(c *Config) { c.Detection.ProbePath = "healthz" }, false},
		{"probe status 100", func(c *Config) { c.Detection.ProbeStatus = 100 }, true},
		{"probe status 599", func(c *Config) { c.Detection.ProbeStatus = 599 }, true},
		{"probe status 99", func(c *Config) { c.Detection.ProbeStatus = 99 }, false},
		{"probe status 600", func(c *Config) { c.Detection.ProbeStatus = 600 }, false},
		{"max ejection time = base", func(c *Config) { c.Detection.MaxEjectionMs = c.Detection.BaseEjectionMs }, true},
		{"max ejection time below base", func(c *Config) { c.Detection.MaxEjectionMs = c.Detection.BaseEjectionMs - 1 }, false},
		{"budget 0 %", func(c *Config) { c.Retry.BudgetPercent = 0 }, true},
		{"budget 100 %", func(c *Config) { c.Retry.BudgetPercent = 100 }, true},
		{"budget over 100 %", func(c *Config) { c.Retry.BudgetPercent = 100.5 }, false},
		{"one-step ramp", func(c *Config) { c.Failback.Ramp = []uint32{100} }, true},
		{"ramp step 1", func(c *Config) { c.Failback.Ramp = []uint32{1, 100} }, true},
		{"ramp step 0", func(c *Config) { c.Failback.Ramp = []uint32{0, 100} }, false},
		{"ramp step over 100", func(c *Config) { c.Failback.Ramp = []uint32{50, 101} }, false},
		{"ramp step repeated", func(c *Config) { c.Failback.Ramp = []uint32{50, 50, 100} }, false},
		{"no ramp", func(c *Config) { c.Failback.Ramp = nil }, true},
		{"header of a-z, 0-9 and dashes", func(c *Config) { c.Headers.Cluster = "az-09" }, true},
		{"header starting with a dash", func(c *Config) { c.Headers.Cluster = "-x" }, false},
		{"header with an underscore", func(c *Config) { c.Headers.Cluster = "x_y" }, false},
		{"header with a slash", func(c *Config) { c.Headers.Cluster = "x/y" }, false},
		{"header with a colon", func(c *Config) { c.Headers.Cluster = "x:y" }, false},
		{"header with a brace", func(c *Config) { c.Headers.Cluster = "x{y" }, false},
		{"header with a backquote", func(c *Config) { c.Headers.Cluster = "x`y" }, false},
	} {
		cfg := valid()
		c.mutate(&cfg)
		err := cfg.Validate()
		if c.ok {
			assert.NoError(t, err, c.name)
		} else {
			assert.Error(t, err, c.name)
		}
	}
}
