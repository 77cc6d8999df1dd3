// One cell of the end-to-end benchmark (go run ./bench): one pool of WORKERS
// workers, or no pool at all, driven by a constant number of VUs for
// DURATION seconds. The figures come from k6's own metrics, handed to
// handleSummary and written to SUMMARY as JSON; the harness (bench/measure.go)
// reads them.
//
//   MODE      pool   a ThreadPool or ProcessPool (KIND) runs WORKLOAD via runSync
//             map    the pool runs map() calls of MAP_N WORKLOAD tasks, chunkSize
//                    CHUNK (0: automatic), one after another, in 1 VU
//             js     no pool: the JavaScript prime count in the iteration (the
//                    countPrimes of examples/js/primes.js, which tasks.js's
//                    primes export calls in a pool's workers)
//             empty  no pool: an empty iteration (k6's own ceiling)
//   KIND      thread | process
//   WORKLOAD  cpu.primes | io.sleep | noop, or with MODULE an export of it:
//             primes | nothing
//   MODULE    the pool's `module` (relative to this script): ./tasks.js
//   WORKERS   pool size (pool mode)
//   VUS       VUs of the constant-vus scenario
//   CONCURRENCY, GOMAXPROCS  process pool tuning (the "tuned" series)
//   DURATION  seconds the scenario runs
//   SUMMARY   where handleSummary writes the summary data
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
import { Counter } from 'k6/metrics';
import { countPrimes } from '../../examples/js/primes.js';

const MODE = __ENV.MODE || 'pool';
const KIND = __ENV.KIND || 'thread';
const WORKLOAD = __ENV.WORKLOAD || 'noop';
const WORKERS = Number(__ENV.WORKERS || 1);
const VUS = Number(__ENV.VUS || 1);
const DURATION = Number(__ENV.DURATION || 5);
const CONCURRENCY = Number(__ENV.CONCURRENCY || 1);
const MODULE = __ENV.MODULE || '';
const MAP_N = Number(__ENV.MAP_N || 100000);
const CHUNK = Number(__ENV.CHUNK || 0);
const LIMIT = 20000;
const EXPECTED_PRIMES = 2262; // primes below 20000

const PARAMS = {
  'cpu.primes': { limit: LIMIT },
  'io.sleep': { duration: '10ms' },
  noop: undefined,
  primes: { limit: LIMIT }, // tasks.js
  nothing: undefined, // tasks.js
}[WORKLOAD];

let pool = null;
if (MODE === 'pool' || MODE === 'map') {
  const name = `bench-${KIND}-${WORKERS}`;
  const opts = { name, workers: WORKERS };
  if (MODULE) opts.module = MODULE;
  // A map cell's call of MAP_N tasks is queued at once.
  if (MODE === 'map') opts.maxQueue = MAP_N;
  if (KIND === 'thread') {
    pool = new ThreadPool(opts);
  } else {
    if (CONCURRENCY !== 1) opts.concurrency = CONCURRENCY;
    if (__ENV.GOMAXPROCS) opts.env = { GOMAXPROCS: __ENV.GOMAXPROCS };
    pool = new ProcessPool(opts);
  }
}

// Sub-metrics restricted to the measured scenario, so that setup's warm-up
// tasks never count. The thresholds always pass; they only make k6 keep the
// sub-metrics in the summary data.
export const options = {
  scenarios: {
    bench: {
      executor: 'constant-vus',
      vus: VUS,
      duration: `${DURATION}s`,
      gracefulStop: '30s', // a task in flight at the end finishes; none is abandoned
      exec: { pool: 'poolIter', js: 'js', empty: 'empty', map: 'mapIter' }[MODE],
    },
  },
  thresholds: {
    'concurrency_tasks{scenario:bench}': ['count>=0'],
    'concurrency_task_failed{scenario:bench}': ['rate>=0'],
    'iterations{scenario:bench}': ['count>=0'],
    'bench_map_ms{scenario:bench}': ['count>=0'],
    'bench_map_tasks{scenario:bench}': ['count>=0'],
  },
  setupTimeout: '120s',
  summaryTrendStats: ['avg', 'med', 'p(95)'],
};

// setup starts the pool and waits until every worker is up, so that starting
// workers is never counted against the cell; then it runs two rounds of the
// cell's workload on every worker, all submitted at once with map().
export async function setup() {
  await warmUp();
  // the harness samples CPU time from here on (the scenario starts now)
  console.log('BENCH_SETUP_DONE');
}

async function warmUp() {
  if (!pool) return;
  await pool.start(); // every worker live, or WorkerStartError
  const warm = [];
  for (let i = 0; i < 2 * WORKERS * CONCURRENCY; i++) warm.push(PARAMS === undefined ? {} : PARAMS);
  // map() keeps every worker busy at once: the warm-up touches each of them.
  await pool.map(WORKLOAD, warm);
  const s = pool.stats();
  if (s.failed !== 0) throw new Error(`warm-up: ${s.failed} tasks failed`);
}

export function js() {
  const n = countPrimes(LIMIT);
  if (n !== EXPECTED_PRIMES) throw new Error(`counted ${n} primes below ${LIMIT}, want ${EXPECTED_PRIMES}`);
}

export function empty() {}

// map cells: the time spent in map() calls and their tasks, so that the rate
// counts neither setup nor the wait for the scenario's end.
const mapMs = new Counter('bench_map_ms');
const mapTasks = new Counter('bench_map_tasks');
const MAP_PARAMS = MODE === 'map' ? Array.from({ length: MAP_N }, () => PARAMS || {}) : [];

export async function mapIter() {
  const started = Date.now();
  const values = await pool.map(WORKLOAD, MAP_PARAMS, CHUNK > 0 ? { chunkSize: CHUNK } : undefined);
  mapMs.add(Date.now() - started);
  mapTasks.add(values.length);
}

export function poolIter() {
  const v = pool.runSync(WORKLOAD, PARAMS);
  if ((WORKLOAD === 'cpu.primes' || WORKLOAD === 'primes') && v !== EXPECTED_PRIMES) {
    throw new Error(`${WORKLOAD} returned ${v}, want ${EXPECTED_PRIMES}`);
  }
}

export function handleSummary(data) {
  const pick = (name) => (data.metrics[name] ? data.metrics[name].values : null);
  const out = {
    mode: MODE,
    kind: KIND,
    workload: WORKLOAD,
    workers: WORKERS,
    vus: VUS,
    duration_s: DURATION,
    concurrency: CONCURRENCY,
    module: MODULE,
    tasks: pick('concurrency_tasks{scenario:bench}'),
    failed: pick('concurrency_task_failed{scenario:bench}'),
    iterations: pick('iterations{scenario:bench}'),
    map_ms: pick('bench_map_ms{scenario:bench}'),
    map_tasks: pick('bench_map_tasks{scenario:bench}'),
    iterations_all: pick('iterations'),
    tasks_all: pick('concurrency_tasks'),
    task_duration: pick('concurrency_task_duration'),
    task_wait: pick('concurrency_task_wait'),
    task_overhead: pick('concurrency_task_overhead'),
    state: data.state,
  };
  return { [__ENV.SUMMARY || 'summary.json']: JSON.stringify(out, null, 1) + '\n', stdout: '' };
}
