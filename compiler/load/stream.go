package load

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/detour-mesh/detour/internal/walk"
	"github.com/detour-mesh/detour/internal/yamldoc"
)

// Input is a named YAML/JSON (or, by its name, CUE) stream, such as
// standard input.
type Input struct {
	Name string
	R    io.Reader
}

// Doc is the outcome of one document of a YAML/JSON stream (or of one CUE
// package): its valid intents, or its problems sorted by position.
type Doc struct {
	Sources []Source
	Errs    Errors
}

// Workers bounds the goroutines that validate documents, each with a CUE
// engine of its own (a cue.Context is not safe for concurrent use); 0
// means GOMAXPROCS.
var Workers = 0

// spawnAfter is how many documents each running worker must have waiting
// before another starts: a second engine costs about as much to build as
// a few dozen intents cost to validate, so small inputs use one.
const spawnAfter = 8

// window bounds the documents read ahead of the one being delivered, per
// worker: memory stays flat however long the stream.
const window = 32

// maxDoc bounds one document of a stream: it is held in memory whole.
const maxDoc = 256 << 20

// Stream validates paths (as Paths does) and then inputs, document by
// document on up to Workers goroutines, and calls fn with each document's
// outcome in input order (paths in the order given, a directory's files by
// name, a file's documents from top to bottom) as soon as it and every
// document before it are done. Only a bounded number of documents is read
// ahead, so memory does not grow with the stream's length.
//
// Every problem in the input is reported to fn in a Doc; Stream itself
// returns only fn's error or ctx's, after which nothing more is read.
// Within one argument (a file, a directory, an input) two intents for one
// service are an error at the second.
func Stream(ctx context.Context, paths []string, inputs []Input, fn func(Doc) error) error {
	return StreamWith(ctx, paths, inputs, StreamOptions{}, fn)
}

// StreamOptions adds work to Stream.
type StreamOptions struct {
	// Work, if set, runs on the worker that validated an intent, for each
	// valid intent, in parallel and in no particular order, before fn sees
	// it (compile renders and writes each intent's files there). Its error
	// becomes the document's, positioned at the intent.
	Work func(*Source) error
}

// StreamWith is Stream with opts.
func StreamWith(ctx context.Context, paths []string, inputs []Input, opts StreamOptions, fn func(Doc) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	max := Workers
	if max <= 0 {
		max = runtime.GOMAXPROCS(0)
	}
	p := &pipeline{
		ctx:     ctx,
		work:    opts.Work,
		max:     max,
		jobs:    make(chan *job, window*max),
		results: make(chan *outcome, window*max),
		slots:   make(chan struct{}, window*max),
	}
	go func() {
		p.produce(paths, inputs)
		close(p.jobs)
		p.workers.Wait()
		close(p.results)
	}()
	defer func() {
		cancel()
		for range p.results { // let the workers finish and exit
		}
	}()

	var (
		seq     sequencer
		pending = map[int]*outcome{}
		next    int
	)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case o, ok := <-p.results:
			if !ok {
				if err := ctx.Err(); err != nil {
					return err
				}
				return nil
			}
			pending[o.seq] = o
			for o := pending[next]; o != nil; o = pending[next] {
				delete(pending, next)
				next++
				<-p.slots
				if d, ok := seq.take(o); ok {
					if err := fn(d); err != nil {
						return err
					}
				}
			}
		}
	}
}

// job is one unit of work: a document of a YAML/JSON stream, a CUE
// package, a problem found while reading, or the end of a file.
type job struct {
	seq   int
	group int // the argument it comes from
	file  string
	data  []byte // one document
	line  int    // lines of the file before data
	cue   []userFile
	errs  Errors
	end   bool // the file has no more documents
}

type outcome struct {
	*job
	srcs   []Source
	errs   Errors
	docs   int  // documents that are not empty
	syntax bool // a YAML syntax error: the rest of the file is not evaluated
}

type pipeline struct {
	ctx     context.Context
	work    func(*Source) error
	max     int
	jobs    chan *job
	results chan *outcome
	slots   chan struct{} // jobs read and not yet delivered
	workers sync.WaitGroup
	running int
	seq     int
}

// emit queues j, waiting while the window is full; false once the
// consumer has stopped.
func (p *pipeline) emit(j *job) bool {
	select {
	case p.slots <- struct{}{}:
	case <-p.ctx.Done():
		return false
	}
	j.seq = p.seq
	p.seq++
	if p.running == 0 || p.running < p.max && len(p.jobs) >= p.running*spawnAfter {
		p.spawn(p.running == 0)
	}
	select {
	case p.jobs <- j:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// spawn starts a worker with an engine of its own; the first one waits for
// an engine, the others start only if one is idle or may be built.
func (p *pipeline) spawn(first bool) {
	eng, build := engines.acquire(first)
	if eng == nil && build == nil {
		return
	}
	p.running++
	p.workers.Add(1)
	go func() {
		defer p.workers.Done()
		var err error
		if eng == nil {
			eng, err = build()
		}
		if err == nil {
			defer engines.release(eng)
		}
		for j := range p.jobs {
			if err != nil {
				p.results <- &outcome{job: j, errs: Errors{{File: j.file, Msg: err.Error()}}}
				continue
			}
			p.results <- eng.work(j, p.work)
		}
	}()
}

// work validates one job.
func (e *engine) work(j *job, work func(*Source) error) *outcome {
	o := &outcome{job: j}
	switch {
	case j.end:
	case len(j.errs) > 0:
		o.errs = j.errs
	case j.cue != nil:
		srcs, err := e.loadCUE(j.cue)
		o.srcs, o.errs = srcs, asErrors(err)
	default:
		srcs, err := guard(j.file, func() ([]Source, error) {
			srcs, errs, n, syntax := e.yamlDocs(j.file, j.data)
			o.docs, o.syntax = n, syntax
			if len(errs) > 0 {
				return srcs, errs
			}
			return srcs, nil
		})
		o.srcs, o.errs = srcs, asErrors(err)
		// Positions are relative to the document: make them the file's.
		for _, e := range o.errs {
			if e.File == j.file && e.Line > 0 {
				e.Line += j.line
			}
		}
		for i := range o.srcs {
			o.srcs[i].Line += j.line
		}
	}
	if len(o.errs) == 0 && work != nil {
		for i := range o.srcs {
			s := &o.srcs[i]
			if err := work(s); err != nil {
				o.errs = append(o.errs, &Error{File: s.File, Line: s.Line, Column: s.Column, Msg: err.Error()})
			}
		}
	}
	if len(o.errs) > 0 {
		o.srcs = nil
		o.errs = sortErrors(o.errs)
	}
	return o
}

// produce reads the arguments in order and queues their documents.
func (p *pipeline) produce(paths []string, inputs []Input) {
	for g, path := range paths {
		if !p.path(g, path) {
			return
		}
	}
	for i, in := range inputs {
		if !p.stream(len(paths)+i, in.Name, in.R) {
			return
		}
	}
}

func (p *pipeline) fail(g int, file, msg string) bool {
	return p.emit(&job{group: g, file: file, errs: Errors{{File: file, Msg: msg}}})
}

func (p *pipeline) path(g int, path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return p.fail(g, path, statMessage(err))
	}
	if fi.IsDir() {
		return p.dir(g, path)
	}
	if !walk.InputFile(path) {
		return p.fail(g, path, "unsupported file type; expected .yaml, .yml, .json or .cue")
	}
	return p.file(g, path)
}

func (p *pipeline) file(g int, name string) bool {
	f, err := os.Open(name)
	if err != nil {
		return p.fail(g, name, err.Error())
	}
	defer f.Close()
	return p.stream(g, name, f)
}

// dir queues a directory by the one directory rule (internal/walk): the
// whole tree, hidden directories, cue.mod and compiled output skipped. A
// YAML or JSON file found this way is read only if it holds an intent
// (holdsIntent: drills, workflows and team VirtualService files live next
// to intents); then each directory's .cue files, as one package, if one of
// them mentions an intent. A file named on the command line is always read
// (path).
func (p *pipeline) dir(g int, dir string) bool {
	files, err := walk.Tree(dir)
	if err != nil {
		return p.fail(g, dir, err.Error())
	}
	plain, packages := walk.Split(files)
	found, failed := false, false
	for _, name := range plain {
		f, err := os.Open(name)
		if err != nil {
			failed = true
			if !p.fail(g, name, err.Error()) {
				return false
			}
			continue
		}
		intentFile := holdsIntent(f)
		f.Close()
		if !intentFile {
			continue
		}
		found = true
		if !p.file(g, name) {
			return false
		}
	}
	for _, pkg := range packages {
		var (
			cueFiles []userFile
			mentions bool
		)
		for _, name := range pkg {
			data, err := os.ReadFile(name)
			if err != nil {
				failed = true
				if !p.fail(g, name, err.Error()) {
					return false
				}
				continue
			}
			cueFiles = append(cueFiles, userFile{name, data})
			mentions = mentions || mentionsIntent(data)
		}
		if !mentions {
			continue
		}
		found = true
		if !p.emit(&job{group: g, file: cueFiles[0].name, cue: cueFiles}) {
			return false
		}
	}
	if !found && !failed {
		return p.fail(g, dir, "no intents in directory or below (no .yaml, .yml or .json document of kind FailoverIntent, no .cue file mentioning FailoverIntent or #Intent; hidden directories, cue.mod and compiled output are skipped)")
	}
	return true
}

// stream queues the documents of r, a file or an input named name.
func (p *pipeline) stream(g int, name string, r io.Reader) bool {
	if filepath.Ext(name) == ".cue" {
		data, err := io.ReadAll(io.LimitReader(r, maxDoc+1))
		switch {
		case err != nil:
			return p.fail(g, name, err.Error())
		case len(data) > maxDoc:
			return p.fail(g, name, fmt.Sprintf("more than %d MiB", maxDoc>>20))
		}
		return p.emit(&job{group: g, file: name, cue: []userFile{{name, data}}})
	}
	ok, pieces := true, 0
	err := yamldoc.Split(r, maxDoc, func(data []byte, line int) bool {
		pieces++
		ok = p.emit(&job{group: g, file: name, data: data, line: line})
		return ok
	})
	if !ok {
		return false
	}
	// An empty file is decoded too: the decoder says what it lacks.
	if pieces == 0 && err == nil && !p.emit(&job{group: g, file: name, data: []byte{}}) {
		return false
	}
	if err != nil && !p.fail(g, name, err.Error()) {
		return false
	}
	return p.emit(&job{group: g, file: name, end: true})
}

// sequencer turns outcomes, in input order, into Docs: it drops the rest
// of a file after a syntax error, reports a file without intents, and
// rejects a second intent for one service within an argument.
type sequencer struct {
	group  int
	seen   map[[2]string]position
	file   string
	docs   int
	bad    bool
	broken bool
}

func (s *sequencer) take(o *outcome) (Doc, bool) {
	if s.seen == nil || o.group != s.group {
		s.group, s.seen = o.group, map[[2]string]position{}
	}
	if o.file != s.file {
		s.file, s.docs, s.bad, s.broken = o.file, 0, false, false
	}
	if o.data != nil || o.end {
		if s.broken {
			return Doc{}, false
		}
		s.docs += o.docs
		s.bad = s.bad || len(o.errs) > 0
		s.broken = o.syntax
	}
	if o.end {
		if s.docs == 0 && !s.bad {
			return Doc{Errs: Errors{{File: o.file, Line: 1, Column: 1, Msg: "no intent in file; expected a FailoverIntent document"}}}, true
		}
		return Doc{}, false
	}
	d := Doc{Errs: o.errs}
	for _, src := range o.srcs {
		k := [2]string{src.Intent.Metadata.Namespace, src.Intent.Metadata.Name}
		if first, ok := s.seen[k]; ok {
			d.Errs = append(d.Errs, &Error{File: src.File, Line: src.Line, Column: src.Column,
				Msg: fmt.Sprintf("duplicate intent %s/%s (also at %s:%d:%d)", k[0], k[1], first.file, first.line, first.column)})
			continue
		}
		s.seen[k] = position{src.File, src.Line, src.Column} // not the intent: memory stays flat
		d.Sources = append(d.Sources, src)
	}
	if len(d.Errs) > 0 {
		d.Sources = nil
	}
	return d, len(d.Sources) > 0 || len(d.Errs) > 0
}

// position is where an intent was written.
type position struct {
	file         string
	line, column int
}
