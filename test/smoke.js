// The smoke test of the extension registry's `xk6 lint`, which runs it as
// `k6 run --no-usage-report --no-summary --quiet test/smoke.js` and takes a
// non-zero exit for a broken extension. k6 v2 has `--summary-mode=disabled`
// for `--no-summary`; tools/lint.sh runs it so on bin/k6, and
// integration/xk6build_test.go on a k6 built as xk6 builds it:
//
//   ./k6 run --no-usage-report --summary-mode=disabled --quiet test/smoke.js
//
// It runs every call form on a ThreadPool and on a ProcessPool (worker
// processes of this same k6) and checks each value. A wrong value, an error
// or a lost task fails a check, and the thresholds then fail the run (exit
// 99), as they do when no task ran.
import { check } from 'k6';
import { ThreadPool, ProcessPool, workloads } from 'k6/x/concurrency';

const pools = [
  new ThreadPool({ name: 'smoke-threads', workers: 2 }),
  new ProcessPool({ name: 'smoke-processes', workers: 2, taskTimeout: '30s' }),
];

export const options = {
  iterations: 1,
  thresholds: {
    checks: ['rate==1'],
    concurrency_tasks: ['count>0'],
    concurrency_task_failed: ['rate==0'],
  },
};

function must(what, ok) {
  check(ok, { [what]: (v) => v === true });
}

async function smoke(pool) {
  const kind = pool.kind;
  must(`${kind}: run resolves with the workload's value`, (await pool.run('cpu.primes', { limit: 20000 })) === 2262);
  must(`${kind}: runSync returns it`, pool.runSync('cpu.fib', { n: 20 }) === 6765);
  const values = await pool.map('cpu.primes', [{ limit: 10 }, { limit: 100 }, { limit: 1000 }]);
  must(`${kind}: map keeps the input order`, JSON.stringify(values) === '[4,25,168]');
  let name = '';
  try {
    pool.runSync('no.such.workload');
  } catch (e) {
    name = e.name;
  }
  must(`${kind}: an unknown workload throws UnknownWorkloadError`, name === 'UnknownWorkloadError');
  const s = pool.stats();
  must(`${kind}: every task counted once`, s.completed === 5 && s.failed === 0 && s.submitted === s.completed);
}

export default async function () {
  must('workloads() lists cpu.primes', workloads().some((w) => w.name === 'cpu.primes'));
  for (const pool of pools) {
    try {
      await smoke(pool);
    } catch (e) {
      must(`${pool.kind}: no error (${e.name}: ${e.message})`, false);
    }
  }
}
