package main

// Test selection: a mutant runs only the tests that can see it.
//
// -select (a native package, tested by its own tests): the package's test
// binary is built once with coverage and each top-level test is run alone
// with -test.coverprofile; the blocks each test executes are kept in
// out/mutants/PKG.tests.json, keyed by a hash of the copied module (any
// change to any file makes a new map). A mutant then runs, in a test
// binary built with it, only the tests whose blocks contain it, with
// -test.failfast and a timeout of -coefficient times those tests' own
// time. A mutant inside no test's blocks is NOT COVERED, as with -cover.
//
// -testpkg DIR (plugins/filters: a wasip1 package whose tests live in
// plugins/module, which builds it at run time): that package's test binary
// does not contain the mutant, so it is built once and every mutant runs
// it, in two passes with -test.failfast: first the tests that already
// killed a mutant of the same file, then the others. Every test still runs
// for a mutant that survives; a killed one usually stops in the first pass.
//
// -verify reruns every survivor of a selected run with the full test
// command after "--": a survivor the full command kills is a selection
// bug, printed as such and counted KILLED.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

type testInfo struct {
	Name   string              `json:"name"`
	Secs   float64             `json:"secs"`
	Blocks map[string][][4]int `json:"blocks,omitempty"`
}

type testMap struct {
	Key   string     `json:"key"`
	Tests []testInfo `json:"tests"`
}

// treeHash hashes every file copyTree copies (path and content), and the
// Go version: the key of a cached test map.
func treeHash(dir string) (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version())
	err := walkCopied(dir, func(rel string, b []byte) {
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(b))
		h.Write(b)
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// output runs a command and returns its combined output.
func output(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.Bytes(), err
}

// buildTest builds DIR's test binary in the copy.
func buildTest(goCmd, work, pkg, bin string, cover bool) error {
	args := []string{goCmd, "test", "-c", "-o", bin}
	if cover {
		args = append(args, "-cover", "-covermode=set")
	}
	out, err := output(work, append(args, "./"+pkg)...)
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// listTests lists the binary's top-level tests, fuzz targets (their seed
// corpus runs under -test.run) and examples, less those skip matches.
func listTests(bin, dir string, keep, skip *regexp.Regexp) ([]string, error) {
	out, err := output(dir, bin, "-test.list", ".")
	if err != nil {
		return nil, fmt.Errorf("%s -test.list: %v\n%s", bin, err, out)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if !(strings.HasPrefix(l, "Test") || strings.HasPrefix(l, "Fuzz") || strings.HasPrefix(l, "Example")) {
			continue
		}
		if (keep != nil && !keep.MatchString(l)) || (skip != nil && skip.MatchString(l)) {
			continue
		}
		names = append(names, l)
	}
	return names, nil
}

func runRegexp(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = regexp.QuoteMeta(n)
	}
	return "^(" + strings.Join(q, "|") + ")$"
}

// mapTests returns the package's per-test coverage, from the cache when
// its key matches the copy.
func mapTests(goCmd, work, pkg, cache string, keep, skip *regexp.Regexp) (*testMap, error) {
	key, err := treeHash(work)
	if err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(cache); err == nil {
		var m testMap
		if json.Unmarshal(b, &m) == nil && m.Key == key {
			fmt.Printf("test map: %s (cached, %d tests)\n", cache, len(m.Tests))
			return &m, nil
		}
	}
	bin := filepath.Join(work, "cover.test")
	if err := buildTest(goCmd, work, pkg, bin, true); err != nil {
		return nil, err
	}
	dir := filepath.Join(work, pkg)
	names, err := listTests(bin, dir, keep, skip)
	if err != nil {
		return nil, err
	}
	m := &testMap{Key: key}
	for _, n := range names {
		prof := filepath.Join(work, "test.cover")
		start := time.Now()
		out, err := output(dir, bin, "-test.run", runRegexp([]string{n}), "-test.count=1", "-test.coverprofile="+prof)
		secs := time.Since(start).Seconds()
		if err != nil {
			return nil, fmt.Errorf("unmutated %s fails: %v\n%s", n, err, out)
		}
		p, err := coverage(prof)
		if err != nil {
			return nil, err
		}
		m.Tests = append(m.Tests, testInfo{Name: n, Secs: secs, Blocks: p})
		fmt.Printf("test map: %s %.1fs\n", n, secs)
	}
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err != nil {
		return nil, err
	}
	return m, os.WriteFile(cache, b, 0o644)
}

// covering lists the tests whose executed blocks contain the mutant, and
// their time.
func (tm *testMap) covering(m mutant) ([]string, float64) {
	var names []string
	var secs float64
	for _, t := range tm.Tests {
		if profile(t.Blocks).covers(m) {
			names = append(names, t.Name)
			secs += t.Secs
		}
	}
	return names, secs
}

// runTests runs a test binary on the named tests with -test.failfast and
// returns the status and the first failing test's name.
func runTests(bin, dir string, names []string, timeout time.Duration) (string, string) {
	var b bytes.Buffer
	_, err := runTo(dir, []string{bin, "-test.run", runRegexp(names), "-test.failfast", "-test.count=1"}, timeout, &b)
	switch {
	case err == errTimeout:
		return "TIMED OUT", ""
	case err != nil:
		return "KILLED", firstFailure(b.Bytes())
	}
	return "LIVED", ""
}

func firstFailure(out []byte) string {
	for _, l := range strings.Split(string(out), "\n") {
		if f, ok := strings.CutPrefix(strings.TrimSpace(l), "--- FAIL: "); ok {
			name, _, _ := strings.Cut(f, " ")
			name, _, _ = strings.Cut(name, "/")
			return name
		}
	}
	return ""
}

// apply writes the mutant into the copy and returns the undo.
func apply(work string, m *mutant) func() {
	path := filepath.Join(work, m.file)
	orig, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	from := m.from.String()
	if string(orig[m.offset:m.offset+len(from)]) != from {
		fail(fmt.Errorf("%s:%d:%d: expected %q", m.file, m.line, m.col, from))
	}
	mutated := append(append(append([]byte{}, orig[:m.offset]...), m.to.String()...), orig[m.offset+len(from):]...)
	if err := os.WriteFile(path, mutated, 0o644); err != nil {
		fail(err)
	}
	return func() {
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			fail(err)
		}
	}
}

// trySelected runs one mutant of a native package against the tests that
// cover it.
func trySelected(goCmd, work, pkg string, m *mutant, tm *testMap, check string, coef float64, floor time.Duration) {
	names, secs := tm.covering(*m)
	if len(names) == 0 {
		m.status = "NOT COVERED"
		return
	}
	defer apply(work, m)()
	if check != "" {
		if _, err := run(work, []string{"sh", "-c", check}, 0); err != nil {
			m.status = "NOT VIABLE"
			return
		}
	}
	bin := filepath.Join(work, "mutant.test")
	if err := buildTest(goCmd, work, pkg, bin, false); err != nil {
		m.status = "NOT VIABLE"
		return
	}
	timeout := max(time.Duration(secs*coef*float64(time.Second)), floor)
	m.status, m.killer = runTests(bin, filepath.Join(work, pkg), names, timeout)
	m.tests = len(names)
}

// tryPrebuilt runs one mutant against a test binary built once (-testpkg):
// first the tests that killed mutants of the same file, then the rest.
func tryPrebuilt(work, dir, bin string, m *mutant, all []string, killers map[string]map[string]bool, check string, timeout time.Duration) {
	defer apply(work, m)()
	if check != "" {
		if _, err := run(work, []string{"sh", "-c", check}, 0); err != nil {
			m.status = "NOT VIABLE"
			return
		}
	}
	var first, rest []string
	for _, n := range all {
		if killers[m.file][n] {
			first = append(first, n)
		} else {
			rest = append(rest, n)
		}
	}
	m.tests = len(all)
	for _, names := range [][]string{first, rest} {
		if len(names) == 0 {
			continue
		}
		m.status, m.killer = runTests(bin, dir, names, timeout)
		if m.status != "LIVED" {
			break
		}
	}
	if m.killer != "" {
		if killers[m.file] == nil {
			killers[m.file] = map[string]bool{}
		}
		killers[m.file][m.killer] = true
	}
}

// selected runs the mutants with -select or -testpkg.
func selected(goCmd, work, pkg, testpkg, runRE, skipRE, mapFile, out, check string, coef float64, floor time.Duration, verify bool, ms []mutant, start time.Time) {
	var keep, skip *regexp.Regexp
	if runRE != "" {
		keep = regexp.MustCompile(runRE)
	}
	if skipRE != "" {
		skip = regexp.MustCompile(skipRE)
	}
	var tm *testMap
	var all []string
	var bin, dir string
	var timeout time.Duration
	killers := map[string]map[string]bool{}
	if testpkg == "" {
		if mapFile == "" {
			mapFile = strings.TrimSuffix(out, ".json") + ".tests.json"
		}
		var err error
		if tm, err = mapTests(goCmd, work, pkg, mapFile, keep, skip); err != nil {
			fail(err)
		}
		var secs float64
		for _, t := range tm.Tests {
			secs += t.Secs
		}
		fmt.Printf("test map ready in %s: %d tests, %.0fs alone each\n", time.Since(start).Round(time.Second), len(tm.Tests), secs)
	} else {
		bin, dir = filepath.Join(work, "prebuilt.test"), filepath.Join(work, testpkg)
		if err := buildTest(goCmd, work, testpkg, bin, false); err != nil {
			fail(err)
		}
		var err error
		if all, err = listTests(bin, dir, keep, skip); err != nil {
			fail(err)
		}
		t0 := time.Now()
		if status, killer := runTests(bin, dir, all, 0); status != "LIVED" {
			fail(fmt.Errorf("the unmutated tests fail (%s)", killer))
		}
		timeout = max(time.Duration(float64(time.Since(t0))*coef), floor)
		fmt.Printf("%s: %d tests, unmutated run %s, timeout %s\n", testpkg, len(all), time.Since(t0).Round(time.Second), timeout.Round(time.Second))
	}
	fmt.Printf("%d mutants\n", len(ms))
	for i := range ms {
		m := &ms[i]
		if m.status != "" {
			continue // resumed
		}
		t := time.Now()
		if tm != nil {
			trySelected(goCmd, work, pkg, m, tm, check, coef, floor)
		} else {
			tryPrebuilt(work, dir, bin, m, all, killers, check, timeout)
		}
		if verify && m.status == "LIVED" {
			if try(work, m, check, flag.Args(), 0) != "LIVED" {
				fmt.Printf("SELECTION MISS: the full test command kills %s:%d:%d\n", m.file, m.line, m.col)
				m.status, m.killer = "KILLED", "(full run)"
			}
		}
		fmt.Printf("%12s %s at %s:%d:%d (%d tests, %s) %s\n", m.status, m.typ, filepath.Base(m.file), m.line, m.col, m.tests, time.Since(t).Round(time.Second/10), m.killer)
		var tried []mutant
		for _, m := range ms {
			if m.status != "" {
				tried = append(tried, m)
			}
		}
		if err := write(out, tried, time.Since(start)); err != nil {
			fail(err)
		}
	}
	fmt.Printf("done in %s\n", time.Since(start).Round(time.Second))
}

// resumeFrom sets the status of the mutants a previous run of out tried.
func resumeFrom(out, pkg string, ms []mutant) error {
	b, err := os.ReadFile(out)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	var prev struct {
		Files []jsonFile `json:"files"`
	}
	if err := json.Unmarshal(b, &prev); err != nil {
		return fmt.Errorf("%s: %v", out, err)
	}
	done := map[string]jsonMutation{}
	for _, f := range prev.Files {
		for _, m := range f.Mutations {
			done[fmt.Sprintf("%s:%d:%d:%s", f.FileName, m.Line, m.Column, m.Type)] = m
		}
	}
	n := 0
	for i := range ms {
		if p, ok := done[fmt.Sprintf("%s:%d:%d:%s", filepath.Base(ms[i].file), ms[i].line, ms[i].col, ms[i].typ)]; ok {
			ms[i].status, ms[i].killer = p.Status, p.KilledBy
			n++
		}
	}
	fmt.Printf("resumed %d of %d mutants from %s\n", n, len(ms), out)
	return nil
}
