// Counts the primes below limit by trial division, as cpu.primes does.
export function countPrimes(limit) {
  if (limit <= 2) return 0;
  let count = 1;
  for (let n = 3; n < limit; n += 2) {
    let prime = true;
    for (let d = 3; d * d <= n; d += 2) {
      if (n % d === 0) { prime = false; break; }
    }
    if (prime) count++;
  }
  return count;
}
