package compiler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/detour-mesh/detour/compiler/load"
)

// genIntent writes the i-th generated intent: three clusters in two regions,
// the four modes in turn, half of them with subsets, every fifth at the edge.
func genIntent(i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: detour.dev/v1alpha1\nkind: FailoverIntent\nmetadata: {name: svc-%d, namespace: team-%d}\n", i, i%50)
	b.WriteString("spec:\n  service: {port: 8080}\n")
	if i%5 == 4 {
		fmt.Fprintf(&b, "  entry: {kind: edge, edge: {hosts: [svc-%d.example.com], gatewaySelector: {app: edge}, port: 443, credentialName: tls-%d}}\n", i, i)
	}
	weights := []string{"", "", ""}
	mode := []string{"auto", "named", "weighted", "activeStandby"}[i%4]
	switch mode {
	case "weighted":
		weights = []string{", weight: 80", ", weight: 10", ", weight: 10"}
	case "activeStandby":
		weights = []string{", weight: 100", ", weight: 0", ", weight: 0"}
	}
	b.WriteString("  clusters:\n")
	for c, loc := range [][2]string{{"us-east1", "us-east1-b"}, {"us-east1", "us-east1-c"}, {"eu-west1", "eu-west1-a"}} {
		fmt.Fprintf(&b, "    - {name: c%d, region: %s, zone: %s, network: n%d, eastWestGateway: {address: 10.%d.0.1}, capacity: 900, load: 300, endpoints: 3%s}\n",
			c, loc[0], loc[1], c, c, weights[c])
	}
	fmt.Fprintf(&b, "  failover: {mode: %s", mode)
	if mode == "named" {
		b.WriteString(", order: [c2, c0, c1]")
	}
	b.WriteString("}\n")
	if i%2 == 0 {
		b.WriteString("  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]\n")
	}
	b.WriteString("  exposure: {mtls: ISTIO_MUTUAL}\n")
	return []byte(b.String())
}

// BenchmarkCompile measures the whole of `detour compile` on a directory of
// N generated intent files: load (CUE validation and defaults, one engine
// per worker), lower, analyse, render the YAML and write every file into
// the output directory (temporary directory, rename, replacing the last
// iteration's output), as compiler.WriteStream does for the CLI.
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("intents=%d", n), func(b *testing.B) {
			in := b.TempDir()
			for i := range n {
				if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("intent-%05d.yaml", i)), genIntent(i), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			out := filepath.Join(b.TempDir(), "out")
			files := 0
			for b.Loop() {
				res, err := WriteStream(context.Background(), out, []string{in}, nil, GoldenOptions)
				if err != nil {
					b.Fatal(err)
				}
				files = res.Files
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "intents/s")
			b.ReportMetric(float64(files), "files")
		})
	}
}

// BenchmarkLowerAndMarshal isolates the compiler proper from loading.
func BenchmarkLowerAndMarshal(b *testing.B) {
	const n = 1000
	srcs := make([]load.Source, 0, n)
	for i := range n {
		s, err := load.Bytes(fmt.Sprintf("intent-%d.yaml", i), genIntent(i))
		if err != nil {
			b.Fatal(err)
		}
		srcs = append(srcs, s...)
	}
	b.Run(fmt.Sprintf("intents=%d", n), func(b *testing.B) {
		for b.Loop() {
			if _, err := Compile(srcs, GoldenOptions); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "intents/s")
	})
}

// TestGeneratedIntentsCompile keeps the benchmark's input honest: every
// generated shape loads and compiles.
func TestGeneratedIntentsCompile(t *testing.T) {
	for i := range 20 {
		srcs, err := load.Bytes(fmt.Sprintf("intent-%d.yaml", i), genIntent(i))
		if err != nil {
			t.Fatalf("intent %d: %v\n%s", i, err, genIntent(i))
		}
		if _, err := Compile(srcs, GoldenOptions); err != nil {
			t.Fatalf("intent %d: %v", i, err)
		}
	}
}
