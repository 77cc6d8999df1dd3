// The tasks of examples/js-tasks.js: a pool made with
// `module: './js/tasks.js'` runs these exports in every worker's own
// JavaScript runtime. The top level runs once per worker.
import { countPrimes } from './primes.js';

// primes is CPU-bound: a prime count in JavaScript.
export function primes({ limit = 20000 } = {}) {
  return countPrimes(limit);
}

// sleep is I/O-bound: an async function that waits ms milliseconds (a
// timer, as a request would wait on the network) and uses no CPU meanwhile.
export async function sleep({ ms = 10 } = {}) {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
}
