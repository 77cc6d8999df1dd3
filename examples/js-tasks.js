// The threads-vs-processes experiment on the script's own JavaScript: calls
// per second of a JS prime count (CPU-bound) and of an async JS function that
// waits 10 ms (I/O-bound), on a thread pool and a process pool of 1, 2, 4, 8
// and 16 workers that load examples/js/tasks.js (the `module` option). Beside
// them, the same prime count called directly in k6 VUs, one per worker, with
// no pool. Every cell is its own scenario; they run one after another.
//
//   ./k6 run examples/js-tasks.js
//   ./k6 run -e CELL=10s examples/js-tasks.js          # steadier numbers
//   ./k6 run -e WORKERS=1,2,4 -e CELL=3s examples/js-tasks.js
//   ./k6 run -e REPORT=results/js.html examples/js-tasks.js
import { sleep } from 'k6';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import { ThreadPool, ProcessPool, report } from 'k6/x/concurrency';
import { countPrimes } from './js/primes.js';

const CELL = Number(__ENV.CELL ? __ENV.CELL.replace(/s$/, '') : 5); // seconds per cell
const GAP = 1; // seconds between cells
const WORKERS = (__ENV.WORKERS || '1,2,4,8,16').split(',').map(Number);
const REPORT = __ENV.REPORT || 'js-tasks.html';
const LIMIT = Number(__ENV.LIMIT || 20000);
const WORKLOADS = { primes: { limit: LIMIT }, sleep: { ms: 10 } };

const pools = {};
for (const workers of WORKERS) {
  pools[`thread-${workers}`] = new ThreadPool({ workers, module: './js/tasks.js' });
  pools[`process-${workers}`] = new ProcessPool({ workers, module: './js/tasks.js' });
}

// direct counts prime counts run in the VU itself, with no pool.
const direct = new Counter('js_direct_calls');

const cells = [];
for (const workload of Object.keys(WORKLOADS)) {
  for (const kind of ['thread', 'process']) {
    for (const workers of WORKERS) {
      // Twice as many VUs as workers keep every worker busy (runSync waits).
      cells.push({ workload, pool: `${kind}-${workers}`, vus: 2 * workers, scenario: `${kind}_${workload}_${workers}` });
    }
  }
}
for (const workers of WORKERS) {
  cells.push({ direct: true, workers, vus: workers, scenario: `direct_primes_${workers}` });
}

const scenarios = {};
cells.forEach((cell, i) => {
  scenarios[cell.scenario] = {
    executor: 'constant-vus',
    vus: cell.vus,
    duration: `${CELL}s`,
    startTime: `${i * (CELL + GAP)}s`,
    gracefulStop: `${GAP}s`,
    exec: 'cell',
  };
});

export const options = {
  scenarios,
  thresholds: {
    // Always-passing thresholds, so that k6 keeps each cell's count in the
    // summary data for the report.
    ...report.thresholds({ pool_kind: ['thread', 'process'], workers: WORKERS, workload: Object.keys(WORKLOADS) }),
    ...Object.fromEntries(WORKERS.map((w) => [`js_direct_calls{vus:${w}}`, ['count>=0']])),
    concurrency_task_failed: ['rate==0'],
  },
  setupTimeout: '120s',
};

const byScenario = Object.fromEntries(cells.map((c) => [c.scenario, c]));

// setup starts every pool, waits until its workers are up, and makes every
// worker load the module (its first task), so no cell pays for start-up.
export function setup() {
  for (const pool of Object.values(pools)) {
    pool.runSync('noop');
    while (pool.stats().live < pool.workers) sleep(0.05);
    const done = pool.stats().completed + pool.workers;
    pool.map('sleep', Array.from({ length: pool.workers }, () => ({ ms: 50 }))); // one each: they wait together
    while (pool.stats().completed < done) sleep(0.05);
  }
  if (countPrimes(LIMIT) !== pools[`thread-${WORKERS[0]}`].runSync('cpu.primes', { limit: LIMIT })) {
    throw new Error('the JavaScript prime count disagrees with cpu.primes');
  }
}

export function cell() {
  const c = byScenario[exec.scenario.name];
  if (c.direct) {
    countPrimes(LIMIT);
    direct.add(1, { vus: String(c.workers) });
    return;
  }
  pools[c.pool].runSync(c.workload, WORKLOADS[c.workload]);
}

// directText compares the JS prime count in W VUs with no pool against the
// thread pool of W workers.
function directText(data) {
  const lines = ['primes called directly in k6 VUs (no pool), calls/s, and the thread pool of as many workers against it:'];
  for (const w of WORKERS) {
    const d = data.metrics[`js_direct_calls{vus:${w}}`];
    const t = data.metrics[`concurrency_tasks{pool_kind:thread,workers:${w},workload:primes}`];
    const vus = d ? d.values.count / CELL : NaN;
    const pool = t ? t.values.count / CELL : NaN;
    lines.push(`  ${String(w).padStart(2)} VUs: ${vus.toFixed(1).padStart(8)}   thread pool of ${String(w).padStart(2)}: ${pool.toFixed(1).padStart(8)}   pool/VUs ${(pool / vus).toFixed(2)}x`);
  }
  return lines.join('\n');
}

export function handleSummary(data) {
  const opts = { seconds: CELL, title: 'JavaScript tasks (examples/js/tasks.js): threads vs processes' };
  return {
    stdout: `\n${report.text(data, opts)}\n\n${directText(data)}\n`,
    [REPORT]: report.html(data, opts),
  };
}
