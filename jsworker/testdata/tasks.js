// A worker module for the tests: sync and async exports, a relative import,
// and a top-level counter that shows the top level runs once per worker.
import { countPrimes } from './lib/primes.js';

globalThis.loads = (globalThis.loads || 0) + 1;
const id = Math.random(); // tells runtimes apart
let calls = 0;

export function primes(params) {
  calls++;
  return countPrimes(params.limit);
}

export async function later(params) {
  await new Promise((resolve) => setTimeout(resolve, params.ms || 1));
  return { echoed: params.value, loads: globalThis.loads };
}

export function state() {
  return { loads: globalThis.loads, calls, id };
}

export function fails(params) {
  throw new Error('bad input: ' + params.why);
}

export async function rejects() {
  await null;
  throw new RangeError('async failure');
}

export function spin() {
  for (;;) {}
}

export async function spinLater() {
  await new Promise((resolve) => setTimeout(resolve, 1));
  for (;;) {}
}

export function stuck() {
  return new Promise(() => {});
}

export function encode(params) {
  return Array.from(new TextEncoder().encode(params.text));
}

export function log(params) {
  console.log('hello from', params.who);
  return true;
}

export function opens() {
  return open('./tasks.js');
}

export function ordered() {
  return { z: 1, a: 2, m: { y: 1, b: 2 } };
}

export const notAFunction = 42;
