// CPU-bound work on both pools: count the primes below 20000 (2262 of them)
// as many times a second as the pools allow, with a threshold on the calls
// per second of each. Go goroutines have no interpreter lock, so on this work
// a thread pool keeps up with a process pool (and skips the pipe).
//
//   ./k6 run examples/cpu-bound.js
//   ./k6 run -e WORKERS=8 -e DURATION=30s examples/cpu-bound.js
import { check } from 'k6';
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';

const WORKERS = Number(__ENV.WORKERS || 4);
const DURATION = __ENV.DURATION || '10s';

const threads = new ThreadPool({ workers: WORKERS });
const procs = new ProcessPool({ workers: WORKERS, taskTimeout: '5s' });

export const options = {
  scenarios: {
    threads: { executor: 'constant-vus', vus: 2 * WORKERS, duration: DURATION, exec: 'onThreads' },
    processes: { executor: 'constant-vus', vus: 2 * WORKERS, duration: DURATION, exec: 'onProcesses', startTime: DURATION },
  },
  thresholds: {
    [`concurrency_tasks{pool_kind:thread,workers:${WORKERS}}`]: ['rate>10'],
    [`concurrency_tasks{pool_kind:process,workers:${WORKERS}}`]: ['rate>10'],
    concurrency_task_failed: ['rate==0'],
    checks: ['rate==1'],
  },
};

export function onThreads() {
  check(threads.runSync('cpu.primes', { limit: 20000 }), { '2262 primes below 20000': (n) => n === 2262 });
}

export function onProcesses() {
  check(procs.runSync('cpu.primes', { limit: 20000 }), { '2262 primes below 20000': (n) => n === 2262 });
}
