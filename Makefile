# xk6-concurrency: the two commands of the README, and what they need.
#
#   make example   builds k6 v2 with the extension (cmd/k6: the main xk6 v1
#                  generates) and runs the threads-vs-processes experiment
#   make test      builds that k6 once, runs `make lint`, then every test
#                  with that k6, -race, every Go benchmark once and every
#                  fuzz target briefly
#   make lint      golangci-lint (.golangci.yml), then the extension
#                  registry's checks (xk6 lint, gosec, govulncheck), with the
#                  tools tools/go.mod and tools/golangci/go.mod pin
#
# Both install what they need on a fresh machine (Go must be there).

MODULE     := github.com/k6-concurrency/xk6-concurrency
SOURCES    := $(shell find . -name '*.go' -not -name '*_test.go' -not -path './tools/*' -not -path './bin/*' -not -path './integration/*' -not -path './internal/k6test/*') go.mod go.sum
# -p 1: one package at a time, so that tests asserting on CPU-bound figures
# (Python threads vs processes, timeouts, detection times) have the machine.
GO_TEST    ?= go test -race -count=1 -p 1 -timeout 40m

.PHONY: example test lint reliability fuzz bench k6 deps clean

# Seconds per fuzz target in `make test` (scripts/fuzz.sh); `make fuzz` runs longer.
FUZZ_SECONDS ?= 5

example: bin/k6
	bin/k6 run examples/threads-vs-processes.js

test: deps bin/k6 lint
	XK6_CONCURRENCY_K6=$(CURDIR)/bin/k6 $(GO_TEST) ./...
	go test -run '^$$' -bench . -benchtime 1x -benchmem ./...
	scripts/fuzz.sh $(FUZZ_SECONDS)

# Every fuzz target for a minute; failing inputs land in testdata/fuzz.
fuzz:
	scripts/fuzz.sh 60

# The end-to-end benchmark (go run ./bench, the harness in bench/): writes
# BENCHMARKS.md, bench/chart.svg and bench/results.json. REPS, CELL, QUICK
# and SEED pass through the environment (QUICK=1 make bench: a smoke run).
bench: bin/k6
	go run ./bench -k6 $(CURDIR)/bin/k6 -build "make k6"

# The reliability suite at full length (a 30 s run with a SIGKILL every 200 ms,
# 1,000,000 tasks against a full queue); `make test` runs it shortened.
reliability: bin/k6
	mkdir -p results
	XK6_CONCURRENCY_K6=$(CURDIR)/bin/k6 XK6_RELIABILITY=full XK6_RELIABILITY_FIGURES=$(CURDIR)/results/reliability.txt \
		go test -count=1 -v -timeout 30m ./reliability/
	@cat results/reliability.txt

# k6 with this extension: k6 v2's main with the extension linked in, the
# program xk6 v1 generates. The k6 version is the one go.mod requires, and
# nowhere else.
k6: bin/k6
bin/k6: $(SOURCES)
	go build -o bin/k6 ./cmd/k6

# The build and lint tools, at the versions tools/go.mod pins (its `tool`
# lines). xk6 needs github.com/szkiba/efa, which the checksum
# database does not list.
TOOLS := bin/tools
$(TOOLS)/xk6: tools/go.mod tools/go.sum
	cd tools && GONOSUMDB=github.com/szkiba go build -o ../$(TOOLS)/ tool

# A local copy of the Go vulnerability database for govulncheck, which cannot
# reach the public one from here: indexed from the golang.org/x/vulndb module
# that tools/go.mod pins.
VULNDB := bin/vulndb
$(VULNDB)/index/db.json: $(TOOLS)/xk6
	rm -rf $(VULNDB)
	$(TOOLS)/indexdb -vulns "$$(go list -C tools -m -f '{{.Dir}}' golang.org/x/vulndb)/data/osv" -out $(VULNDB)

# golangci-lint, from its own module (tools/golangci/go.mod): in tools/go.mod
# it would build against that module's gosec and cobra, not its own.
$(TOOLS)/golangci-lint: tools/golangci/go.mod tools/golangci/go.sum
	cd tools/golangci && go build -o ../../$(TOOLS)/ tool

# golangci-lint with .golangci.yml, then xk6 lint, printed in full; fails on
# any golangci-lint finding and when an xk6 lint check that can pass here does
# not (tools/lint.sh says which cannot, and why).
lint: bin/k6 $(TOOLS)/xk6 $(TOOLS)/golangci-lint $(VULNDB)/index/db.json
	tools/lint.sh bin/k6 $(TOOLS) $(VULNDB)

# System packages some tests use, installed when missing.
deps:
	@scripts/deps.sh

clean:
	rm -rf bin k6
