// The classic Python experiment, run by k6 with real Python: function calls
// per second of CPU-bound work (counting primes) and I/O-bound work (sleeping
// 10 ms) on
//
//   python threads    one Python process running N threads (a process pool
//                     of 1 worker with concurrency N),
//   python processes  N Python processes of one thread each (N workers,
//                     concurrency 1),
//   go threads        a thread pool of N goroutines inside k6, for comparison,
//
// for N = 1, 2, 4, 8, 16. The workers are examples/python/worker.py, pure
// Python, with the same workloads as the Go built-ins. Threads share
// CPython's GIL, so on CPU-bound work more threads do not give more calls per
// second; processes do, up to the number of cores. On I/O-bound work both
// scale with N. Every cell is its own scenario; they run one after another,
// and the end of the test prints calls per second per cell and the speed-up
// over N = 1, all from k6's concurrency_tasks metric.
//
// Run it from the repository's root (the pools find the worker from this
// file's location, so any working directory works):
//
//   ./bin/k6 run examples/python-gil.js                 # 5 s per cell, 30 cells: about 3.5 minutes
//   ./bin/k6 run -e CELL=20 examples/python-gil.js      # steadier numbers
//   ./bin/k6 run -e SIZES=1,2,16 -e CELL=3 examples/python-gil.js
//   ./bin/k6 run -e PYTHON=python3.12 examples/python-gil.js
//   ./bin/k6 run -e SUMMARY_JSON=summary.json examples/python-gil.js   # k6's summary data, for tools
//
// The table goes to the terminal and the chart to python-gil.html (-e REPORT=...).
//
// The CPU-bound call is cpu.primes {limit: 20000} (2262 primes): about 8 ms
// in CPython 3.11 on this project's machine (0.4 ms in Go), short enough for
// hundreds of calls per cell and long enough that the pipe round trip (a few
// tens of microseconds) is noise. -e LIMIT=... changes it.
import exec from 'k6/execution';
import { ThreadPool, ProcessPool, report } from 'k6/x/concurrency';

const CELL = Number(__ENV.CELL ? __ENV.CELL.replace(/s$/, '') : 5); // seconds per cell
const GAP = 1; // seconds between cells, so one cell's last tasks never count in the next
const SIZES = (__ENV.SIZES || '1,2,4,8,16').split(',').map(Number);
const PYTHON = __ENV.PYTHON || 'python3';
const WORKLOADS = {
  'cpu.primes': { limit: Number(__ENV.LIMIT || 20000) },
  'io.sleep': { duration: '10ms' },
};
const SERIES = ['python threads', 'python processes', 'go threads'];
const REPORT = __ENV.REPORT || 'python-gil.html';

// The repository's root, from this file's own location: the Python worker
// runs there, whatever k6's working directory is.
const ROOT = filePath(import.meta.resolve('../'));
const PYTHON_WORKER = [PYTHON, 'examples/python/worker.py'];

function filePath(url) {
  const path = decodeURIComponent(url.replace(/^file:\/\//, ''));
  return /^\/[A-Za-z]:\//.test(path) ? path.slice(1) : path; // file:///C:/... on Windows
}

function newPool(series, size) {
  switch (series) {
    case 'python threads':
      return new ProcessPool({ name: `python-threads-${size}`, command: PYTHON_WORKER, cwd: ROOT, workers: 1, concurrency: size });
    case 'python processes':
      return new ProcessPool({ name: `python-processes-${size}`, command: PYTHON_WORKER, cwd: ROOT, workers: size, concurrency: 1, startTimeout: '60s' });
    default:
      return new ThreadPool({ name: `go-threads-${size}`, workers: size });
  }
}

// One pool per (series, size), shared by the CPU-bound and I/O-bound cells.
const pools = {};
for (const series of SERIES) {
  for (const size of SIZES) pools[`${series}/${size}`] = newPool(series, size);
}

// Cells of one size follow one another, series by series, so that a drift of
// the machine's speed hits the series alike rather than one of them.
const cells = [];
for (const workload of Object.keys(WORKLOADS)) {
  for (const size of SIZES) {
    for (const series of SERIES) {
      cells.push({ workload, series, size, scenario: `${series.replace(' ', '_')}_${workload.replace('.', '_')}_${size}` });
    }
  }
}

// The first seconds of a test run slower (k6 and the workers warm up), so a
// warm-up scenario, in no cell, runs before the first cell.
const WARMUP = 2;
const scenarios = {
  warmup: {
    executor: 'constant-vus',
    vus: 2,
    duration: `${WARMUP}s`,
    gracefulStop: `${GAP}s`,
    exec: 'warmup',
    tags: { series: 'warm-up' },
  },
};
cells.forEach((c, i) => {
  scenarios[c.scenario] = {
    executor: 'constant-vus',
    // Twice as many VUs as threads, processes or goroutines keeps every one
    // busy: each VU waits on one task at a time (runSync).
    vus: 2 * c.size,
    duration: `${CELL}s`,
    startTime: `${WARMUP + GAP + i * (CELL + GAP)}s`,
    gracefulStop: `${GAP}s`, // a task in flight at the end finishes; none is abandoned
    exec: 'cell',
    tags: { series: c.series, size: String(c.size) },
  };
});

// A threshold per cell that always passes makes k6 keep the cell's count in
// the summary data handed to handleSummary. A cell is the concurrency_tasks
// sub-metric of its scenario's tags (series, size) and the workload.
const thresholds = {
  ...report.thresholds({ series: SERIES, size: SIZES, workload: Object.keys(WORKLOADS) }),
  concurrency_task_failed: ['rate==0'],
};

export const options = { scenarios, thresholds, setupTimeout: '180s' };

const byScenario = Object.fromEntries(cells.map((c) => [c.scenario, c]));

// setup starts every pool and waits until all their workers are up
// (start()), so that starting 16 Python processes is not counted against a cell.
export async function setup() {
  await Promise.all(Object.values(pools).map((pool) => pool.start()));
}

export function warmup() {
  for (const series of SERIES) pools[`${series}/${SIZES[0]}`].runSync('cpu.primes', WORKLOADS['cpu.primes']);
}

export function cell() {
  const c = byScenario[exec.scenario.name];
  pools[`${c.series}/${c.size}`].runSync(c.workload, WORKLOADS[c.workload]);
}

// The same table and chart as the other examples, grouped by this script's
// own scenario tags: series (python threads, python processes, go threads)
// and size (N). Each cell ran CELL seconds, so calls/s is its count / CELL.
export function handleSummary(data) {
  const opts = {
    title: 'Python threads vs Python processes (and Go threads), run by k6',
    series: 'series',
    size: 'size',
    seconds: CELL,
  };
  const out = {
    stdout: `\n${report.text(data, opts)}\n\ncpu.primes ${JSON.stringify(WORKLOADS['cpu.primes'])}, io.sleep ${JSON.stringify(WORKLOADS['io.sleep'])}; ` +
      `size = threads in one Python process, Python processes, or goroutines\n`,
    [REPORT]: report.html(data, opts),
  };
  if (__ENV.SUMMARY_JSON) out[__ENV.SUMMARY_JSON] = JSON.stringify(data);
  return out;
}
