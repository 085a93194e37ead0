// Command summary prints one line per gremlins result file (one package
// each, named after its path with dots, plugins.outlier.json, as `make
// mutants` writes them): how many covered mutants the package's tests
// killed, let live or timed out, the kill rate, then every survivor.
//
// A timed-out mutant counts as killed: the tests did not pass (a mutated
// loop bound that never ends is the usual case). Mutants no test of the
// package reaches (NOT COVERED) and mutants that do not compile (NOT
// VIABLE) are listed apart and left out of the rate.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

type result struct {
	Files []struct {
		FileName  string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: summary RESULT.json... (written by gremlins unleash -o)")
		os.Exit(2)
	}
	files := os.Args[1:]
	sort.Strings(files)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "package\tkilled\ttimed out\tlived\tkill rate\tnot covered\tnot viable\t")
	var lived []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var r result
		if err := json.Unmarshal(b, &r); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", f, err)
			os.Exit(1)
		}
		pkg := strings.ReplaceAll(strings.TrimSuffix(filepath.Base(f), ".json"), ".", "/")
		n := map[string]int{}
		for _, file := range r.Files {
			for _, m := range file.Mutations {
				n[m.Status]++
				if m.Status == "LIVED" {
					lived = append(lived, fmt.Sprintf("%s/%s:%d:%d %s", pkg, file.FileName, m.Line, m.Column, m.Type))
				}
			}
		}
		killed := n["KILLED"] + n["TIMED OUT"]
		rate := "-"
		if covered := killed + n["LIVED"]; covered > 0 {
			rate = fmt.Sprintf("%.1f %%", 100*float64(killed)/float64(covered))
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%s\t%d\t%d\t\n", pkg, n["KILLED"], n["TIMED OUT"], n["LIVED"], rate, n["NOT COVERED"], n["NOT VIABLE"])
	}
	w.Flush()
	if len(lived) > 0 {
		fmt.Println("\nlived:")
		for _, l := range lived {
			fmt.Println("  " + l)
		}
	}
}
