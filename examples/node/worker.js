'use strict';
// A Node.js worker for xk6-concurrency process pools, built on xk6worker.js
// (no npm dependencies). It offers the same workloads as the Go built-ins of
// the same names, with the same params, values and validation errors, and as
// examples/python/worker.py:
//
//   cpu.primes {limit}     counts the primes below limit (default 20000) by
//                          trial division, like workload/cpu.go: 2262 below 20000
//   io.sleep   {duration}  waits for duration (default '10ms'): a k6 duration
//                          string ('10ms', '1.5s', '1m30s') or a number of ms
//   noop                   does nothing: the pool's and the protocol's own cost
//   echo                   returns its params unchanged (any keys): the
//                          conformance suite (ipc/conformance) sends payloads
//                          near 1 MiB through it
//
// From a k6 script, run from the repository's root:
//
//   const js = new ProcessPool({ command: ['node', 'examples/node/worker.js'], workers: 2, concurrency: 8 });
//
// `concurrency` is how many requests are in flight on each worker process.
// Node.js is single-threaded: io.sleep requests overlap (they are timers),
// cpu.primes requests run one after another, each blocking the event loop.

const { workload, serve, InvalidArgument, Cancelled } = require('./xk6worker');

// With XK6WORKER_HOSTILE=1 it also offers the conformance suite's hostile workloads.
if (process.env.XK6WORKER_HOSTILE === '1') require('./hostile');

const MAX_SAFE_INT = 2 ** 53;
const DAY_MS = 24 * 60 * 60 * 1000;

workload('cpu.primes', {
  kind: 'cpu',
  description: 'Counts the primes below limit by trial division (deliberately not a sieve).',
  params: { limit: { type: 'int', description: 'Count the primes strictly below this.', required: false, default: 20000, min: 2, max: 2147483647 } },
}, (params, ctx) => {
  only(params, 'limit');
  return countPrimes(intParam(params, 'limit', 20000, 2, 2147483647), ctx);
});

// countPrimes: 2, then every odd candidate divided by the odd numbers up to its square root.
function countPrimes(limit, ctx) {
  if (limit <= 2) return 0;
  let count = 1; // 2
  for (let n = 3; n < limit; n += 2) {
    if ((n & 2047) === 1) ctx.throwIfCancelled(); // every 1024 candidates: only the deadline can have passed
    let prime = true;
    for (let d = 3; d * d <= n; d += 2) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}

workload('io.sleep', {
  kind: 'io',
  description: 'Waits for duration without using the CPU.',
  params: { duration: { type: 'duration', description: 'How long to wait.', required: false, default: '10ms', min: '0s', max: '24h0m0s' } },
}, (params, ctx) => {
  only(params, 'duration');
  const ms = durationParam(params, 'duration', 10, 0, DAY_MS);
  return new Promise((resolve, reject) => {
    const stop = () => {
      clearTimeout(timer);
      reject(new Cancelled());
    };
    const timer = setTimeout(() => {
      ctx.signal.removeEventListener('abort', stop);
      resolve(null);
    }, ms);
    if (ctx.signal.aborted) stop();
    else ctx.signal.addEventListener('abort', stop, { once: true });
  });
});

workload('noop', { kind: 'io', description: "Does nothing, to measure the pool's own overhead." }, (params) => {
  only(params);
  return null;
});

workload('echo', { kind: 'io', description: "Returns its params unchanged (the conformance suite's payload check)." }, (params) => params);

// --- param validation, with the Go built-ins' messages ----------------------

function only(params, ...names) {
  for (const key of Object.keys(params)) {
    if (!names.includes(key)) {
      const takes = names.length > 0 ? `params: ${[...names].sort().join(', ')}` : 'it takes no params';
      throw new InvalidArgument(`unknown param ${JSON.stringify(key)} (${takes})`);
    }
  }
}

function intParam(params, name, dflt, lo, hi) {
  if (!(name in params)) return dflt;
  const v = params[name];
  if (Number.isInteger(v) && Math.abs(v) <= MAX_SAFE_INT && v >= lo && v <= hi) return v;
  throw new InvalidArgument(`param "${name}" must be an integer from ${lo} to ${hi}, got ${describe(v)}`);
}

// durationParam reads a duration param, in milliseconds.
function durationParam(params, name, dfltMs, loMs, hiMs) {
  if (!(name in params)) return dfltMs;
  const v = params[name];
  const ms = parseDuration(v);
  if (ms === undefined || ms < loMs || ms > hiMs) {
    throw new InvalidArgument(`param "${name}" must be a duration (like "10ms", or a number of ms) from ${formatDuration(loMs)} to ${formatDuration(hiMs)}, got ${describe(v)}`);
  }
  return ms;
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const COMPONENT = /(\d*)(?:\.(\d*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/y;
const UNIT_MS = { ns: 1e-6, us: 1e-3, '\u00b5s': 1e-3, '\u03bcs': 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 };

// parseDuration reads a k6 duration in milliseconds: a number of ms (or a
// numeric string), or a Go/k6 duration string such as '10ms', '1.5s',
// '1h30m', '250us'. undefined for anything else, and for negative or
// non-finite durations.
function parseDuration(v) {
  let ms;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string') ms = NUMBER.test(v) ? Number(v) : parseDurationString(v);
  else return undefined;
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

function parseDurationString(s) {
  const sign = s[0] === '-' ? -1 : 1;
  const body = s[0] === '-' || s[0] === '+' ? s.slice(1) : s;
  if (body === '0') return 0;
  if (body === '') return undefined;
  let ms = 0;
  COMPONENT.lastIndex = 0;
  while (COMPONENT.lastIndex < body.length) {
    const m = COMPONENT.exec(body);
    if (m === null || (m[1] === '' && !m[2])) return undefined;
    ms += Number(`${m[1] || '0'}.${m[2] || '0'}`) * UNIT_MS[m[3]];
  }
  return sign * ms;
}

// formatDuration prints milliseconds the way Go prints a time.Duration: 0s, 10ms, 1.5s, 24h0m0s.
function formatDuration(ms) {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h > 0 ? `${h}h${m}m${rest}s` : `${m}m${rest}s`;
}

// describe names a bad value in an error without dumping a large one.
function describe(v) {
  if (v === null) return 'null';
  if (typeof v === 'string') {
    const size = Buffer.byteLength(v);
    return size <= 40 ? JSON.stringify(v) : `a string of ${size} bytes`;
  }
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

serve();
