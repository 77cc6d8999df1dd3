"""BENCHMARKS.md and bench/chart.svg from the results of bench/driver.py.

Everything here is computed from the stored results; nothing is typed in by
hand. render(data, chart_href) returns (markdown, svg, goals).
"""
import html
import math
import statistics

# --------------------------------------------------------------- data access

SERIES = {
    "thread": "thread pool",
    "process": "process pool",
    "process_tuned": "process pool, tuned (concurrency 2, GOMAXPROCS=1)",
    "js": "k6 JS, no pool (1 VU per worker)",
    "py_thread": "Python ThreadPoolExecutor",
    "py_process": "Python ProcessPoolExecutor (fork)",
}

WORKLOAD_OF_PY = {"cpu.primes": "primes", "io.sleep": "sleep"}


class Data:
    def __init__(self, data):
        self.d = data
        self.info = data["info"]
        self.W = self.info["W"]
        self.workers = self.info["workers"]
        self.cells = data["cells"]
        self.go = {k: v for k, v in data["go"]["results"].items()}

    def runs(self, **match):
        for c in self.cells:
            cell = c["cell"]
            if all(cell.get(k) == v for k, v in match.items()):
                return c["runs"]
        return []

    def values(self, key="per_s", **match):
        return [r[key] for r in self.runs(**match) if key in r]

    def rates(self, series, workload):
        """{workers: [per_s, ...]} of one series on one workload."""
        out = {}
        for w in self.workers:
            if series in ("thread", "process"):
                v = self.values(series=series, mode="pool", workload=workload, workers=w)
            elif series == "process_tuned":
                v = self.values(series=series, workload=workload, workers=w)
            elif series == "js":
                v = self.values(series="js", workers=w) if workload == "cpu.primes" else []
            else:
                v = self.values(series=series, mode="rate", work=WORKLOAD_OF_PY[workload], workers=w)
            if v:
                out[w] = v
        return out

    def go_vals(self, name, metric):
        return [r[metric] for r in self.go.get(name, []) if metric in r]


def med(v):
    return statistics.median(v) if v else float("nan")


def ok(x):
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def fmt_rate(r):
    if not ok(r):
        return "-"
    if r >= 1000:
        return f"{r:,.0f}"
    if r >= 100:
        return f"{r:.0f}"
    return f"{r:.1f}"


def fmt_spread(v, f=fmt_rate):
    if not v:
        return "-"
    if len(v) == 1:
        return f(v[0])
    return f"{f(med(v))} ({f(min(v))}–{f(max(v))})"


def fmt_us(x):
    if not ok(x):
        return "-"
    if x >= 10000:
        return f"{x / 1000:.1f} ms"
    if x >= 100:
        return f"{x:.0f} µs"
    if x >= 10:
        return f"{x:.1f} µs"
    return f"{x:.2f} µs"


def cpu_per_call(D, **q):
    """Medians of (k6, workers, total) CPU µs per call of a k6 cell, or None."""
    cpus = [r["cpu"] for r in D.runs(**q) if r.get("cpu") and r["cpu"].get("calls_in_window")]
    if not cpus:
        return None
    k6us = [1e6 * c["k6_cpu_s"] / c["calls_in_window"] for c in cpus]
    wus = [1e6 * c["workers_cpu_s"] / c["calls_in_window"] for c in cpus]
    return med(k6us), med(wus), med([x + y for x, y in zip(k6us, wus)])


def ratio(a, b):
    return a / b if ok(a) and ok(b) and b else float("nan")


def fx(x, nd=2):
    return f"{x:.{nd}f}x" if ok(x) else "-"


# --------------------------------------------------------------- goals

def goals(D):
    W = D.W
    out = []

    def add(gid, goal, figure, target, met):
        out.append({"id": gid, "goal": goal, "figure": figure, "target": target, "met": bool(met)})

    cpu = {s: {w: med(v) for w, v in D.rates(s, "cpu.primes").items()} for s in SERIES}
    io = {s: {w: med(v) for w, v in D.rates(s, "io.sleep").items()} for s in ("thread", "process", "py_thread", "py_process")}

    # CPU-bound scaling
    for kind in ("thread", "process"):
        r = cpu[kind]
        name = "thread pool" if kind == "thread" else "process pool"
        s = ratio(r.get(W), r.get(1))
        add(f"cpu_scale_{kind}", f"CPU-bound scaling, {name}: {W} workers vs 1 (cpu.primes)",
            f"{fmt_rate(r.get(W))} vs {fmt_rate(r.get(1))} calls/s = {fx(s)}",
            f">= {0.9 * W:.2f}x (0.9 x {W})", ok(s) and s >= 0.9 * W)
        beyond = [w for w in D.workers if w > W]
        if beyond:
            rs = {w: ratio(r.get(w), r.get(W)) for w in beyond}
            add(f"cpu_plateau_{kind}", f"CPU-bound plateau, {name}: {', '.join(map(str, beyond))} workers vs {W}",
                ", ".join(f"{w}: {fx(x)}" for w, x in rs.items()),
                f"each >= 0.95x", all(ok(x) and x >= 0.95 for x in rs.values()))

    # I/O-bound scaling
    top = max(D.workers)
    for kind in ("thread", "process"):
        r = io[kind]
        s = ratio(r.get(top), r.get(1))
        name = "thread pool" if kind == "thread" else "process pool"
        add(f"io_{kind}", f"I/O-bound scaling, {name}: {top} workers vs 1 (io.sleep 10ms)",
            f"{fmt_rate(r.get(top))} vs {fmt_rate(r.get(1))} calls/s = {fx(s, 1)}",
            f">= {top - 1}x" if top == 16 else f">= {0.9375 * top:.1f}x", ok(s) and s >= (15 if top == 16 else 0.9375 * top))

    # thread pool efficiency
    tp = med(D.go_vals("BenchmarkThreadPrimes", "tasks/s"))
    rp = med(D.go_vals("BenchmarkRawPrimes", "tasks/s"))
    e = ratio(tp, rp)
    add("thread_eff", f"Thread pool efficiency: cpu.primes at {W} workers vs {W} raw goroutines (Go benchmarks)",
        f"{fmt_rate(tp)} vs {fmt_rate(rp)} tasks/s = {fx(e, 3)}", ">= 0.95x", ok(e) and e >= 0.95)

    # thread pool overhead
    tn = med(D.go_vals("BenchmarkThreadNoop/workers=1/submitters=1", "ns/op")) / 1000
    add("thread_noop", "Thread pool overhead: noop round trip, 1 worker, 1 submitter (Go benchmark)", fmt_us(tn), "< 2 µs", ok(tn) and tn < 2)
    for v in (1, 2):
        noop = med(D.values(series="thread", mode="pool", workload="noop", vus=v))
        empty = med(D.values(series="empty", vus=v))
        x = ratio(noop, empty)
        add(f"thread_k6_{v}", f"Thread pool through k6: noop tasks/s vs empty iterations/s, {v} VU{'s' if v > 1 else ''}",
            f"{fmt_rate(noop)} vs {fmt_rate(empty)} /s = {fx(x)}", ">= 0.5x", ok(x) and x >= 0.5)

    # process pool overhead
    pn = med(D.go_vals("BenchmarkProcessNoop/inflight=1", "ns/op")) / 1000
    pe = med(D.go_vals("BenchmarkRawPipeEcho", "ns/op")) / 1000
    x = ratio(pn, pe)
    add("proc_pipe", "Process pool overhead: noop round trip vs raw pipe echo of the same payload (Go benchmarks)",
        f"{fmt_us(pn)} vs {fmt_us(pe)} = {fx(x)}", "<= 2x", ok(x) and x <= 2)
    p1 = med(D.go_vals("BenchmarkProcessNoop/inflight=1", "tasks/s"))
    p16 = med(D.go_vals("BenchmarkProcessNoop/inflight=16", "tasks/s"))
    x = ratio(p16, p1)
    add("proc_pipeline", "Process pool pipelining: noop tasks/s, 16 in flight per worker vs 1",
        f"{fmt_rate(p16)} vs {fmt_rate(p1)} tasks/s = {fx(x, 1)}", ">= 5x", ok(x) and x >= 5)

    # against Python: per-task overhead
    py_p = med(D.values(key="us_per_round_trip", series="py_process", mode="roundtrip"))
    py_t = med(D.values(key="us_per_round_trip", series="py_thread", mode="roundtrip"))
    k6_t = 1e6 / med(D.values(series="thread", mode="pool", workload="noop", vus=1)) if D.values(series="thread", mode="pool", workload="noop", vus=1) else float("nan")
    k6_p = 1e6 / med(D.values(series="process", mode="pool", workload="noop", vus=1)) if D.values(series="process", mode="pool", workload="noop", vus=1) else float("nan")
    for key, name, ours, ours_k6, py, pyname in (("process", "process pool", pn, k6_p, py_p, "ProcessPoolExecutor"),
                                                 ("thread", "thread pool", tn, k6_t, py_t, "ThreadPoolExecutor")):
        x = ratio(py, ours)
        add(f"py_{key}_go", f"Per-task overhead vs Python: {name} (Go benchmark) vs {pyname} no-op round trip",
            f"{fmt_us(py)} / {fmt_us(ours)} = {fx(x, 1)}", ">= 10x lower", ok(x) and x >= 10)
        x = ratio(py, ours_k6)
        add(f"py_{key}_k6", f"Per-task overhead vs Python: {name} through k6 (runSync, 1 VU) vs {pyname}",
            f"{fmt_us(py)} / {fmt_us(ours_k6)} = {fx(x, 1)}", ">= 10x lower", ok(x) and x >= 10)

    # against Python: CPU-bound speed-up at W
    sp = {s: ratio(cpu[s].get(W), cpu[s].get(1)) for s in ("thread", "process", "py_thread", "py_process")}
    for kind in ("thread", "process"):
        name = "thread pool" if kind == "thread" else "process pool"
        add(f"sp_{kind}_pythreads", f"CPU-bound speed-up at {W} workers, {name} vs Python threads",
            f"{fx(sp[kind])} vs {fx(sp['py_thread'])}", "beats (>)", ok(sp[kind]) and ok(sp["py_thread"]) and sp[kind] > sp["py_thread"])
        add(f"sp_{kind}_pyprocs", f"CPU-bound speed-up at {W} workers, {name} vs Python processes",
            f"{fx(sp[kind])} vs {fx(sp['py_process'])}", "matches or beats (>= 0.95x of it)",
            ok(sp[kind]) and ok(sp["py_process"]) and sp[kind] >= 0.95 * sp["py_process"])

    # idle cost and memory
    idle, base = D.d["idle"], D.d["idle_baseline"]
    wt = sum(idle["worker_ticks"])
    extra = idle["k6_ticks"] - base["k6_ticks"]
    tick_ms = 1000 / idle["clk_tck"]
    add("idle_workers", f"Idle pools cost no CPU: {idle['workers']} idle worker processes over {idle['window_s']:.0f} s",
        f"{wt} ticks ({100 * wt / idle['clk_tck'] / idle['window_s']:.2f} % of a CPU)", "0 ticks (0 %)", wt == 0)
    add("idle_k6", f"Idle pools cost no CPU: k6 with a 16-worker thread and process pool vs k6 without pools, {idle['window_s']:.0f} s",
        f"{idle['k6_ticks']} vs {base['k6_ticks']} ticks ({idle['k6_cpu_pct']:.2f} % vs {base['k6_cpu_pct']:.2f} %)",
        f"no more than without pools (+1 tick of {tick_ms:.0f} ms tolerance)", extra <= 1)
    rss = [r for r in idle["worker_rss_kb"] if r]
    anon = [r for r in idle.get("worker_anon_kb", []) if r]
    add("rss", "Memory: RSS of a 16-worker process pool, per worker (VmRSS; RssAnon)",
        (f"{sum(rss) / 1024:.1f} MiB total, {sum(rss) / len(rss) / 1024:.1f} MiB per worker"
         + (f" ({sum(anon) / len(anon) / 1024:.1f} MiB of it anonymous)" if anon else "")
         + f"; k6 {idle['k6_rss_kb'] / 1024:.1f} MiB") if rss else "-",
        "stated", bool(rss))
    return out


# --------------------------------------------------------------- misses

def misses_paragraph(D, gl):
    """A short factual paragraph on the goals that were missed: the figures
    come from the results; the causes named are those known to the project."""
    missed = {g["id"]: g for g in gl if not g["met"]}
    ld = D.info.get("load") or {}
    parts = []
    if not missed:
        parts.append("Every goal was met in this run.")
    else:
        parts.append(f"{len(missed)} of {len(gl)} goals were not met in this run.")
    if ld.get("others_pct", 0) >= 5:
        parts.append(f"Other processes kept the machine's CPUs {ld['others_pct']:.0f} % busy during this session (this "
                     f"benchmark: {ld['own_pct']:.0f} %; see This run), which disturbs every figure here, the CPU-bound and "
                     "round-trip ones most; the spread (min–max) in the tables shows how much.")
    if not missed:
        return " ".join(parts)
    W = D.W
    done = set()
    cpu_p = {w: med(v) for w, v in D.rates("process", "cpu.primes").items()}
    cpu_t = {w: med(v) for w, v in D.rates("process_tuned", "cpu.primes").items()}
    proc_cpu = {"cpu_scale_process", "cpu_plateau_process", "sp_process_pythreads", "sp_process_pyprocs"}
    if proc_cpu & missed.keys():
        done |= proc_cpu
        parts.append(
            f"CPU-bound process pools: on this {W}-vCPU VM every task costs the pool about two cross-process wake-ups "
            "(k6 writes the request and the worker wakes; the worker writes the result and k6 wakes), and wake-ups are expensive "
            "under the paravirtualised hypervisor: while a worker waits for its next request its CPU idles, which limits "
            f"scaling from 1 to {W} workers. The tuned variant (`concurrency: 2, env: {{ GOMAXPROCS: '1' }}`), which keeps a "
            f"second request queued in each worker, made {fmt_rate(cpu_t.get(W))} calls/s at {W} workers "
            f"({fx(ratio(cpu_t.get(W), cpu_t.get(1)))} its own 1 worker, {fx(ratio(cpu_t.get(W), cpu_p.get(1)))} the default "
            f"pool's 1 worker) against {fmt_rate(cpu_p.get(W))} calls/s ({fx(ratio(cpu_p.get(W), cpu_p.get(1)))}) for the default "
            "pool; it is its own series in the tables and the chart and does not replace the default figures.")
        cp = cpu_per_call(D, series="process", workload="cpu.primes", workers=W)
        ct = cpu_per_call(D, series="thread", workload="cpu.primes", workers=W)
        if cp and ct:
            parts.append(
                f"CPU time per call at {W} workers (see CPU time per call): {fmt_us(cp[2])} through the process pool "
                f"({fmt_us(cp[0])} in k6, {fmt_us(cp[1])} in the worker) against {fmt_us(ct[2])} through the thread pool; "
                f"at those costs {W} CPUs shared by k6 and the workers make at most {fmt_rate(W * 1e6 / cp[2])} and "
                f"{fmt_rate(W * 1e6 / ct[2])} calls/s.")
    if "proc_pipe" in missed:
        done.add("proc_pipe")
        parts.append(
            "Process pool round trip against the raw pipe echo: the echo's child blocks in read(2) on its stdin and answers "
            "from the same thread, so a round trip wakes one thread on each side; the pool's worker parks the reading goroutine "
            "in Go's network poller, runs the task on another goroutine and writes the result through a shared writer, and k6's "
            "side wakes the waiting goroutine from the reader's, so each round trip also pays poller and scheduler wake-ups "
            "that cost tens of microseconds on this VM.")
    py_proc = {"py_process_go", "py_process_k6"}
    if py_proc & missed.keys():
        done |= py_proc
        parts.append("Process pool against ProcessPoolExecutor: both round trips are made of thread and process wake-ups "
                     "more than of code. ProcessPoolExecutor's takes about five (the submitting thread wakes the executor's "
                     "management thread, which feeds the call queue's feeder thread, which writes to the worker; the worker's "
                     "result wakes the management thread, which wakes the waiting thread), the pool's at least two "
                     "cross-process ones, so on this VM the ratio stays near the ratio of wake-ups rather than reaching 10x.")
    k6_side = {"thread_k6_1", "thread_k6_2", "py_thread_k6"}
    if k6_side & missed.keys():
        done |= k6_side
        parts.append("Through k6, each task also pays the VU's JavaScript call into the extension, the hand-off to a worker "
                     "goroutine and back to the VU, and five metric samples (`concurrency_tasks`, `_failed`, `_duration`, "
                     "`_wait`, `_overhead`) on top of the iteration's own samples, which are all an empty iteration pays.")
    if "thread_noop" in missed:
        done.add("thread_noop")
        parts.append("Thread pool round trip: the submitting goroutine parks and the worker goroutine is woken; when that "
                     "wakes an idle OS thread (GOMAXPROCS is the number of CPUs, in the Go benchmark as in k6) the futex "
                     "wake-up costs microseconds on this VM.")
    if {"idle_workers", "idle_k6"} & missed.keys():
        done |= {"idle_workers", "idle_k6"}
        parts.append("Idle cost: the idle table below says which process used the CPU.")
    rest = [g for gid, g in missed.items() if gid not in done]
    if rest:
        parts.append("No cause specific to the extension is known for: " + "; ".join(
            f"{g['goal']} ({g['figure']})" for g in rest) + ".")
    return " ".join(parts)


# --------------------------------------------------------------- markdown

def machine_line(info):
    return (f"- Machine: {info['cpu_model']}, {info['cpus']} CPUs, {info['ram_gib']} GiB RAM, "
            f"{info['os']} kernel {info['kernel']}")


def render_md(D, gl, chart_href):
    info = D.info
    W = D.W
    L = []
    a = L.append
    a("# Benchmarks")
    a("")
    a("<!-- Generated by bench/run.sh (bench/driver.py, bench/report.py). Do not edit by hand. -->")
    a("")
    a("The end-to-end benchmark of xk6-concurrency: the thread pool and the process pool driven by k6, "
      "k6 without any pool, Python's `concurrent.futures` executors on the same machine and the same work, "
      "and the Go benchmarks that are the floors of both pools. Work: `cpu.primes {limit: 20000}` "
      "(trial division, 2262 primes) and `io.sleep {duration: '10ms'}`.")
    a("")
    a("## How to run")
    a("")
    a("```sh")
    a("bench/run.sh                     # REPS=3 CELL=5: the full session")
    a("QUICK=1 bench/run.sh             # 1 rep, 2 s cells, workers 1,2,16: a smoke run")
    a("REPS=5 CELL=10 bench/run.sh      # steadier figures")
    a("BENCH_FAST_BUILD=1 bench/run.sh  # go build ./cmd/k6 instead of make k6 (xk6)")
    a("```")
    a("")
    a("`bench/run.sh` builds k6 once, runs the Go benchmarks in one `go test` invocation, then every cell "
      "REPS times, each repetition in a shuffled (seeded, `SEED`) order so that drift of the machine hits every cell "
      "alike, then the idle-cost measurement. It writes `bench/results.json` (every repetition), this file and "
      f"[`bench/chart.svg`]({chart_href}). `bench/driver.py --report-only bench/results.json` rewrites the last two from "
      "stored results. Figures are the median of the repetitions, with the spread (min–max) in brackets.")
    a("")
    a("## This run")
    a("")
    a(machine_line(info))
    a(f"- Versions: {info['go']}; k6 {info['k6']}; Python {info['python']}")
    a(f"- Date: {info['date']}")
    if info.get("commit"):
        dirty = info.get("dirty") or []
        a(f"- Sources: commit {info['commit']}" + (f", with uncommitted changes outside bench/ in: {', '.join(f'`{d}`' for d in dirty)}" if dirty else ""))
    a(f"- Command: `{info['command']}` ({info['reps']} repetition(s) of {info['cell_s']} s cells, workers "
      f"{', '.join(map(str, D.workers))}, W = {W} CPUs; k6 built with `{info.get('build', 'make k6')}`); "
      f"the session took {info.get('session_s', 0) / 60:.1f} min")
    a(f"- Go benchmarks: `{D.d['go']['command']}`")
    if info.get("load"):
        ld = info["load"]
        a(f"- Machine load (`/proc/stat`, `/proc/loadavg`, `getrusage`): over the session the {info['cpus']} CPUs were "
          f"{ld['busy_pct']:.0f} % busy, {ld.get('own_pct', float('nan')):.0f} % with this benchmark and "
          f"{ld.get('others_pct', float('nan')):.0f} % with other processes; {ld['steal_pct']:.1f} % stolen by the hypervisor; "
          f"load average {ld['start']} at the start, {ld['end']} at the end")
    a("")
    a("## Goals")
    a("")
    a("| goal | figure | target | |")
    a("| --- | --- | --- | --- |")
    for g in gl:
        a(f"| {g['goal']} | {g['figure']} | {g['target']} | {'met' if g['met'] else '**not met**'} |")
    a("")
    a(misses_paragraph(D, gl))
    a("")
    a(f"![calls per second against workers]({chart_href})")
    a("")

    # calls/s tables
    for workload, series in (("cpu.primes", ("thread", "process", "process_tuned", "js", "py_thread", "py_process")),
                             ("io.sleep", ("thread", "process", "py_thread", "py_process"))):
        a(f"## {workload}: calls per second")
        a("")
        if workload == "cpu.primes":
            a("k6 pool cells: 2 VUs per worker calling `runSync` (4 per worker for the tuned pool, which holds two tasks per "
              "worker); k6 JS: as many VUs as workers, each counting the primes in JavaScript in its iteration (what a k6 user "
              "does today); Python: 2 tasks in flight per worker. Rate = tasks (k6: `concurrency_tasks` of the scenario, or "
              "`iterations` without a pool) / cell duration.")
        else:
            a("k6: 2 VUs per worker calling `runSync`; Python: 2 tasks in flight per worker. The ideal is W / 10 ms.")
        a("")
        a("| series | " + " | ".join(f"{w} worker{'s' if w > 1 else ''}" for w in D.workers) + " |")
        a("| --- | " + " | ".join("---:" for _ in D.workers) + " |")
        for s in series:
            r = D.rates(s, workload)
            if not r:
                continue
            a(f"| {SERIES[s]} | " + " | ".join(fmt_spread(r.get(w, [])) for w in D.workers) + " |")
        a("")
        a(f"Speed-up over 1 worker (medians):")
        a("")
        a("| series | " + " | ".join(f"{w}" for w in D.workers) + " |")
        a("| --- | " + " | ".join("---:" for _ in D.workers) + " |")
        for s in series:
            r = {w: med(v) for w, v in D.rates(s, workload).items()}
            if not r:
                continue
            a(f"| {SERIES[s]} | " + " | ".join(fx(ratio(r.get(w), r.get(1))) for w in D.workers) + " |")
        a("")

    # overhead through k6
    a("## Overhead: noop through k6, and k6's own ceiling")
    a("")
    a("Pool of as many workers as VUs, each VU calling `runSync('noop')` in a loop; the empty iteration is "
      "k6 running an empty default function with the same number of VUs (the comparison is at 1 VU and at 2 VUs).")
    a("")
    a("| cell | VUs | calls/s | µs per call (median) |")
    a("| --- | ---: | ---: | ---: |")
    for label, q in (("thread pool, noop", dict(series="thread", mode="pool", workload="noop")),
                     ("process pool, noop", dict(series="process", mode="pool", workload="noop")),
                     ("k6 empty iteration, no pool", dict(series="empty"))):
        for v in sorted({c["cell"]["vus"] for c in D.cells if all(c["cell"].get(k) == x for k, x in q.items())}):
            vals = D.values(vus=v, **q)
            a(f"| {label} | {v} | {fmt_spread(vals)} | {fmt_us(1e6 / med(vals)) if vals else '-'} |")
    a("")

    # CPU per call
    a("## CPU time per call")
    a("")
    a("From `/proc/<pid>/stat` of k6 and of each of its worker processes, sampled over the steady part of every k6 cell "
      "(from 0.5 s after `setup()` until 0.5 s before the end), divided by the calls made meanwhile; \"others\" is the "
      "share of the machine's CPU time used by every other process during the same window (from `/proc/stat`). "
      f"For scale, `BenchmarkPrimes20000` (one cpu.primes call in Go, nothing else) took "
      f"{fmt_us(med(D.go_vals('BenchmarkPrimes20000', 'ns/op')) / 1000)}.")
    a("")
    a("| cell | workers / VUs | calls/s | k6 µs/call | workers µs/call | total µs/call | others |")
    a("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    rows = []
    for s in ("thread", "process", "process_tuned"):
        for w in D.workers:
            rows.append((f"{SERIES[s]}, cpu.primes", dict(series=s, workload="cpu.primes", workers=w)))
    for w in D.workers:
        rows.append((SERIES["js"] + ", primes in JS", dict(series="js", workers=w)))
    for s in ("thread", "process"):
        for v in (1, 2):
            rows.append((f"{SERIES[s]}, noop", dict(series=s, workload="noop", vus=v)))
    for c in D.cells:
        if c["cell"].get("series") == "empty":
            rows.append(("k6 empty iteration", dict(series="empty", vus=c["cell"]["vus"])))
    for label, q in rows:
        runs = D.runs(**q)
        cpus = [r["cpu"] for r in runs if r.get("cpu") and r["cpu"].get("calls_in_window")]
        if not runs or not cpus:
            continue
        cell = next(c["cell"] for c in D.cells if all(c["cell"].get(k) == v for k, v in q.items()))
        k6us = [1e6 * c["k6_cpu_s"] / c["calls_in_window"] for c in cpus]
        wus = [1e6 * c["workers_cpu_s"] / c["calls_in_window"] for c in cpus]
        tot = [x + y for x, y in zip(k6us, wus)]
        others = [100 * max(c["machine_busy_cpu_s"] - c["k6_cpu_s"] - c["workers_cpu_s"], 0) / c["machine_cpu_s"] for c in cpus]
        wv = f"{cell['workers']} / {cell['vus']}" if cell["mode"] == "pool" else f"- / {cell['vus']}"
        is_proc = cell.get("kind") == "process"
        a(f"| {label} | {wv} | {fmt_rate(med([r['per_s'] for r in runs]))} | {fmt_us(med(k6us))} | "
          f"{fmt_us(med(wus)) if is_proc else '-'} | {fmt_us(med(tot))} | {med(others):.0f} % |")
    a("")

    # go benchmarks
    a("## Go benchmarks")
    a("")
    a(f"One invocation: `{D.d['go']['command']}`. ThreadPrimes: {W} workers fed by {2 * W} submitters; RawPrimes: "
      f"{W} goroutines calling the workload directly; ProcessNoop: one worker process, 1 or 16 submitters with as many "
      "requests in flight; RawPipeEcho: a frame of a noop request's size written to a child process that answers with a "
      "frame of a noop result's size.")
    a("")
    a("| benchmark | ns/op | tasks/s | B/op | allocs/op |")
    a("| --- | ---: | ---: | ---: | ---: |")

    def ns(v):
        return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"
    for name in D.go:
        runs = D.go[name]
        nsv = [r["ns/op"] for r in runs if "ns/op" in r]
        tps = [r["tasks/s"] for r in runs if "tasks/s" in r]
        bop = [r["B/op"] for r in runs if "B/op" in r]
        aop = [r["allocs/op"] for r in runs if "allocs/op" in r]
        a(f"| {name} | {fmt_spread(nsv, ns)} | {fmt_spread(tps) if tps else '-'} | "
          f"{med(bop):.0f} | {med(aop):.0f} |")
    a("")

    # python
    a("## Python")
    a("")
    a(f"Python {info['python']}, stdlib only (`bench/python/pool_bench.py`). The prime count is the same trial division in "
      "pure Python. ProcessPoolExecutor uses the `fork` start method (Linux's default in 3.11, passed explicitly). "
      "No-op round trip: one worker, submit one no-op and wait for its result, repeated for the cell's duration.")
    a("")
    a("| executor | no-op round trip | per second |")
    a("| --- | ---: | ---: |")
    for s, label in (("py_thread", "ThreadPoolExecutor"), ("py_process", "ProcessPoolExecutor (fork)")):
        us = D.values(key="us_per_round_trip", series=s, mode="roundtrip")
        ps = D.values(series=s, mode="roundtrip")
        a(f"| {label} | {fmt_spread(us, fmt_us)} | {fmt_spread(ps)} |")
    a("")
    tn = med(D.go_vals("BenchmarkThreadNoop/workers=1/submitters=1", "ns/op")) / 1000
    pn = med(D.go_vals("BenchmarkProcessNoop/inflight=1", "ns/op")) / 1000
    a(f"Against the extension's round trips: thread pool {fmt_us(tn)} (Go benchmark), process pool {fmt_us(pn)} (Go benchmark); "
      "through k6, see the overhead table above.")
    a("")

    # idle
    idle, base = D.d["idle"], D.d["idle_baseline"]
    a("## Idle cost and memory")
    a("")
    a(f"`bench/k6/idle.js`: a ThreadPool of 16 and a ProcessPool of 16, warmed up until `stats().live` is 16 on both, "
      f"then sleeping; {idle['settle_s']:.0f} s later utime+stime of k6 and of every worker is read from "
      f"`/proc/<pid>/stat`, and again {idle['window_s']:.0f} s later (1 tick = {1000 / idle['clk_tck']:.0f} ms); "
      "memory is VmRSS and RssAnon (the heap and stacks: memory no other "
      "process shares) from `/proc/<pid>/status`, and PSS from `smaps_rollup` (which divides the pages of the k6 binary, "
      "mapped by k6 and every worker, among them). The baseline is the same script with no pool.")
    a("")
    a("| process | CPU ticks | CPU | VmRSS | RssAnon | PSS |")
    a("| --- | ---: | ---: | ---: | ---: | ---: |")
    hz, win = idle["clk_tck"], idle["window_s"]

    def mib(kb):
        return f"{kb / 1024:.1f} MiB" if kb else "-"
    a(f"| k6 with the two pools | {idle['k6_ticks']} | {idle['k6_cpu_pct']:.2f} % | {mib(idle['k6_rss_kb'])} | "
      f"{mib(idle.get('k6_anon_kb'))} | {mib(idle['k6_pss_kb'])} |")
    wt = sum(idle["worker_ticks"])
    rss = [x for x in idle["worker_rss_kb"] if x]
    pss = [x for x in idle["worker_pss_kb"] if x]
    anon = [x for x in idle.get("worker_anon_kb", []) if x]

    def tot(v):
        return mib(sum(v)) if v else "-"

    def mean(v):
        return mib(sum(v) / len(v)) if v else "-"
    if rss:
        a(f"| {idle['workers']} worker processes, total | {wt} | {100 * wt / hz / win:.2f} % | {tot(rss)} | {tot(anon)} | {tot(pss)} |")
        a(f"| per worker (mean; VmRSS min–max) | {wt / len(rss):.2f} | | {mean(rss)} ({mib(min(rss))}–{mib(max(rss))}) | "
          f"{mean(anon)} | {mean(pss)} |")
    a(f"| k6 without pools (baseline) | {base['k6_ticks']} | {base['k6_cpu_pct']:.2f} % | {mib(base['k6_rss_kb'])} | "
      f"{mib(base.get('k6_anon_kb'))} | {mib(base['k6_pss_kb'])} |")
    a("")
    return "\n".join(L) + "\n"


# --------------------------------------------------------------- svg

STYLE = {
    "thread": dict(color="#1f77b4", dash="", marker="circle"),
    "process": dict(color="#d62728", dash="", marker="square"),
    "process_tuned": dict(color="#d62728", dash="6 4", marker="square-open"),
    "js": dict(color="#2ca02c", dash="", marker="triangle"),
    "py_thread": dict(color="#9467bd", dash="2 3", marker="diamond"),
    "py_process": dict(color="#8c564b", dash="8 3 2 3", marker="diamond-open"),
    "ideal": dict(color="#999999", dash="3 3", marker=None),
}
LEGEND = {
    "thread": "thread pool (k6 + extension)",
    "process": "process pool (k6 + extension)",
    "process_tuned": "process pool, tuned: concurrency 2, GOMAXPROCS=1",
    "js": "k6 JS, no pool (VUs = workers)",
    "py_thread": "Python ThreadPoolExecutor",
    "py_process": "Python ProcessPoolExecutor (fork)",
    "ideal": "ideal for io.sleep: W / 10 ms",
}


def marker(kind, x, y, color):
    s = 4.5
    if kind == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{s}" fill="{color}"/>'
    if kind == "square":
        return f'<rect x="{x - s:.1f}" y="{y - s:.1f}" width="{2 * s}" height="{2 * s}" fill="{color}"/>'
    if kind == "square-open":
        return f'<rect x="{x - s:.1f}" y="{y - s:.1f}" width="{2 * s}" height="{2 * s}" fill="white" stroke="{color}" stroke-width="1.8"/>'
    if kind == "triangle":
        return f'<path d="M{x:.1f},{y - s - 1:.1f} L{x + s + 1:.1f},{y + s:.1f} L{x - s - 1:.1f},{y + s:.1f} Z" fill="{color}"/>'
    if kind == "diamond":
        return f'<path d="M{x:.1f},{y - s - 1:.1f} L{x + s + 1:.1f},{y:.1f} L{x:.1f},{y + s + 1:.1f} L{x - s - 1:.1f},{y:.1f} Z" fill="{color}"/>'
    if kind == "diamond-open":
        return (f'<path d="M{x:.1f},{y - s - 1:.1f} L{x + s + 1:.1f},{y:.1f} L{x:.1f},{y + s + 1:.1f} L{x - s - 1:.1f},{y:.1f} Z" '
                f'fill="white" stroke="{color}" stroke-width="1.8"/>')
    return ""


def nice_ticks(lo, hi):
    ticks = []
    k = math.floor(math.log10(lo))
    while 10 ** k <= hi * 1.0001:
        for m in (1, 2, 5):
            v = m * 10 ** k
            if lo * 0.9999 <= v <= hi * 1.0001:
                ticks.append(v)
        k += 1
    return ticks


def tick_label(v):
    if v >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def panel(D, workload, series, x0, y0, w, h):
    out = []
    ml, mr, mt, mb = 62, 14, 34, 46
    pw, ph = w - ml - mr, h - mt - mb
    data = {s: D.rates(s, workload) for s in series}
    data = {s: r for s, r in data.items() if r}
    vals = [v for r in data.values() for vs in r.values() for v in vs]
    ideal = None
    if workload == "io.sleep":
        ideal = {wk: wk * 100.0 for wk in D.workers}
        vals += list(ideal.values())
    if not vals:
        return ""
    lo = 10 ** math.floor(math.log10(min(vals) * 0.8))
    hi = 10 ** math.ceil(math.log10(max(vals) * 1.25))
    wmax = max(D.workers)

    def X(wk):
        return x0 + ml + pw * (math.log2(wk) / math.log2(wmax) if wmax > 1 else 0.5)

    def Y(v):
        return y0 + mt + ph * (1 - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)))
    title = {"cpu.primes": "cpu.primes {limit: 20000}: CPU-bound", "io.sleep": "io.sleep {duration: '10ms'}: I/O-bound"}[workload]
    out.append(f'<text x="{x0 + ml + pw / 2:.1f}" y="{y0 + 20}" text-anchor="middle" font-size="15" font-weight="bold">{html.escape(title)}</text>')
    out.append(f'<rect x="{x0 + ml}" y="{y0 + mt}" width="{pw}" height="{ph}" fill="white" stroke="#444"/>')
    for t in nice_ticks(lo, hi):
        y = Y(t)
        major = abs(math.log10(t) - round(math.log10(t))) < 1e-9
        out.append(f'<line x1="{x0 + ml}" y1="{y:.1f}" x2="{x0 + ml + pw}" y2="{y:.1f}" stroke="{"#cccccc" if major else "#eeeeee"}"/>')
        out.append(f'<text x="{x0 + ml - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12">{tick_label(t)}</text>')
    for wk in D.workers:
        x = X(wk)
        out.append(f'<line x1="{x:.1f}" y1="{y0 + mt}" x2="{x:.1f}" y2="{y0 + mt + ph}" stroke="#eeeeee"/>')
        out.append(f'<text x="{x:.1f}" y="{y0 + mt + ph + 17}" text-anchor="middle" font-size="12">{wk}</text>')
    out.append(f'<text x="{x0 + ml + pw / 2:.1f}" y="{y0 + h - 8}" text-anchor="middle" font-size="13">workers (log2 scale)</text>')
    cy = y0 + mt + ph / 2
    out.append(f'<text x="{x0 + 16}" y="{cy:.1f}" text-anchor="middle" font-size="13" transform="rotate(-90 {x0 + 16} {cy:.1f})">calls per second (log scale)</text>')
    if ideal:
        st = STYLE["ideal"]
        pts = " ".join(f"{X(wk):.1f},{Y(v):.1f}" for wk, v in sorted(ideal.items()))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{st["color"]}" stroke-width="1.5" stroke-dasharray="{st["dash"]}"/>')
    for s, r in data.items():
        st = STYLE[s]
        pts = sorted((wk, med(v), min(v), max(v)) for wk, v in r.items())
        poly = " ".join(f"{X(wk):.1f},{Y(m):.1f}" for wk, m, _, _ in pts)
        dash = f' stroke-dasharray="{st["dash"]}"' if st["dash"] else ""
        out.append(f'<g><title>{html.escape(LEGEND[s])}</title>')
        out.append(f'<polyline points="{poly}" fill="none" stroke="{st["color"]}" stroke-width="2.2"{dash}/>')
        for wk, m, mn, mx in pts:
            x = X(wk)
            if mx > mn:
                out.append(f'<line x1="{x:.1f}" y1="{Y(mn):.1f}" x2="{x:.1f}" y2="{Y(mx):.1f}" stroke="{st["color"]}" stroke-width="1.2"/>')
            out.append(marker(st["marker"], x, Y(m), st["color"]))
        out.append("</g>")
    return "\n".join(out)


def render_svg(D):
    pw, ph = 540, 400
    cpu_series = ("thread", "process", "process_tuned", "js", "py_thread", "py_process")
    io_series = ("thread", "process", "py_thread", "py_process")
    present = [s for s in cpu_series if D.rates(s, "cpu.primes") or D.rates(s, "io.sleep")] + ["ideal"]
    cols = 2
    rows = math.ceil(len(present) / cols)
    legend_h = 22 * rows + 16
    width, height = 2 * pw + 20, 50 + ph + legend_h + 12
    info = D.info
    sub = (f"median of {info['reps']} run(s) of {info['cell_s']} s per point, bars: min–max; "
           f"{info['cpu_model']}, {info['cpus']} CPUs; {info['date']}")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'font-family="Helvetica, Arial, sans-serif">',
           '<!-- Generated by bench/run.sh (bench/report.py) from bench/results.json. Do not edit by hand. -->',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="17" font-weight="bold">'
           'xk6-concurrency: function calls per second against workers</text>',
           f'<text x="{width / 2}" y="41" text-anchor="middle" font-size="12" fill="#555">{html.escape(sub)}</text>',
           panel(D, "cpu.primes", cpu_series, 10, 50, pw, ph),
           panel(D, "io.sleep", io_series, 10 + pw, 50, pw, ph)]
    ly = 50 + ph + 14
    for i, s in enumerate(present):
        st = STYLE[s]
        x = 80 + (i % cols) * (width - 120) / cols
        y = ly + 22 * (i // cols)
        dash = f' stroke-dasharray="{st["dash"]}"' if st["dash"] else ""
        out.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x + 36:.1f}" y2="{y:.1f}" stroke="{st["color"]}" stroke-width="2.2"{dash}/>')
        if st["marker"]:
            out.append(marker(st["marker"], x + 18, y, st["color"]))
        out.append(f'<text x="{x + 46:.1f}" y="{y + 4:.1f}" font-size="13">{html.escape(LEGEND[s])}</text>')
    out.append(f'<text x="{width - 12}" y="{height - 8}" text-anchor="end" font-size="11" fill="#777">'
               f'{html.escape(info["command"])}; numbers in BENCHMARKS.md</text>')
    out.append("</svg>")
    return "\n".join(x for x in out if x) + "\n"


def render(data, chart_href):
    D = Data(data)
    gl = goals(D)
    return render_md(D, gl, chart_href), render_svg(D), gl
