// Helpers the examples share: per-cell sub-metrics and the calls-per-second
// table printed at the end of a test. Everything here reads k6's own metrics
// (the summary data handed to handleSummary), never a side channel.

// cellMetric names the concurrency_tasks sub-metric of one cell. Declaring a
// threshold on it (see cellThresholds) makes k6 keep it in the summary data.
export function cellMetric(cell) {
  return `concurrency_tasks{pool:${cell.pool},workload:${cell.workload}}`;
}

// cellThresholds returns thresholds that always pass, one per cell, so that
// the summary data carries each cell's task count.
export function cellThresholds(cells) {
  const thresholds = {};
  for (const cell of cells) {
    thresholds[cellMetric(cell)] = ['count>=0'];
  }
  return thresholds;
}

// callsTable formats calls per second for each (workload, kind, workers)
// cell and the speed-up over the smallest worker count of the same row.
// seconds is how long each cell ran.
export function callsTable(data, cells, seconds) {
  const rows = new Map();
  const workerCounts = [...new Set(cells.map((c) => c.workers))].sort((a, b) => a - b);
  for (const cell of cells) {
    const metric = data.metrics[cellMetric(cell)];
    const count = metric ? metric.values.count : 0;
    const key = `${cell.workload} ${cell.kind}`;
    if (!rows.has(key)) rows.set(key, { workload: cell.workload, kind: cell.kind, rate: {} });
    rows.get(key).rate[cell.workers] = count / seconds;
  }
  const base = workerCounts[0];
  const head = ['workload', 'pool', ...workerCounts.map((w) => `${w} workers`), ...workerCounts.slice(1).map((w) => `x${w}/${base}`)];
  const lines = [head];
  for (const row of rows.values()) {
    const rates = workerCounts.map((w) => row.rate[w]);
    const speedups = workerCounts.slice(1).map((w) => (row.rate[base] > 0 ? `${(row.rate[w] / row.rate[base]).toFixed(2)}x` : '-'));
    lines.push([row.workload, row.kind === 'thread' ? 'threads' : 'processes', ...rates.map(fmtRate), ...speedups]);
  }
  const widths = head.map((_, i) => Math.max(...lines.map((l) => String(l[i]).length)));
  const fmt = (l) => l.map((c, i) => (i < 2 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return ['function calls per second (higher is better), from concurrency_tasks', fmt(lines[0]), rule, ...lines.slice(1).map(fmt)].join('\n');
}

function fmtRate(r) {
  if (r === undefined) return '-';
  return r >= 100 ? r.toFixed(0) : r.toFixed(1);
}

// metricsDigest lists the extension's trend metrics, for the end of a test.
export function metricsDigest(data) {
  const out = [];
  for (const name of ['concurrency_task_duration', 'concurrency_task_wait', 'concurrency_task_overhead']) {
    const m = data.metrics[name];
    if (!m) continue;
    const v = m.values;
    out.push(`${name.padEnd(27)} avg=${ms(v.avg)} med=${ms(v.med)} p(95)=${ms(v['p(95)'])} max=${ms(v.max)}`);
  }
  for (const name of ['concurrency_tasks', 'concurrency_task_failed']) {
    const m = data.metrics[name];
    if (!m) continue;
    out.push(name === 'concurrency_tasks'
      ? `${name.padEnd(27)} count=${m.values.count} rate=${m.values.rate.toFixed(1)}/s`
      : `${name.padEnd(27)} rate=${(100 * m.values.rate).toFixed(2)}%`);
  }
  return out.join('\n');
}

function ms(v) {
  if (v === undefined) return '-';
  return v >= 10 ? `${v.toFixed(1)}ms` : `${(v * 1000).toFixed(0)}µs`;
}
