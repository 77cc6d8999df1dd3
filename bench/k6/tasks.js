// The worker module of the end-to-end benchmark's JavaScript cells (go run
// ./bench): a pool made with `module: './tasks.js'` runs these exports in
// every worker's own JavaScript runtime. primes is the very function that
// cell.js's MODE=js calls in the VU itself (examples/js/primes.js), so the
// pool and the VUs run the same code.
import { countPrimes } from '../../examples/js/primes.js';

// Once per worker runtime: jsmem.js counts these lines to check that every
// worker loaded the module, and only once.
console.log('BENCH_JS_RUNTIME');

// primes is CPU-bound: the prime count below limit, in JavaScript.
export function primes({ limit }) {
  return countPrimes(limit);
}

// nothing does nothing: a JS task's own cost, beside the Go noop.
export function nothing() {}

// hold keeps its worker on a timer for ms milliseconds, so that tasks
// submitted together take one worker each (jsmem.js).
export async function hold({ ms }) {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return true;
}
