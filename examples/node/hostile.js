'use strict';
// Hostile workloads for the conformance suite (ipc/conformance): each fails
// in a way that is hard to report, or returns a value JSON cannot carry
// unchanged. A worker must answer every one with a WorkloadError and serve
// on. worker.js registers them when XK6WORKER_HOSTILE=1; the cases are those
// of HostileCases in ipc/conformance/hostile.go.

const { setTimeout: sleep } = require('node:timers/promises');
const { workload, InvalidArgument } = require('./xk6worker');

const HUGE = 20 << 20; // over the protocol's default frame limit
const STRAY_TEXT = 'conformance: a stray failure nobody handled';

// A Proxy that throws on every trap: its message, its prototype, its text.
const throwsEverywhere = new Proxy({}, new Proxy({}, {
  get() { return () => { throw new Error('trapped'); }; },
}));

function kase(params) {
  if (typeof params.case !== 'string') throw new InvalidArgument('param "case" must be a string');
  return params.case;
}

function noCase(c) { return new InvalidArgument(`param "case": no case ${JSON.stringify(c)}`); }

const THROWS = {
  unprintable: () => { throw Object.create(null); },
  unprintable_message: () => { throw throwsEverywhere; },
  not_an_error: () => { throw undefined; }, // eslint-disable-line no-throw-literal
  huge_message: () => { throw new Error('x'.repeat(HUGE)); },
  exit: () => Promise.reject(Object.create(null)),
};

workload('hostile.throw', { kind: 'cpu', description: 'Fails in a way that is hard to report.' }, (params) => {
  const c = kase(params);
  if (!Object.hasOwn(THROWS, c)) throw noCase(c);
  return THROWS[c]();
});

function deep() {
  let v = [];
  for (let i = 0; i < 100000; i++) v = [v];
  return v;
}

const RETURNS = {
  nan: () => NaN,
  nested_nan: () => ({ a: [1, { b: NaN }] }),
  nested_infinity: () => [[-Infinity]],
  cycle: () => { const m = {}; m.self = m; return m; },
  function: () => ({ f: () => 0 }),
  native: () => ({ c: 10n }),
  non_string_key: () => new Map([[1, 'a']]),
  lone_surrogate: () => ({ s: 'x\uD800y' }),
  deep,
  huge: () => 'y'.repeat(HUGE),
  raising_encoder: () => ({ m: { toJSON() { throw Object.create(null); } } }),
};

workload('hostile.return', { kind: 'cpu', description: 'Returns a value JSON cannot carry unchanged.' }, (params) => {
  const c = kase(params);
  if (!Object.hasOwn(RETURNS, c)) throw noCase(c);
  return RETURNS[c]();
});

workload('hostile.async', { kind: 'io', description: 'An async workload.' }, async (params) => {
  const c = kase(params);
  await sleep(10);
  if (c === 'value') return { awaited: true };
  if (c === 'throw') throw Object.create(null);
  throw noCase(c);
});

workload('hostile.stray', { kind: 'io', description: 'Leaves failures nobody handles behind it.' }, () => {
  Promise.reject(new Error(STRAY_TEXT)); // an unhandled rejection
  setTimeout(() => { throw new Error(`${STRAY_TEXT} (in a timer)`); }, 1); // an uncaught exception
  return 'ok';
});
