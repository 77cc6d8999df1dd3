# xk6-concurrency: the two commands of the README, and what they need.
#
#   make example   builds k6 with the extension (with xk6, as users do) and
#                  runs the threads-vs-processes experiment
#   make test      builds that k6 once and runs every test with it, -race,
#                  then every Go benchmark once and every fuzz target briefly
#
# Both install what they need on a fresh machine (Go must be there).

K6_VERSION := v1.8.1
MODULE     := github.com/k6-concurrency/xk6-concurrency
SOURCES    := $(shell find . -name '*.go' -not -name '*_test.go' -not -path './tools/*' -not -path './bin/*' -not -path './integration/*' -not -path './internal/k6test/*') go.mod go.sum
# -p 1: one package at a time, so that tests asserting on CPU-bound figures
# (Python threads vs processes, timeouts, detection times) have the machine.
GO_TEST    ?= go test -race -count=1 -p 1 -timeout 40m

.PHONY: example test reliability fuzz bench k6 deps clean

# Seconds per fuzz target in `make test` (scripts/fuzz.sh); `make fuzz` runs longer.
FUZZ_SECONDS ?= 5

example: bin/k6
	bin/k6 run examples/threads-vs-processes.js

test: deps bin/k6
	XK6_CONCURRENCY_K6=$(CURDIR)/bin/k6 $(GO_TEST) ./...
	go test -run '^$$' -bench . -benchtime 1x -benchmem ./...
	scripts/fuzz.sh $(FUZZ_SECONDS)

# Every fuzz target for a minute; failing inputs land in testdata/fuzz.
fuzz:
	scripts/fuzz.sh 60

# The end-to-end benchmark: writes BENCHMARKS.md and bench/chart.svg.
bench:
	bench/run.sh

# The reliability suite at full length (a 30 s run with a SIGKILL every 200 ms,
# 1,000,000 tasks against a full queue); `make test` runs it shortened.
reliability: bin/k6
	mkdir -p results
	XK6_CONCURRENCY_K6=$(CURDIR)/bin/k6 XK6_RELIABILITY=full XK6_RELIABILITY_FIGURES=$(CURDIR)/results/reliability.txt \
		go test -count=1 -v -timeout 30m ./reliability/
	@cat results/reliability.txt

# k6 with this extension, built the way users build it.
k6: bin/k6
bin/k6: bin/xk6 $(SOURCES)
	bin/xk6 build $(K6_VERSION) --with $(MODULE)=. --output bin/k6

# xk6 v0.13.0 from the tools module (go install of it fails a deprecation look-up).
bin/xk6: tools/go.mod tools/go.sum
	go build -C tools -o ../bin/xk6 go.k6.io/xk6/cmd/xk6

# System packages some tests use, installed when missing.
deps:
	@scripts/deps.sh

clean:
	rm -rf bin k6
