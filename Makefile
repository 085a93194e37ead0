# Detour. `make help` lists the targets.
# Tools (cue, opa, conftest, benchstat) are pinned in go.mod files and run
# with `go tool`, so a fresh machine gets the same versions.

GO      ?= go
BIN     := bin/detour
# detour-simulate runs the drills `detour simulate` hands it (it links
# Istio's generator; the pipeline commands in bin/detour do not).
SIM     := bin/detour-simulate
EXAMPLE ?= examples/bookinfo
DRILL   ?= $(EXAMPLE)/drills/local-scaled-to-zero.yaml
# Istio as its documentation configures it, the demo's first column.
BASELINE ?= $(wildcard $(EXAMPLE)/baseline-istio-docs)

.PHONY: help build test demo check schemas bench policy plugins race
.DEFAULT_GOAL := help

help: ## list targets
	@awk 'BEGIN{FS=":.*## "} /^[a-z-]+:.*## /{printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/detour and bin/detour-simulate
	$(GO) build -o bin/ ./cmd/detour ./cmd/detour-simulate

.PHONY: install
INSTALL_DIR = $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)
# Copies what build linked (go build skips an up-to-date link), so an
# install after make demo links nothing again.
install: build ## install detour and detour-simulate on PATH (into $(go env GOBIN), else $(go env GOPATH)/bin)
	mkdir -p $(INSTALL_DIR)
	cp $(BIN) $(SIM) $(INSTALL_DIR)/

.PHONY: deps
# sudo only when not root (CI runners); apt-get only when chromium is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
deps: ## install what the tests need outside Go: Debian's chromium (the SVG timeline's browser test), gcc (go test -race needs cgo)
	command -v chromium >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium fonts-dejavu-core)
	command -v gcc >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends gcc libc6-dev)

test: deps ## run every test (the CI command)
	$(GO) vet ./...
	# build the pinned stock tools first: tests run them, and a cold build must not eat a test's timeout
	$(GO) tool -n cue >/dev/null
	$(GO) tool -n opa >/dev/null
	$(GO) -C policies/tools tool conftest --version
	# compile the -trimpath release build cmd/detour's TestReleaseBuildWithoutToolchain
	# links (a second compile of the dependency tree) outside any test's timeout
	$(GO) build -trimpath ./cmd/detour ./cmd/detour-simulate
	# harness/simulator/drills runs every drill side by side (about 5 min of CPU
	# on a loaded 2-core runner): Go's default 10 min per package is too close
	$(GO) test -timeout 30m ./...
	cd compiler/istiocheck && $(GO) vet ./... && $(GO) test ./...
	$(MAKE) race

demo: build ## compile the default example, print its ladder, run its outage drill in three columns: Istio as documented, compiled, with the filters (out/demo/timeline.svg)
	$(BIN) vet $(EXAMPLE)
	$(BIN) compile -o out/demo $(EXAMPLE)
	$(BIN) explain $(EXAMPLE)
	$(BIN) simulate $(if $(BASELINE),--baseline $(BASELINE)) --json out/demo/report.json --svg out/demo/timeline.svg $(DRILL)

check: ## formatting, tidiness and staticcheck gates
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) mod tidy -diff
	$(GO) -C policies/tools mod tidy -diff
	$(GO) -C compiler/istiocheck mod tidy -diff
	$(GO) -C tools/mutants mod tidy -diff
	$(GO) tool staticcheck ./...

.PHONY: race
# The code with goroutines, under the race detector, as part of test: the
# compiler's parallel lowering and writer, the streaming loader's workers,
# the output directory's writer, the proxy-wasm host's shared data and its
# CAS rules, and the simulator (Istio's generator, the module cache and
# drills run in parallel). The slow, single-goroutine tests of these
# packages stay out (-run picks the concurrent ones): the race build is
# the cost, about 10x a test's CPU.
race: ## go test -race on the code with goroutines (part of test)
	$(GO) test -race ./internal/outdir
	$(GO) test -race -run 'Concurrent|Stream' ./compiler/load
	$(GO) test -race -run 'TestExamplesGolden' ./compiler
	$(GO) test -race -run 'Shared|Memory|Stale|Engine' ./harness/wasmhost/proxywasm
	$(GO) test -race -run 'SharedData' ./harness/wasmhost/httpsim
	$(GO) test -race -timeout 30m -run 'TestExampleDrillsSideBySide/(details|online-banking)' ./harness/simulator/drills

schemas: ## regenerate the Istio CUE definitions from the pinned istio.io/api CRDs
	./schemas/istio/generate.sh

policy: build ## check the default example and its compiled output against the Rego policies
	$(BIN) policy $(EXAMPLE)

bench: ## run the benchmarks listed in BENCHMARKS.md
	$(GO) test -timeout 60m -run '^$$' -bench . -benchmem ./...

.PHONY: fuzz
FUZZTIME ?= 10s
# Go's default minimisation budget is 60s per new input; at several ms per
# CUE evaluation, FuzzLoad and FuzzCompile spent their whole time shrinking
# one input. Ten tries per new input keeps them fuzzing.
FUZZMINIMIZETIME ?= 10x
fuzz: ## run every fuzz target in the repository for FUZZTIME each (default 10s)
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for target in $$($(GO) test -list '^Fuzz' $$dir | grep '^Fuzz'); do \
	    echo "== $$dir $$target"; \
	    $(GO) test $$dir -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME); \
	  done; \
	done

.PHONY: mutants
# Mutation testing with gremlins (pinned in tools/mutants/go.mod): one run
# per package, its own tests only (--exclude-files / keeps subpackages
# out), one worker. Every mutant is a test build and run, so the whole set
# takes hours; pick packages with MUTANTS="plugins/outlier compiler/explain".
# The timeout is the package's coverage run times the coefficient: 20
# leaves room for building each mutant, and -count=1 makes the coverage run
# a real one (a cached result takes milliseconds, and then every mutant of
# a package with slow tests "times out"). Results: out/mutants/*.json.
# The packages of issue 19 run through tools/mutants/each, which runs each
# mutant against only the tests that can see it (BENCHMARKS.md, "Beyond the
# cores"); out/mutants/PKG.log has a line per mutant, and
# MUTANTS_EACH_FLAGS=-resume goes on with a stopped run:
# - compiler/lower, harness/simulator/envoy and its internal packages:
#   -select, a per-test coverage map (cached in out/mutants/PKG.tests.json)
#   picks the tests that execute the mutant; -verify reruns each survivor
#   with the package's full tests (a survivor those kill is a selection bug,
#   printed "SELECTION MISS").
# - harness/simulator/report (the report computed from a run's records,
#   without Istio): -select -verify as above, a few seconds a mutant.
# - harness/simulator/sim (the run, the network, the fleet, resolve):
#   -select -verify as above. It no longer links Istio (its tests replay
#   Istio's recorded xDS, harness/simulator/sim/recorded), so a mutant is
#   a build of seconds and the selected tests; see BENCHMARKS.md.
# - plugins/filters: a wasip1 main package without tests; plugins/module's
#   tests build it into the Wasm module they run, where coverage does not
#   reach, so -testpkg builds plugins/module's test binary once and runs
#   every mutant against all its tests (one module rebuild each), those
#   that killed a mutant of the same file first, less the slow memory,
#   fuzz-corpus and 1.33 tests.
MUTANTS ?= $(shell $(GO) list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./compiler/... ./internal/policy ./harness/... ./plugins/... | sed 's|^$(shell $(GO) list -m)/||') plugins/filters
MUTANTS_FLAGS ?= --workers 1 --timeout-coefficient 20
MUTANTS_EACH_FLAGS ?=
MUTANTS_FILTERS_SKIP ?= ^(TestMemoryFlat|TestHeaderChangeAloneDoesNotRerouteOn133|TestFuzzedCorpusNeverTraps|TestInitialMemoryWithinGoal|FuzzRequestPath)$$
mutants: ## mutation testing (gremlins) of MUTANTS, one package at a time; slow, not part of test
	@mkdir -p out/mutants
	@set -e; gremlins=$$($(GO) -C tools/mutants tool -n gremlins); \
	for p in $(MUTANTS); do \
	  f=out/mutants/$$(echo $$p | tr / .); echo "== $$p"; flags="$$($(GO) env GOFLAGS) -count=1"; \
	  case $$p in \
	  plugins/filters) \
	    $(GO) -C tools/mutants run ./each -root $(CURDIR) -pkg $$p -testpkg plugins/module -skip '$(MUTANTS_FILTERS_SKIP)' \
	      -coefficient 3 -shuffle 19 $(MUTANTS_EACH_FLAGS) -o $(CURDIR)/$$f.json \
	      -check 'GOOS=wasip1 GOARCH=wasm $(GO) vet -atomic ./plugins/filters' >$$f.log 2>&1 || { tail -20 $$f.log; exit 1; } ;; \
	  compiler/lower|harness/simulator/report|harness/simulator/sim|harness/simulator/envoy|harness/simulator/envoy/internal/*) \
	    $(GO) -C tools/mutants run ./each -root $(CURDIR) -pkg $$p -select -verify -coefficient 5 -shuffle 19 $(MUTANTS_EACH_FLAGS) \
	      -o $(CURDIR)/$$f.json -- $(GO) test -count=1 ./$$p >$$f.log 2>&1 || { tail -20 $$f.log; exit 1; } ;; \
	  *) \
	    GOFLAGS="$$flags" $$gremlins unleash $(MUTANTS_FLAGS) --exclude-files / -o $$f.json ./$$p >$$f.log 2>&1 || { tail -20 $$f.log; exit 1; } ;; \
	  esac; \
	  tail -4 $$f.log; \
	done
	$(GO) -C tools/mutants run ./summary $(addprefix $(CURDIR)/out/mutants/,$(addsuffix .json,$(subst /,.,$(MUTANTS))))

plugins: ## rebuild the Wasm filter module detour embeds (plugins/module/shipped) and copy it into build/plugins/
	$(GO) generate ./plugins/module/shipped
	@mkdir -p build/plugins
	cp plugins/module/shipped/detour-filters.wasm build/plugins/
