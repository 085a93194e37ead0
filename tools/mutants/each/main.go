// Command each runs gremlins' default mutants of one package against a
// test command of the caller's choice, one mutant at a time, in a copy of
// the module. It exists for the packages gremlins cannot test itself:
// plugins/filters is a wasip1 main package without tests of its own (the
// tests that exercise it, in plugins/module, build it into a Wasm module
// and run it in a host, where Go's coverage profile does not reach), so
// gremlins sees every mutant as not covered. Here every mutant is run.
//
//	go -C tools/mutants run ./each -root . -pkg plugins/filters \
//	    -check 'GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o /dev/null ./plugins/filters' \
//	    -o out/mutants/plugins.filters.json -- go test -count=1 ./plugins/module -run 'Glue|...'
//
// The mutants are gremlins' defaults (ARITHMETIC_BASE, CONDITIONALS_BOUNDARY,
// CONDITIONALS_NEGATION, INCREMENT_DECREMENT, INVERT_NEGATIVES), found on
// the same AST nodes and written in the same JSON shape, so
// tools/mutants/summary reads both. A mutant whose -check fails is NOT
// VIABLE; one whose tests fail is KILLED; one whose tests outlive the
// timeout (the unmutated run's time times -coefficient) is TIMED OUT.
// -list prints the mutants and runs nothing (to estimate a run's cost).
//
// -select and -testpkg run each mutant against only the tests that can
// see it, from a test binary built once per mutant (or once per run), so
// a full run of a package fits in an afternoon; -resume goes on with a
// stopped run. See select.go.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// mutations maps a mutant type to the token changes gremlins makes for it
// (gremlins' internal/engine/mappings.go, default types only).
var mutations = map[string]map[token.Token]token.Token{
	"ARITHMETIC_BASE": {token.ADD: token.SUB, token.SUB: token.ADD, token.MUL: token.QUO,
		token.QUO: token.MUL, token.REM: token.MUL},
	"CONDITIONALS_BOUNDARY": {token.GEQ: token.GTR, token.GTR: token.GEQ, token.LEQ: token.LSS,
		token.LSS: token.LEQ},
	"CONDITIONALS_NEGATION": {token.EQL: token.NEQ, token.NEQ: token.EQL, token.GEQ: token.LSS,
		token.GTR: token.LEQ, token.LEQ: token.GTR, token.LSS: token.GEQ},
	"INCREMENT_DECREMENT": {token.INC: token.DEC, token.DEC: token.INC},
	"INVERT_NEGATIVES":    {token.SUB: token.ADD},
}

type mutant struct {
	file   string // relative to the module root
	offset int
	line   int
	col    int
	typ    string
	from   token.Token
	to     token.Token
	status string
	killer string // the first failing test, when known
	tests  int    // how many tests ran (selected runs)
}

func main() {
	root := flag.String("root", ".", "module root to copy")
	pkg := flag.String("pkg", "", "package directory to mutate, relative to -root")
	only := flag.String("files", "", "mutate only files whose base name matches this regexp")
	except := flag.String("exclude-files", "", "do not mutate files whose base name matches this regexp")
	check := flag.String("check", "", "shell command that must succeed for a mutant to be viable (a build)")
	out := flag.String("o", "", "JSON result file (gremlins' shape)")
	coef := flag.Float64("coefficient", 3, "timeout = unmutated test time × coefficient")
	list := flag.Bool("list", false, "print the mutants and exit")
	shuffle := flag.Uint64("shuffle", 0, "run the mutants in an order shuffled with this seed (not 0): a run stopped part way has tried a uniform sample")
	cover := flag.Bool("cover", false, "the test command is `go test ...` of the package: run it once with -coverprofile and mark mutants outside covered blocks NOT COVERED, as gremlins does")
	at := flag.String("at", "", "run only the mutants at these positions (file.go:line:col, comma-separated): a survivor's retest")
	sel := flag.Bool("select", false, "run each mutant against only the package's tests that execute it (per-test coverage map, cached in -map); see select.go")
	testpkg := flag.String("testpkg", "", "build this package's test binary once and run every mutant against it, tests that killed a mutant of the same file first; see select.go")
	runRE := flag.String("run", "", "with -select or -testpkg: keep only the top-level tests this regexp matches")
	skip := flag.String("skip", "", "with -select or -testpkg: leave out the tests this regexp matches")
	mapFile := flag.String("map", "", "with -select: the per-test coverage cache (default: -o with .tests.json)")
	verify := flag.Bool("verify", false, "with -select or -testpkg: rerun every survivor with the full test command after --")
	floor := flag.Duration("floor", 20*time.Second, "with -select or -testpkg: the least timeout of a mutant's test run")
	goCmd := flag.String("go", "go", "the go command")
	resume := flag.Bool("resume", false, "keep the results already in -o and run only the mutants it lacks (a stopped run goes on)")
	flag.Parse()
	needCmd := (!*sel && *testpkg == "") || *verify
	if *pkg == "" || (!*list && ((needCmd && flag.NArg() == 0) || *out == "")) {
		fmt.Fprintln(os.Stderr, "usage: each -pkg DIR [-files RE] [-check CMD] [-select | -testpkg DIR] -o OUT.json [-- TEST COMMAND...]")
		os.Exit(2)
	}
	ms, err := find(*root, *pkg, *only, *except)
	if err != nil {
		fail(err)
	}
	if *at != "" {
		want := map[string]bool{}
		for _, a := range strings.Split(*at, ",") {
			want[strings.TrimSpace(a)] = true
		}
		var keep []mutant
		for _, m := range ms {
			if want[fmt.Sprintf("%s:%d:%d", filepath.Base(m.file), m.line, m.col)] {
				keep = append(keep, m)
			}
		}
		ms = keep
	}
	if *shuffle != 0 {
		rand.New(rand.NewPCG(*shuffle, 0)).Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
	}
	if *resume {
		if err := resumeFrom(*out, *pkg, ms); err != nil {
			fail(err)
		}
	}
	if *list {
		for _, m := range ms {
			fmt.Printf("%s:%d:%d %s\n", m.file, m.line, m.col, m.typ)
		}
		fmt.Println(len(ms), "mutants")
		return
	}
	work, err := os.MkdirTemp("", "mutants-each-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(work)
	if err := copyTree(*root, work); err != nil {
		fail(err)
	}
	// The copy is thrown away, so an interrupted run leaves the checkout
	// as it was; remove the copy on ^C too. First the run stops: no
	// result is written after the signal (the loop goes on while the copy
	// is removed, and what it tries then, a build without its files,
	// would be written as killed or not viable), and the running test,
	// in a process group of its own that the signal did not reach, is
	// killed.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		state.Lock()
		state.stopping = true
		if state.child != 0 {
			syscall.Kill(-state.child, syscall.SIGKILL)
		}
		state.Unlock()
		os.RemoveAll(work)
		os.Exit(130)
	}()

	start := time.Now()
	if *sel || *testpkg != "" {
		selected(*goCmd, work, *pkg, *testpkg, *runRE, *skip, *mapFile, *out, *check, *coef, *floor, *verify, ms, start)
		return
	}
	test := flag.Args()
	if *cover {
		test = append(append(append([]string{}, test[:2]...), "-coverprofile="+filepath.Join(work, "cover.out")), test[2:]...)
	}
	base, err := run(work, test, 0)
	if err != nil {
		fail(fmt.Errorf("the unmutated tests fail: %v", err))
	}
	if *cover {
		blocks, err := coverage(filepath.Join(work, "cover.out"))
		if err != nil {
			fail(err)
		}
		for i := range ms {
			if !blocks.covers(ms[i]) {
				ms[i].status = "NOT COVERED"
			}
		}
	}
	timeout := time.Duration(float64(base) * *coef)
	fmt.Printf("unmutated run %s, timeout %s, %d mutants\n", base.Round(time.Second), timeout.Round(time.Second), len(ms))
	for i := range ms {
		m := &ms[i]
		if m.status != "" {
			fmt.Printf("%12s %s at %s:%d:%d\n", m.status, m.typ, filepath.Base(m.file), m.line, m.col)
			continue
		}
		m.status = try(work, m, *check, flag.Args(), timeout)
		fmt.Printf("%12s %s at %s:%d:%d\n", m.status, m.typ, filepath.Base(m.file), m.line, m.col)
		// Written after every mutant: a run stopped part way leaves the
		// mutants it tried (the others are left out, not counted).
		if err := write(*out, ms[:i+1], time.Since(start)); err != nil {
			fail(err)
		}
	}
	fmt.Printf("done in %s\n", time.Since(start).Round(time.Second))
}

func fail(err error) {
	if stopped() {
		select {} // the signal handler exits once the copy is removed
	}
	fmt.Fprintln(os.Stderr, "each:", err)
	os.Exit(1)
}

// state is what a signal stops: once stopping is set, no result is
// written and no command started; child is the running command's
// process group (0: none).
var state struct {
	sync.Mutex
	stopping bool
	child    int
}

func stopped() bool {
	state.Lock()
	defer state.Unlock()
	return state.stopping
}

// find lists the mutants of the package's non-test files in source order.
func find(root, pkg, only, except string) ([]mutant, error) {
	re, err := regexp.Compile(only)
	if err != nil {
		return nil, err
	}
	ex, err := regexp.Compile(except)
	if err != nil {
		return nil, err
	}
	names, err := filepath.Glob(filepath.Join(root, pkg, "*.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	types := make([]string, 0, len(mutations))
	for t := range mutations {
		types = append(types, t)
	}
	sort.Strings(types)
	var ms []mutant
	fset := token.NewFileSet()
	for _, name := range names {
		base := filepath.Base(name)
		if strings.HasSuffix(base, "_test.go") || !re.MatchString(base) || (except != "" && ex.MatchString(base)) {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		rel := filepath.Join(pkg, base)
		ast.Inspect(f, func(n ast.Node) bool {
			var tok token.Token
			var pos token.Pos
			switch n := n.(type) {
			case *ast.BinaryExpr:
				tok, pos = n.Op, n.OpPos
			case *ast.UnaryExpr:
				// gremlins mutates a unary minus as INVERT_NEGATIVES only;
				// ARITHMETIC_BASE of a unary '-' is the same text.
				if n.Op == token.SUB {
					p := fset.Position(n.OpPos)
					ms = append(ms, mutant{file: rel, offset: p.Offset, line: p.Line, col: p.Column,
						typ: "INVERT_NEGATIVES", from: token.SUB, to: token.ADD})
				}
				return true
			case *ast.IncDecStmt:
				tok, pos = n.Tok, n.TokPos
			default:
				return true
			}
			p := fset.Position(pos)
			for _, t := range types {
				if t == "INVERT_NEGATIVES" {
					continue
				}
				if to, ok := mutations[t][tok]; ok {
					ms = append(ms, mutant{file: rel, offset: p.Offset, line: p.Line, col: p.Column,
						typ: t, from: tok, to: to})
				}
			}
			return true
		})
	}
	return ms, nil
}

// try applies one mutant in the copy, runs the check and the tests, and
// puts the file back.
func try(work string, m *mutant, check string, test []string, timeout time.Duration) string {
	defer apply(work, m)()
	if check != "" {
		if _, err := run(work, []string{"sh", "-c", check}, 0); err != nil {
			return "NOT VIABLE"
		}
	}
	_, err := run(work, test, timeout)
	switch {
	case err == errTimeout:
		return "TIMED OUT"
	case err != nil:
		return "KILLED"
	}
	return "LIVED"
}

// run runs a command in dir, in its own process group so a timeout kills
// the test binary go test started as well.
func run(dir string, args []string, timeout time.Duration) (time.Duration, error) {
	return runTo(dir, args, timeout, nil)
}

var errTimeout = context.DeadlineExceeded

// runTo is run with the command's output written to w.
func runTo(dir string, args []string, timeout time.Duration, w io.Writer) (time.Duration, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	state.Lock()
	if state.stopping {
		state.Unlock()
		select {} // the signal handler exits once the copy is removed
	}
	if err := cmd.Start(); err != nil {
		state.Unlock()
		return 0, err
	}
	state.child = cmd.Process.Pid
	state.Unlock()
	defer func() {
		state.Lock()
		state.child = 0
		state.Unlock()
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var expire <-chan time.Time
	if timeout > 0 {
		expire = time.After(timeout)
	}
	select {
	case err := <-done:
		return time.Since(start), err
	case <-expire:
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return time.Since(start), errTimeout
	}
}

// copyTree copies the module without .git and the build outputs.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if skipDir(rel) {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, info.Mode().Perm())
	})
}

func skipDir(rel string) bool {
	return rel == ".git" || rel == "out" || rel == "bin" || rel == "build"
}

// walkCopied calls f with every file copyTree copies from dir, in order.
func walkCopied(dir string, f func(rel string, b []byte)) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if skipDir(rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasSuffix(rel, ".test") || strings.HasSuffix(rel, ".cover") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f(rel, b)
		return nil
	})
}

type jsonMutation struct {
	Type     string `json:"type"`
	Status   string `json:"status"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	KilledBy string `json:"killed_by,omitempty"`
}

type jsonFile struct {
	FileName  string         `json:"file_name"`
	Mutations []jsonMutation `json:"mutations"`
}

// write writes the results so far, whole (a temp file renamed over out).
func write(out string, tried []mutant, elapsed time.Duration) error {
	state.Lock()
	defer state.Unlock()
	if state.stopping {
		return nil
	}
	ms := append([]mutant{}, tried...)
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].file != ms[j].file {
			return ms[i].file < ms[j].file
		}
		return ms[i].offset < ms[j].offset
	})
	var files []jsonFile
	idx := map[string]int{}
	for _, m := range ms {
		name := filepath.Base(m.file)
		i, ok := idx[name]
		if !ok {
			i = len(files)
			idx[name] = i
			files = append(files, jsonFile{FileName: name})
		}
		files[i].Mutations = append(files[i].Mutations, jsonMutation{m.typ, m.status, m.line, m.col, m.killer})
	}
	b, err := json.MarshalIndent(struct {
		Files       []jsonFile `json:"files"`
		ElapsedTime float64    `json:"elapsed_time"`
	}{files, elapsed.Seconds()}, "", "  ")
	if err != nil {
		return err
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// profile holds the covered blocks of a coverage profile by file base name
// (the package is one directory).
type profile map[string][][4]int

// coverage reads the blocks a go test -coverprofile run executed.
func coverage(path string) (profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := profile{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		var file string
		var sl, sc, el, ec, n, count int
		i := strings.LastIndex(line, ".go:")
		if i < 0 {
			continue
		}
		file = filepath.Base(line[:i+3])
		if _, err := fmt.Sscanf(line[i+4:], "%d.%d,%d.%d %d %d", &sl, &sc, &el, &ec, &n, &count); err != nil {
			return nil, fmt.Errorf("%s: %q: %v", path, line, err)
		}
		if count > 0 {
			p[file] = append(p[file], [4]int{sl, sc, el, ec})
		}
	}
	return p, nil
}

func (p profile) covers(m mutant) bool {
	for _, b := range p[filepath.Base(m.file)] {
		after := m.line > b[0] || (m.line == b[0] && m.col >= b[1])
		before := m.line < b[2] || (m.line == b[2] && m.col <= b[3])
		if after && before {
			return true
		}
	}
	return false
}
