// Idle cost of pools (go run ./bench): a ThreadPool of 16 and a ProcessPool of
// 16 are started and warmed up until every worker is live, then the script
// prints a marker and sleeps HOLD seconds while the harness samples
// utime+stime of k6 and of every worker from /proc. POOLS=0 runs the same
// script with no pool at all: k6's own idle cost, the baseline.
import { sleep } from 'k6';
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';

const WORKERS = Number(__ENV.WORKERS || 16);
const HOLD = Number(__ENV.HOLD || 8);
const POOLS = __ENV.POOLS !== '0';

const pools = POOLS
  ? [new ThreadPool({ name: 'idle-thread', workers: WORKERS }), new ProcessPool({ name: 'idle-process', workers: WORKERS })]
  : [];

export const options = {
  scenarios: { idle: { executor: 'shared-iterations', vus: 1, iterations: 1, maxDuration: `${HOLD + 120}s` } },
};

export default async function () {
  for (const pool of pools) {
    await pool.start(); // every worker live, or WorkerStartError
    const warm = [];
    for (let i = 0; i < 2 * WORKERS; i++) warm.push({});
    await pool.map('noop', warm);
  }
  console.log(`BENCH_IDLE_READY pools=${pools.length} live=${pools.map((p) => p.stats().live).join(',')}`);
  sleep(HOLD);
}

export function handleSummary() {
  return { stdout: '' };
}
