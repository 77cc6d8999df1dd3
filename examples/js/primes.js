// Counts the primes below limit by trial division: 2, then every odd
// candidate divided by the odd numbers up to its square root. The same
// algorithm as the built-in cpu.primes, in JavaScript.
export function countPrimes(limit) {
  if (limit <= 2) return 0;
  let count = 1; // 2
  for (let n = 3; n < limit; n += 2) {
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
