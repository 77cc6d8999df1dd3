// One scenario that grows a pool from 4 to 8 to 16 workers while it runs.
// concurrency_pool_workers records every step, so a dashboard shows the size
// as a step line next to concurrency_tasks; the table at the end shows the
// calls per second at each size.
//
//   ./k6 run examples/ramping.js
//   ./k6 run -e KIND=process -e STEP=10 examples/ramping.js
import exec from 'k6/execution';
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';

const KIND = __ENV.KIND || 'thread';
const STEP = Number(__ENV.STEP || 5); // seconds at each size
const SIZES = [4, 8, 16];
const pool = KIND === 'process' ? new ProcessPool({ name: 'ramp', workers: SIZES[0] }) : new ThreadPool({ name: 'ramp', workers: SIZES[0] });

export const options = {
  scenarios: {
    ramp: { executor: 'constant-vus', vus: 32, duration: `${STEP * SIZES.length}s` },
  },
  thresholds: Object.fromEntries(SIZES.map((w) => [`concurrency_tasks{pool:ramp,workers:${w}}`, ['count>0']])),
};

export default function () {
  // The first VU drives the ramp; resize takes effect without dropping a task.
  if (exec.vu.idInTest === 1) {
    const step = Math.min(Math.floor(exec.instance.currentTestRunDuration / 1000 / STEP), SIZES.length - 1);
    if (pool.workers !== SIZES[step]) pool.resize(SIZES[step]);
  }
  pool.runSync('io.sleep', { duration: '10ms' });
}

export function handleSummary(data) {
  const lines = ['calls per second at each pool size (io.sleep 10ms)'];
  for (const w of SIZES) {
    const m = data.metrics[`concurrency_tasks{pool:ramp,workers:${w}}`];
    lines.push(`${String(w).padStart(3)} workers: ${(m ? m.values.count / STEP : 0).toFixed(0)} calls/s`);
  }
  return { stdout: lines.join('\n') + '\n' };
}
