#!/usr/bin/env python3
"""Python's side of the end-to-end benchmark (go run ./bench), stdlib only.

The same work as the k6 cells, on concurrent.futures executors:

  rate       --executor thread|process --work primes|sleep|noop --workers W --seconds S
             keeps 2*W tasks in flight for S seconds (as futures complete,
             more are submitted) and reports completions per second
  roundtrip  --executor thread|process --seconds S
             one worker; submits one no-op, waits for its result, repeats for
             S seconds; reports microseconds per round trip
  map        --executor process|mp --work noop --workers W --n N --chunksize C --seconds S
             map calls of N tasks, one after another, for S seconds (at
             least one): ProcessPoolExecutor.map(chunksize=C), or with mp
             multiprocessing.Pool.map (C 0: its default chunksize); reports
             tasks per second over the time spent in the calls

ProcessPoolExecutor uses the 'fork' start method (Linux's default in Python
3.11), passed explicitly so that the figure does not change with the default.
Prints one JSON object on stdout.
"""
import argparse
import concurrent.futures as cf
import json
import multiprocessing
import sys
import time

LIMIT = 20000
EXPECTED_PRIMES = 2262


def count_primes(limit=LIMIT):
    """workload/cpu.go's cpu.primes in pure Python: trial division, 2, then
    every odd candidate divided by the odd numbers up to its square root."""
    if limit <= 2:
        return 0
    count = 1
    n = 3
    while n < limit:
        prime = True
        d = 3
        while d * d <= n:
            if n % d == 0:
                prime = False
                break
            d += 2
        if prime:
            count += 1
        n += 2
    return count


def sleep_10ms():
    time.sleep(0.01)


def noop():
    return None


WORK = {"primes": count_primes, "sleep": sleep_10ms, "noop": noop}


def make_executor(kind, workers):
    if kind == "thread":
        return cf.ThreadPoolExecutor(max_workers=workers)
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))


def warm_up(ex, workers):
    for f in [ex.submit(noop) for _ in range(workers)]:
        f.result()


def rate(kind, work, workers, seconds):
    fn = WORK[work]
    with make_executor(kind, workers) as ex:
        warm_up(ex, workers)
        inflight = 2 * workers
        start = time.perf_counter()
        deadline = start + seconds
        pending = {ex.submit(fn) for _ in range(inflight)}
        completed = 0
        last = start
        while True:
            done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            now = time.perf_counter()
            for f in done:
                v = f.result()
                if work == "primes" and v != EXPECTED_PRIMES:
                    raise SystemExit(f"count_primes returned {v}, want {EXPECTED_PRIMES}")
            if now > deadline:
                break
            completed += len(done)
            last = now
            for _ in done:
                pending.add(ex.submit(fn))
        for f in pending:
            f.cancel()
        # the executor's __exit__ waits for what is still running
    elapsed = last - start
    return {"completed": completed, "elapsed_s": elapsed, "per_s": completed / elapsed if elapsed > 0 else 0.0}


def roundtrip(kind, seconds):
    with make_executor(kind, 1) as ex:
        warm_up(ex, 1)
        for _ in range(100):
            ex.submit(noop).result()
        n = 0
        start = time.perf_counter()
        deadline = start + seconds
        now = start
        while now < deadline:
            for _ in range(16):
                ex.submit(noop).result()
            n += 16
            now = time.perf_counter()
    elapsed = now - start
    return {"round_trips": n, "elapsed_s": elapsed, "us_per_round_trip": elapsed / n * 1e6, "per_s": n / elapsed}


def map_rate(kind, work, workers, n, chunksize, seconds):
    fns = [WORK[work]] * n
    if kind == "mp":
        pool = multiprocessing.get_context("fork").Pool(workers)
        call = (lambda: pool.map(_call0, fns, chunksize or None))  # noqa: E731
    else:
        pool = make_executor("process", workers)
        call = (lambda: list(pool.map(_call0, fns, chunksize=max(chunksize, 1))))  # noqa: E731
    try:
        tasks, spent = 0, 0.0
        deadline = time.perf_counter() + seconds
        while tasks == 0 or time.perf_counter() < deadline:
            start = time.perf_counter()
            got = call()
            spent += time.perf_counter() - start
            if len(got) != n:
                raise SystemExit(f"map returned {len(got)} values, want {n}")
            tasks += n
    finally:
        if kind == "mp":
            pool.close()
            pool.join()
        else:
            pool.shutdown()
    return {"completed": tasks, "elapsed_s": spent, "per_s": tasks / spent, "n": n, "chunksize": chunksize}


def _call0(fn):
    """Calls fn: map's function, so that the work's function goes by name."""
    return fn()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["rate", "roundtrip", "map"])
    ap.add_argument("--executor", choices=["thread", "process", "mp"], required=True)
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--chunksize", type=int, default=0)
    ap.add_argument("--work", choices=sorted(WORK), default="primes")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    if a.mode == "rate":
        out = rate(a.executor, a.work, a.workers, a.seconds)
    elif a.mode == "map":
        out = map_rate(a.executor, a.work, a.workers, a.n, a.chunksize, a.seconds)
    else:
        out = roundtrip(a.executor, a.seconds)
    out.update(mode=a.mode, executor=a.executor, work=a.work if a.mode != "roundtrip" else "noop",
               workers=a.workers if a.mode != "roundtrip" else 1, python=sys.version.split()[0],
               start_method="fork" if a.executor != "thread" else None)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
