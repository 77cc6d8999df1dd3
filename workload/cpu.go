package workload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync/atomic"
	"time"
)

// The CPU-bound built-ins. Each is deterministic for given params (except
// cpu.spin, which is bounded by time), so a Python or Node.js worker can
// reproduce its value, and each checks its context often enough to return
// within milliseconds of cancellation.

func init() {
	Register("cpu.primes", CPU, primes,
		WithDescription("Counts the primes below limit by trial division (deliberately not a sieve)."),
		WithParams(Param{
			Name: "limit", Type: Int, Doc: "Count the primes strictly below this.",
			Default: int64(20000), Min: 2, Max: 2147483647,
		}))
	Register("cpu.fib", CPU, fib,
		WithDescription("Computes the nth Fibonacci number by naive double recursion."),
		WithParams(Param{
			Name: "n", Type: Int, Doc: "Which Fibonacci number (fib(0)=0, fib(1)=1).",
			Default: int64(25), Min: 0, Max: 78,
		}))
	Register("cpu.sha256", CPU, sha256Rounds,
		WithDescription("Hashes a bytes-long buffer (byte i = i mod 256) with SHA-256, rounds times, chaining digests."),
		WithParams(
			Param{
				Name: "bytes", Type: Int, Doc: "Size of the buffer hashed in every round.",
				Default: int64(1024), Min: 0, Max: 64 << 20,
			},
			Param{
				Name: "rounds", Type: Int, Doc: "How many times to hash.",
				Default: int64(1), Min: 1, Max: 1000000,
			}))
	Register("cpu.spin", CPU, spin,
		WithDescription("Keeps one core busy (no sleeping) for duration."),
		WithParams(Param{
			Name: "duration", Type: Duration, Doc: "How long to spin.",
			Default: 10 * time.Millisecond, Min: 0, Max: dayMs,
		}))
	Register("cpu.matmul", CPU, matmul,
		WithDescription("Multiplies two fixed n×n float64 matrices and sums the product."),
		WithParams(Param{
			Name: "n", Type: Int, Doc: "Rows and columns of the matrices.",
			Default: int64(64), Min: 1, Max: 1024,
		}))
}

// dayMs is 24 hours in milliseconds, the longest a timed built-in may run.
const dayMs = 24 * 60 * 60 * 1000

// primes counts the primes below limit by trial division: 2, then every odd
// candidate divided by the odd numbers up to its square root.
func primes(ctx context.Context, args Args) (any, error) {
	limit := args.Int("limit")
	if limit <= 2 {
		return int64(0), nil
	}
	count := int64(1) // 2
	for n := int64(3); n < limit; n += 2 {
		if n&(2*1024-1) == 1 { // every 1024 odd candidates
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		prime := true
		for d := int64(3); d*d <= n; d += 2 {
			if n%d == 0 {
				prime = false
				break
			}
		}
		if prime {
			count++
		}
	}
	return count, nil
}

// fibCheckMask sets how often fib looks at its context: every 2^14 calls.
const fibCheckMask = 1<<14 - 1

type fibRun struct {
	ctx   context.Context
	calls uint32
	err   error
}

func (r *fibRun) fib(n int64) int64 {
	if r.err != nil {
		return 0 // unwinding after cancellation
	}
	r.calls++
	if r.calls&fibCheckMask == 0 {
		if r.err = r.ctx.Err(); r.err != nil {
			return 0
		}
	}
	if n < 2 {
		return n
	}
	return r.fib(n-1) + r.fib(n-2)
}

func fib(ctx context.Context, args Args) (any, error) {
	r := fibRun{ctx: ctx}
	v := r.fib(args.Int("n"))
	if r.err != nil {
		return nil, r.err
	}
	return v, nil
}

// sha256Rounds hashes buf (buf[i] = byte(i)) and then, for every further
// round, the previous digest followed by buf; it returns the last digest in hex.
// buf repeats every 256 bytes, so it is never built: every round hashes it
// from the shared 1 MiB chunk of the same pattern that io.file writes, looking
// at the context between chunks so that a large buffer does not delay
// cancellation.
func sha256Rounds(ctx context.Context, args Args) (any, error) {
	size, chunk := args.Int("bytes"), fileData()
	h := sha256.New()
	var digest []byte
	for round := args.Int("rounds"); round > 0; round-- {
		h.Reset()
		h.Write(digest) // empty in the first round
		for rest := size; ; {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if rest == 0 {
				break
			}
			n := min(rest, int64(len(chunk)))
			h.Write(chunk[:n])
			rest -= n
		}
		digest = h.Sum(digest[:0])
	}
	return hex.EncodeToString(digest), nil
}

// spinBatch is how many iterations cpu.spin runs between looks at the clock
// and its context (a few microseconds).
const spinBatch = 4096

// spinSink keeps the compiler from dropping cpu.spin's loop body.
//
//nolint:gochecknoglobals // keeps the compiler from dropping the spin's work
var spinSink atomic.Uint64

func spin(ctx context.Context, args Args) (any, error) {
	deadline := time.Now().Add(args.Duration("duration"))
	var iterations int64
	x := uint64(1)
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for range spinBatch {
			x = x*6364136223846793005 + 1442695040888963407
		}
		iterations += spinBatch
	}
	spinSink.Store(x)
	return iterations, nil
}

// matmul multiplies A[i][j] = (i*n+j)%7 by B[i][j] = (i+j)%5 and returns the
// sum of the product's elements. The values are small integers, so the sum is
// exact and does not depend on the order of the additions.
func matmul(ctx context.Context, args Args) (any, error) {
	n := int(args.Int("n"))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a, b, c := make([]float64, n*n), make([]float64, n*n), make([]float64, n*n)
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for j := range n {
			a[i*n+j] = float64((i*n + j) % 7)
			b[i*n+j] = float64((i + j) % 5)
		}
	}
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ci := c[i*n : i*n+n]
		for k := range n {
			aik, bk := a[i*n+k], b[k*n:k*n+n]
			for j := range ci {
				ci[j] += aik * bk[j]
			}
		}
	}
	var sum float64
	for _, v := range c {
		sum += v
	}
	return sum, nil
}
