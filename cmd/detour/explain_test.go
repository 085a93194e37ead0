package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExplainCLI(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{name: "text", args: []string{"../../examples/bookinfo"}, wantCode: exitOK, wantOut: []string{
			"bookinfo/reviews  (mode auto, entry eastWest)",
			"from cluster-1  P0 cluster-1 100%  ->  P1 cluster-2 100%",
			"cluster cluster-1  cluster-1 -> cluster-2 100% (250 rps)  cluster-2 550/600",
		}},
		{name: "overload is flagged", args: []string{"../../examples/canary-health-aware"}, wantCode: exitOK, wantOut: []string{
			"cluster cluster-1", "cluster-canary 500/200", "OVERLOADED cluster-canary",
		}},
		{name: "absorbed", args: []string{"../../examples/edge-auto"}, wantCode: exitOK, wantOut: []string{
			"region region-1", "cluster-2 700/800", "absorbed",
		}},
		{name: "strict split drops", args: []string{"../../examples/canary-strict"}, wantCode: exitOK, wantOut: []string{
			"(strict split, no failover)", "cluster-1 drops 10% (45 rps)",
		}},
		{name: "standby", args: []string{"../../examples/online-banking"}, wantCode: exitOK, wantOut: []string{
			"P0 west 100%  ->  P1 standby east 100%",
		}},
		{name: "two regions at once", args: []string{"--depth", "2", "../../examples/edge-named"}, wantCode: exitOK, wantOut: []string{
			"regions ",
		}},
		{name: "bad depth", args: []string{"--depth", "3", "../../examples/bookinfo"}, wantCode: exitUsage, wantErr: "--depth must be 1 or 2"},
		{name: "invalid", args: []string{"testdata/compile/invalid.yaml"}, wantCode: exitInvalid, wantErr: "invalid.yaml:16:11: spec.exposure.mtls"},
		{name: "two paths", args: []string{"a", "b"}, wantCode: exitUsage, wantErr: "exactly one PATH"},
		{name: "bad format", args: []string{"--format", "xml", "../../examples/bookinfo"}, wantCode: exitUsage, wantErr: `unknown --format "xml"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"explain"}, tc.args...), &stdout, &stderr)
			assert.Equal(t, tc.wantCode, code, stderr.String())
			for _, w := range tc.wantOut {
				assert.Contains(t, stdout.String(), w)
			}
			assert.Contains(t, stderr.String(), tc.wantErr)
		})
	}
}

func TestExplainJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"explain", "../../examples/bookinfo", "--format", "json"}, &stdout, &stderr)
	require.Equal(t, exitOK, code, stderr.String())
	var got []struct {
		Namespace, Name string
		Report          struct {
			Ladders []struct{ From string } `json:"ladders"`
			WhatIf  []struct {
				Absorbed bool `json:"absorbed"`
			} `json:"whatIf"`
		}
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &got))
	require.Len(t, got, 1)
	assert.Equal(t, "reviews", got[0].Name)
	assert.Len(t, got[0].Report.Ladders, 2)
	assert.Len(t, got[0].Report.WhatIf, 6)
}
