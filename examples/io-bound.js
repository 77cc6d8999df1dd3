// I/O-bound work: every task waits 50 ms. One VU fans out batches with map(),
// so throughput grows with the pool's size, not with the number of VUs:
// 16 workers finish 16 sleeps in the time one worker finishes one.
//
//   ./k6 run examples/io-bound.js
//   ./k6 run -e DURATION=30s examples/io-bound.js
import { check } from 'k6';
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';

const threads = new ThreadPool({ workers: 16 });
const procs = new ProcessPool({ workers: 16, concurrency: 1 });
const DURATION = Number((__ENV.DURATION || '5s').replace(/s$/, ''));
const batch = Array.from({ length: 64 }, () => ({ duration: '50ms' }));

export const options = {
  scenarios: {
    threads: { executor: 'constant-vus', vus: 1, duration: `${DURATION}s`, exec: 'onThreads' },
    processes: { executor: 'constant-vus', vus: 1, duration: `${DURATION}s`, exec: 'onProcesses', startTime: `${DURATION}s` },
  },
  thresholds: {
    // 16 workers sleeping 50 ms each: about 320 tasks a second at best, for
    // half of the test each.
    'concurrency_tasks{pool_kind:thread}': ['rate>50'],
    'concurrency_tasks{pool_kind:process}': ['rate>50'],
    'concurrency_task_duration{workload:io.sleep}': ['p(95)<100'],
    concurrency_task_failed: ['rate==0'],
  },
};

export async function onThreads() {
  const values = await threads.map('io.sleep', batch);
  check(values, { 'one value per task': (v) => v.length === batch.length });
}

export async function onProcesses() {
  const values = await procs.map('io.sleep', batch);
  check(values, { 'one value per task': (v) => v.length === batch.length });
}
