#!/usr/bin/env bash
# The end-to-end benchmark of xk6-concurrency, in one command:
#
#   bench/run.sh                      REPS=3 CELL=5 (about 20 minutes on 2 CPUs)
#   QUICK=1 bench/run.sh              1 rep, 2 s cells, workers 1,2,16: a smoke run
#   REPS=5 CELL=10 bench/run.sh       steadier figures
#   BENCH_FAST_BUILD=1 bench/run.sh   go build ./cmd/k6 instead of make k6 (xk6)
#   SEED=7 bench/run.sh               another shuffled order of the cells
#
# Builds k6 with the extension once, then bench/driver.py runs the Go
# benchmarks (one go test invocation), every cell REPS times in a shuffled
# order (k6 with a thread or process pool, k6 without a pool, Python's
# executors), and the idle-cost measurement, and writes BENCHMARKS.md,
# bench/chart.svg and bench/results.json. Progress goes to stderr.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v go >/dev/null 2>&1 || die "go is not installed or not on PATH (Go 1.26 builds k6 and runs the Go benchmarks)"
command -v python3 >/dev/null 2>&1 || die "python3 is not installed or not on PATH (it drives the benchmark and is measured; 3.11 or later)"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)' \
	|| die "python3 is $(python3 -V 2>&1); the driver needs 3.8 or later"

[[ "${REPS:-3}" =~ ^[1-9][0-9]*$ ]] || die "REPS must be a whole number >= 1 (got '${REPS}')"
[[ "${CELL:-5}" =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] && python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)" "${CELL:-5}" \
	|| die "CELL must be a number of seconds > 0 (got '${CELL}')"

DRIVER_PID=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [[ -n "$DRIVER_PID" ]] && kill -0 "$DRIVER_PID" 2>/dev/null; then
		# the driver stops every process it started (and their worker processes) on SIGTERM
		kill -TERM "$DRIVER_PID" 2>/dev/null || true
		wait "$DRIVER_PID" 2>/dev/null || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

if [[ "${BENCH_FAST_BUILD:-0}" != 0 ]]; then
	say "building bin/k6: go build -o bin/k6 ./cmd/k6"
	mkdir -p bin
	go build -o bin/k6 ./cmd/k6 || die "go build of k6 failed"
	export BENCH_BUILD="go build -o bin/k6 ./cmd/k6"
else
	command -v make >/dev/null 2>&1 || die "make is not installed (or set BENCH_FAST_BUILD=1 to build with go build)"
	say "building bin/k6: make -B k6 (xk6; -B: always rebuilt, so the binary is this build)"
	make -B --no-print-directory k6 >&2 || die "make k6 failed"
	export BENCH_BUILD="make -B k6"
fi
[[ -x bin/k6 ]] || die "bin/k6 was not built"
export K6="$ROOT/bin/k6"

say "running the benchmark (progress below; REPS=${REPS:-3} CELL=${CELL:-5}${QUICK:+ QUICK=$QUICK})"
python3 bench/driver.py "$@" &
DRIVER_PID=$!
set +e
wait "$DRIVER_PID"
rc=$?
set -e
DRIVER_PID=
[[ $rc -eq 0 ]] || die "the benchmark failed (exit $rc)"
say "done: BENCHMARKS.md, bench/chart.svg, bench/results.json"
