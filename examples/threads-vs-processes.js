// The threads-vs-processes experiment, run by k6: function calls per second
// for CPU-bound work (counting primes) and I/O-bound work (sleeping 10 ms)
// on a thread pool and a process pool of 4, 8 and 16 workers. Every cell is
// its own scenario; they run one after another. The end of the test prints
// calls per second for each cell and the speed-up over 4 workers
// (report.text), and writes the same as a chart to report.html (report.html).
//
//   ./k6 run examples/threads-vs-processes.js
//   ./k6 run -e CELL=30s examples/threads-vs-processes.js   # steadier numbers
//   ./k6 run -e WORKERS=1,2,4 -e CELL=5s examples/threads-vs-processes.js
//   ./k6 run -e REPORT=results/run.html examples/threads-vs-processes.js  # the page elsewhere (the directory must exist)
import exec from 'k6/execution';
import { ThreadPool, ProcessPool, report } from 'k6/x/concurrency';

const CELL = Number(__ENV.CELL ? __ENV.CELL.replace(/s$/, '') : 7); // seconds per cell
const GAP = 1; // seconds between cells, so one cell's last tasks never count in the next
const WORKERS = (__ENV.WORKERS || '4,8,16').split(',').map(Number);
const REPORT = __ENV.REPORT || 'report.html';
const WORKLOADS = {
  'cpu.primes': { limit: Number(__ENV.LIMIT || 20000) },
  'io.sleep': { duration: '10ms' },
};

// One pool per (kind, workers), shared by the CPU-bound and I/O-bound cells.
const pools = {};
for (const workers of WORKERS) {
  pools[`thread-${workers}`] = new ThreadPool({ workers });
  pools[`process-${workers}`] = new ProcessPool({ workers });
}

const cells = [];
for (const workload of Object.keys(WORKLOADS)) {
  for (const kind of ['thread', 'process']) {
    for (const workers of WORKERS) {
      cells.push({ workload, kind, workers, pool: `${kind}-${workers}`, scenario: `${kind}_${workload.replace('.', '_')}_${workers}` });
    }
  }
}

const scenarios = {};
cells.forEach((cell, i) => {
  scenarios[cell.scenario] = {
    executor: 'constant-vus',
    // Twice as many VUs as workers keeps every worker busy: each VU waits on
    // one task at a time (runSync), so the queue is never empty.
    vus: 2 * cell.workers,
    duration: `${CELL}s`,
    startTime: `${i * (CELL + GAP)}s`,
    gracefulStop: `${GAP}s`, // a task in flight at the end finishes; none is abandoned
    exec: 'cell',
  };
});

export const options = {
  scenarios,
  thresholds: {
    // One always-passing threshold per (pool_kind, workers, workload) cell,
    // so that k6 keeps each cell's count in the summary data for the report.
    ...report.thresholds({ pool_kind: ['thread', 'process'], workers: WORKERS, workload: Object.keys(WORKLOADS) }),
    concurrency_task_failed: ['rate==0'],
  },
  setupTimeout: '120s',
};

const byScenario = Object.fromEntries(cells.map((c) => [c.scenario, c]));

// setup starts every pool and waits until all their workers are up
// (start()), so that starting 16 worker processes is not counted against a cell.
export async function setup() {
  await Promise.all(Object.values(pools).map((pool) => pool.start()));
}

export function cell() {
  const c = byScenario[exec.scenario.name];
  pools[c.pool].runSync(c.workload, WORKLOADS[c.workload]);
}

// Each cell ran CELL seconds, so calls/s is its count / CELL (k6's own rate
// would divide by the whole test's duration).
export function handleSummary(data) {
  const opts = { seconds: CELL };
  return {
    stdout: `\n${report.text(data, opts)}\n`,
    [REPORT]: report.html(data, opts),
  };
}
