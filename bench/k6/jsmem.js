// Memory per JavaScript worker (go run ./bench): a ThreadPool of BASE
// workers with the module bench/k6/tasks.js, every worker made to load it
// (BASE tasks that hold their worker 100 ms, submitted at once); a marker,
// then HOLD seconds while the harness reads k6's memory from /proc. Then
// the pool grows to GROWN workers, every worker loads the module again the
// same way (the BASE first ones keep theirs), a second marker and HOLD
// seconds for the second reading. The growth between the readings, over
// GROWN - BASE, is the memory of one worker's runtime and module.
import { sleep } from 'k6';
import { ThreadPool } from 'k6/x/concurrency';

const BASE = Number(__ENV.BASE || 1);
const GROWN = Number(__ENV.GROWN || 65);
const HOLD = Number(__ENV.HOLD || 3);

const pool = new ThreadPool({ name: 'jsmem', workers: BASE, module: './tasks.js' });

export const options = {
  scenarios: { jsmem: { executor: 'shared-iterations', vus: 1, iterations: 1, maxDuration: `${2 * HOLD + 120}s` } },
};

// occupy runs n hold tasks at once: each takes a worker of its own, which
// loads the module if it has not yet.
async function occupy(n) {
  await pool.map('hold', Array.from({ length: n }, () => ({ ms: 100 })));
}

export default async function () {
  await pool.start(); // every worker live, or WorkerStartError
  await occupy(BASE);
  console.log(`BENCH_JSMEM_BASE workers=${pool.stats().live}`);
  sleep(HOLD);
  pool.resize(GROWN);
  await occupy(GROWN);
  console.log(`BENCH_JSMEM_GROWN workers=${pool.stats().live}`);
  sleep(HOLD);
}

export function handleSummary() {
  return { stdout: '' };
}
