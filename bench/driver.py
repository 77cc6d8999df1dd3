#!/usr/bin/env python3
"""The end-to-end benchmark of xk6-concurrency (run by bench/run.sh).

One session: the Go benchmarks (one `go test` invocation), then REPS
repetitions of every cell (k6 with the extension, k6 without any pool, Python
executors), each repetition in a shuffled (seeded) order so that machine drift
hits every cell alike, then the idle-cost measurement. Writes the raw results
(bench/results.json), BENCHMARKS.md and bench/chart.svg.

Python 3 standard library only. Knobs by environment variable:
  REPS=3        repetitions per cell
  CELL=5        seconds per cell (k6 scenario duration, Python measuring time)
  QUICK=1       1 rep, 2 s cells, workers 1,2,16 only: a smoke run
  SEED=1        seed of the cell order
  K6=bin/k6     the k6 binary (built by bench/run.sh)

  driver.py --report-only bench/results.json   rewrites BENCHMARKS.md and the
  chart from stored results, without measuring anything.
"""
import argparse
import datetime
import json
import os
import platform
import random
import resource
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import report  # noqa: E402  (bench/report.py: BENCHMARKS.md and the SVG chart)

WORKER_ENV = "XK6_CONCURRENCY_WORKER"

GO_BENCH_REGEX = ("^(BenchmarkThreadNoop|BenchmarkProcessNoop|BenchmarkRawPipeEcho|BenchmarkFrameRoundTrip"
                  "|BenchmarkPrimes20000|BenchmarkRawPrimes|BenchmarkThreadPrimes)$")
GO_BENCH_PACKAGES = ["./pool", "./ipc", "./workload"]

IDLE_WINDOW = 5.0   # seconds over which idle CPU is sampled
IDLE_SETTLE = 1.0   # seconds between "all workers live" and the first sample
IDLE_WORKERS = 16


def log(msg):
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- processes

class Children:
    """Every process the driver starts runs in its own session, so that it can
    be killed with everything it started (Python's pool processes); k6's worker
    processes have their own process group but die with k6 (parent-death
    signal), and are looked for in /proc as well."""

    def __init__(self):
        self.procs = set()
        self.k6_pids = set()
        self.lock = threading.Lock()

    def popen(self, cmd, k6=False, **kw):
        env = dict(os.environ)
        env.pop(WORKER_ENV, None)  # k6 would start as a worker
        env.update(kw.pop("env", {}))
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, **kw)
        with self.lock:
            self.procs.add(p)
            if k6:
                self.k6_pids.add(p.pid)
        return p

    def done(self, p):
        with self.lock:
            self.procs.discard(p)

    def kill_all(self):
        with self.lock:
            procs = list(self.procs)
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        for pid in leftover_workers(self.k6_pids):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def run(self, cmd, timeout, k6=False, env=None):
        """Runs cmd to the end; returns (rc, stdout, stderr) as text."""
        p = self.popen(cmd, k6=k6, env=env or {}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            raise BenchError(f"timed out after {timeout:.0f} s: {' '.join(cmd)}\n{tail(err)}")
        finally:
            self.done(p)
        return p.returncode, out, err


def tail(text, n=15):
    lines = (text or "").strip().splitlines()
    return "\n".join(lines[-n:])


def proc_environ_has_worker(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read().split(b"\0")
    except OSError:
        return None
    for kv in env:
        if kv.startswith(WORKER_ENV.encode() + b"="):
            return kv.split(b"=", 1)[1].decode(errors="replace")
    return None


def leftover_workers(k6_pids=None):
    """pids of live k6 worker processes: all of them, or those of the given k6 pids."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        owner = proc_environ_has_worker(name)
        if owner is None:
            continue
        if k6_pids is None or (owner.isdigit() and int(owner) in k6_pids):
            st = proc_stat(int(name))
            if st and st["state"] != "Z":
                found.append(int(name))
    return found


def proc_stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rfind(")") + 2:].split()
    return {"state": rest[0], "ppid": int(rest[1]), "utime": int(rest[11]), "stime": int(rest[12])}


def proc_status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


# ---------------------------------------------------------------- machine

def cpu_times():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu "):
                return [int(x) for x in line.split()[1:]]
    return []


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def own_cpu_s():
    """CPU seconds used by the driver and every process it started and reaped
    (k6 reaps its workers, go test its test binaries, Python its pool processes)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        total += ru.ru_utime + ru.ru_stime
    return total


def load_summary(t0, t1, l0, l1, own_s):
    """How busy the whole machine was between two /proc/stat samples, and how
    much of that was this benchmark."""
    d = [b - a for a, b in zip(t0, t1)]
    total = sum(d[:8]) or 1  # user nice system idle iowait irq softirq steal
    idle = d[3] + d[4]
    hz = os.sysconf("SC_CLK_TCK")
    own_pct = min(100.0 * own_s * hz / total, 100.0)
    busy = 100.0 * (total - idle) / total
    return {"start": l0, "end": l1, "busy_pct": busy, "steal_pct": 100.0 * d[7] / total,
            "own_pct": own_pct, "others_pct": max(busy - own_pct, 0.0)}


def machine_info(k6):
    info = {"cpus": os.cpu_count(), "kernel": platform.release(), "os": platform.system(),
            "python": platform.python_version(), "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cpu_model"] = model or platform.processor() or "unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["ram_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        info["ram_gib"] = None
    info["go"] = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip()
    out = subprocess.run([k6, "version"], capture_output=True, text=True).stdout.strip()
    info["k6"] = out.splitlines()[0] if out else "unknown"
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    info["commit"] = git.stdout.strip() if git.returncode == 0 else "unknown"
    st = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    info["dirty"] = sorted(line[3:] for line in st.stdout.splitlines()
                           if not line[3:].startswith("bench/") and line[3:] not in ("BENCHMARKS.md",))
    info["k6_full"] = out
    return info


# ---------------------------------------------------------------- cells

def k6_cell(**kw):
    c = {"tool": "k6", **kw}
    c["id"] = "k6:" + ",".join(f"{k}={kw[k]}" for k in sorted(kw))
    return c


def py_cell(**kw):
    c = {"tool": "python", **kw}
    c["id"] = "py:" + ",".join(f"{k}={kw[k]}" for k in sorted(kw))
    return c


def make_cells(workers, cpus):
    cells = []
    for workload in ("cpu.primes", "io.sleep"):
        for kind in ("thread", "process"):
            for w in workers:
                cells.append(k6_cell(series=f"{kind}", mode="pool", kind=kind, workload=workload, workers=w, vus=2 * w))
    # the tuned process pool (two requests in flight per worker, GOMAXPROCS=1):
    # twice the VUs, so that as many tasks wait in the pool's queue as default cells have
    for w in workers:
        cells.append(k6_cell(series="process_tuned", mode="pool", kind="process", workload="cpu.primes", workers=w,
                             vus=4 * w, concurrency=2, gomaxprocs=1))
    for kind in ("thread", "process"):
        for v in (1, 2):
            cells.append(k6_cell(series=f"{kind}", mode="pool", kind=kind, workload="noop", workers=v, vus=v))
    for w in workers:
        cells.append(k6_cell(series="js", mode="js", workload="cpu.primes", workers=w, vus=w))
    for v in sorted({1, 2, cpus}):
        cells.append(k6_cell(series="empty", mode="empty", workload="empty", workers=v, vus=v))
    for executor in ("thread", "process"):
        for work in ("primes", "sleep"):
            for w in workers:
                cells.append(py_cell(series=f"py_{executor}", mode="rate", executor=executor, work=work, workers=w))
        cells.append(py_cell(series=f"py_{executor}", mode="roundtrip", executor=executor, work="noop", workers=1))
    return cells


def run_k6_cell(ch, k6, cell, seconds, tmp):
    summary = os.path.join(tmp, "summary.json")
    if os.path.exists(summary):
        os.remove(summary)
    env = {"MODE": cell["mode"], "WORKERS": cell["workers"], "VUS": cell["vus"], "DURATION": seconds, "SUMMARY": summary}
    if cell["mode"] == "pool":
        env.update(KIND=cell["kind"], WORKLOAD=cell["workload"])
        if cell.get("concurrency"):
            env["CONCURRENCY"] = cell["concurrency"]
        if cell.get("gomaxprocs"):
            env["GOMAXPROCS"] = cell["gomaxprocs"]
    cmd = [k6, "run", "--quiet", "--no-usage-report"]
    for k, v in env.items():
        cmd += ["-e", f"{k}={v}"]
    cmd.append(os.path.join(HERE, "k6", "cell.js"))
    rc, out, err, cpu = run_sampled(ch, cmd, seconds)
    if rc != 0:
        raise BenchError(f"k6 failed (exit {rc}) in cell {cell['id']}:\n{tail(err)}")
    try:
        with open(summary) as f:
            s = json.load(f)
    except (OSError, ValueError) as e:
        raise BenchError(f"cell {cell['id']}: no summary data from k6 ({e}):\n{tail(err)}")
    iterations = (s.get("iterations") or {}).get("count", 0)
    res = {"iterations": iterations}
    if cell["mode"] == "pool":
        tasks = (s.get("tasks") or {}).get("count", 0)
        failed = (s.get("failed") or {}).get("passes", 0)
        if failed:
            raise BenchError(f"cell {cell['id']}: {failed} of {tasks} tasks failed (concurrency_task_failed > 0):\n{tail(err)}")
        if tasks == 0 or tasks != iterations:
            raise BenchError(f"cell {cell['id']}: {tasks} tasks for {iterations} iterations:\n{tail(err)}")
        res["tasks"] = tasks
        res["per_s"] = tasks / seconds
        for m in ("task_duration", "task_wait", "task_overhead"):
            if s.get(m):
                res[m + "_ms"] = s[m]
    else:
        if iterations == 0:
            raise BenchError(f"cell {cell['id']}: no iterations:\n{tail(err)}")
        res["per_s"] = iterations / seconds
    if cpu:
        cpu["calls_in_window"] = res["per_s"] * cpu["window_s"]
        res["cpu"] = cpu
    return res


def sample_cpu(k6_pid):
    """utime+stime ticks of k6 and of its worker processes, and /proc/stat."""
    st = proc_stat(k6_pid)
    workers = {}
    for pid in leftover_workers({k6_pid}):
        w = proc_stat(pid)
        if w:
            workers[pid] = w["utime"] + w["stime"]
    return {"k6": (st["utime"] + st["stime"]) if st else None, "workers": workers, "stat": cpu_times(),
            "t": time.monotonic()}


def run_sampled(ch, cmd, seconds):
    """Runs a k6 cell; once its setup is done (the BENCH_SETUP_DONE line),
    samples the CPU time of k6 and of its workers over the scenario's steady
    part (from 0.5 s in to 0.5 s before its end), and how busy the whole
    machine was meanwhile. Returns (rc, stdout, stderr, cpu or None)."""
    p = ch.popen(cmd, k6=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out_lines, err_lines = [], []
    ready = threading.Event()
    cpu = {}

    def read_err():
        for line in p.stderr:
            err_lines.append(line)
            if "BENCH_SETUP_DONE" in line:
                ready.set()

    def read_out():
        for line in p.stdout:
            out_lines.append(line)

    def sampler():
        if not ready.wait(timeout=seconds + 170):
            return
        window = max(seconds - 1.0, 0.5)
        time.sleep(0.5)
        if p.poll() is not None:
            return
        a = sample_cpu(p.pid)
        time.sleep(window)
        if p.poll() is not None:
            return
        b = sample_cpu(p.pid)
        if a["k6"] is None or b["k6"] is None:
            return
        hz = os.sysconf("SC_CLK_TCK")
        d = [y - x for x, y in zip(a["stat"], b["stat"])]
        total = sum(d[:8]) or 1
        busy_ticks = total - d[3] - d[4]
        w_ticks = sum(b["workers"][pid] - a["workers"][pid] for pid in b["workers"] if pid in a["workers"])
        k_ticks = b["k6"] - a["k6"]
        cpu.update(window_s=b["t"] - a["t"], k6_cpu_s=k_ticks / hz, workers_cpu_s=w_ticks / hz,
                   machine_busy_cpu_s=busy_ticks / hz, machine_cpu_s=total / hz, workers_seen=len(b["workers"]))
    threads = [threading.Thread(target=f, daemon=True) for f in (read_err, read_out, sampler)]
    for t in threads:
        t.start()
    try:
        p.wait(timeout=seconds + 180)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        raise BenchError(f"timed out after {seconds + 180:.0f} s: {' '.join(cmd)}\n{tail(''.join(err_lines))}")
    finally:
        ch.done(p)
    for t in threads:
        t.join(timeout=10)
    return p.returncode, "".join(out_lines), "".join(err_lines), (dict(cpu) if cpu else None)


def run_py_cell(ch, cell, seconds):
    cmd = [sys.executable, os.path.join(HERE, "python", "pool_bench.py"), cell["mode"], "--executor", cell["executor"],
           "--seconds", str(seconds)]
    if cell["mode"] == "rate":
        cmd += ["--work", cell["work"], "--workers", str(cell["workers"])]
    rc, out, err = ch.run(cmd, timeout=seconds + 180)
    if rc != 0:
        raise BenchError(f"python failed (exit {rc}) in cell {cell['id']}:\n{tail(err)}")
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchError(f"cell {cell['id']}: no result from python:\n{tail(out)}\n{tail(err)}")


def describe(cell):
    if cell["tool"] == "k6":
        if cell["mode"] == "pool":
            extra = ", tuned" if cell.get("concurrency") else ""
            return f"k6 {cell['kind']} pool {cell['workload']} workers={cell['workers']} vus={cell['vus']}{extra}"
        if cell["mode"] == "js":
            return f"k6 JS primes (no pool) vus={cell['vus']}"
        return f"k6 empty iteration vus={cell['vus']}"
    if cell["mode"] == "roundtrip":
        return f"python {cell['executor']} no-op round trip"
    return f"python {cell['executor']} {cell['work']} workers={cell['workers']}"


# ---------------------------------------------------------------- go benchmarks

def go_bench_cmd(reps):
    return ["go", "test", "-run", "^$", "-bench", GO_BENCH_REGEX, "-benchmem", f"-count={reps}"] + GO_BENCH_PACKAGES


def parse_go_bench(text):
    """{name: [{metric: value}...]} from `go test -bench` output; the -N GOMAXPROCS suffix is dropped."""
    out = {}
    for line in text.splitlines():
        if not line.startswith("Benchmark"):
            continue
        fields = line.split()
        if len(fields) < 4 or not fields[1].isdigit():
            continue
        name = re.sub(r"-\d+$", "", fields[0])
        m = {"iterations": int(fields[1])}
        for i in range(2, len(fields) - 1, 2):
            try:
                m[fields[i + 1]] = float(fields[i])
            except ValueError:
                pass
        out.setdefault(name, []).append(m)
    return out


def run_go_bench(ch, reps):
    cmd = go_bench_cmd(reps)
    log("go benchmarks: " + " ".join(shlex_quote(c) for c in cmd))
    t0 = time.time()
    rc, out, err = ch.run(cmd, timeout=3600)
    if rc != 0:
        raise BenchError(f"go test failed (exit {rc}):\n{tail(out)}\n{tail(err)}")
    parsed = parse_go_bench(out)
    log(f"go benchmarks done in {time.time() - t0:.0f} s ({len(parsed)} benchmarks)")
    needed = ["BenchmarkThreadNoop/workers=1/submitters=1", "BenchmarkProcessNoop/inflight=1", "BenchmarkProcessNoop/inflight=16",
              "BenchmarkRawPipeEcho", "BenchmarkFrameRoundTrip", "BenchmarkPrimes20000", "BenchmarkRawPrimes", "BenchmarkThreadPrimes"]
    missing = [n for n in needed if n not in parsed]
    if missing:
        raise BenchError(f"go test did not report {missing}:\n{tail(out, 40)}")
    return {"command": " ".join(shlex_quote(c) for c in cmd), "output": out, "results": parsed,
            "seconds": time.time() - t0}


def shlex_quote(s):
    import shlex
    return shlex.quote(s)


# ---------------------------------------------------------------- idle cost

def measure_idle(ch, k6, pools):
    cmd = [k6, "run", "--quiet", "--no-usage-report", "-e", f"WORKERS={IDLE_WORKERS}", "-e", f"POOLS={1 if pools else 0}",
           "-e", f"HOLD={IDLE_SETTLE + IDLE_WINDOW + 3:.0f}", os.path.join(HERE, "k6", "idle.js")]
    p = ch.popen(cmd, k6=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ready = threading.Event()
    lines = []

    def reader():
        for line in p.stderr:
            lines.append(line)
            if "BENCH_IDLE_READY" in line:
                ready.set()
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        if not ready.wait(timeout=120):
            raise BenchError("idle: k6 never reported its pools ready:\n" + tail("".join(lines)))
        time.sleep(IDLE_SETTLE)
        workers = [pid for pid in leftover_workers({p.pid})]
        if pools and len(workers) != IDLE_WORKERS:
            raise BenchError(f"idle: found {len(workers)} worker processes of k6 {p.pid}, want {IDLE_WORKERS}")
        pids = [p.pid] + workers
        t0 = {pid: proc_stat(pid) for pid in pids}
        time.sleep(IDLE_WINDOW)
        t1 = {pid: proc_stat(pid) for pid in pids}
        if p.poll() is not None:
            raise BenchError("idle: k6 ended during the measurement:\n" + tail("".join(lines)))
        ticks = {}
        for pid in pids:
            if not t0[pid] or not t1[pid]:
                raise BenchError(f"idle: process {pid} went away during the measurement")
            ticks[pid] = (t1[pid]["utime"] + t1[pid]["stime"]) - (t0[pid]["utime"] + t0[pid]["stime"])
        rss = {pid: proc_status_kb(pid, "VmRSS") for pid in pids}
        anon = {pid: proc_status_kb(pid, "RssAnon") for pid in pids}
        pss = {pid: proc_pss_kb(pid) for pid in pids}
        p.wait(timeout=60)
        t.join(timeout=5)
        if p.returncode != 0:
            raise BenchError(f"idle: k6 exited {p.returncode}:\n" + tail("".join(lines)))
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        ch.done(p)
    hz = os.sysconf("SC_CLK_TCK")
    return {
        "pools": pools, "workers": len(workers), "window_s": IDLE_WINDOW, "settle_s": IDLE_SETTLE, "clk_tck": hz,
        "k6_ticks": ticks[p.pid], "worker_ticks": [ticks[w] for w in workers],
        "k6_cpu_pct": 100.0 * ticks[p.pid] / hz / IDLE_WINDOW,
        "workers_cpu_pct": 100.0 * sum(ticks[w] for w in workers) / hz / IDLE_WINDOW,
        "k6_rss_kb": rss[p.pid], "worker_rss_kb": [rss[w] for w in workers],
        "k6_pss_kb": pss[p.pid], "worker_pss_kb": [pss[w] for w in workers],
        "k6_anon_kb": anon[p.pid], "worker_anon_kb": [anon[w] for w in workers],
    }


# ---------------------------------------------------------------- session

def session(args):
    reps = int(os.environ.get("REPS", "3"))
    cell_s = float(os.environ.get("CELL", "5"))
    quick = os.environ.get("QUICK", "") not in ("", "0")
    seed = int(os.environ.get("SEED", "1"))
    k6 = os.environ.get("K6", os.path.join(ROOT, "bin", "k6"))
    cpus = os.cpu_count() or 1
    workers = [1, 2, 4, 8, 16]
    if quick:
        reps, cell_s, workers = 1, 2.0, [1, 2, 16]
    if cpus not in workers and cpus <= 16:
        workers = sorted(set(workers) | {cpus})
    if reps < 1 or cell_s <= 0:
        raise BenchError(f"REPS must be >= 1 and CELL > 0 (got REPS={reps}, CELL={cell_s})")
    if cell_s == int(cell_s):
        cell_s = int(cell_s)
    if not os.access(k6, os.X_OK):
        raise BenchError(f"no k6 binary at {k6} (bench/run.sh builds it)")

    knobs = f"REPS={reps} CELL={cell_s}" if not quick else "QUICK=1"
    if os.environ.get("SEED"):
        knobs += f" SEED={seed}"
    if os.environ.get("BENCH_FAST_BUILD", "") not in ("", "0"):
        knobs += " BENCH_FAST_BUILD=1"
    command = f"{knobs} bench/run.sh"

    info = machine_info(k6)
    info.update(command=command, reps=reps, cell_s=cell_s, quick=quick, seed=seed, workers=workers, W=cpus,
                build=os.environ.get("BENCH_BUILD", "make k6"))
    log(f"{info['cpu_model']}, {cpus} CPUs, {info['ram_gib']} GiB; {info['go']}; {info['k6']}; Python {info['python']}")
    log(f"command: {command}; workers {workers}; {reps} rep(s) of {cell_s} s cells")

    ch = Children()
    tmp = tempfile.mkdtemp(prefix="xk6-concurrency-bench-")
    started = time.time()

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    t_stat0, load0, own0 = cpu_times(), loadavg(), own_cpu_s()
    try:
        # The session runs a private copy of the k6 it was given, so that a
        # rebuild of bin/k6 while it runs cannot mix two binaries into one set
        # of figures (worker processes are that same copy).
        k6_copy = os.path.join(tmp, "k6")
        shutil.copy2(k6, k6_copy)
        k6 = k6_copy
        go = run_go_bench(ch, reps)
        cells = make_cells(workers, cpus)
        results = {c["id"]: {"cell": c, "runs": []} for c in cells}
        total = reps * len(cells)
        n = 0
        t_cells = time.time()
        for rep in range(reps):
            order = list(cells)
            random.Random(seed * 1000 + rep).shuffle(order)
            for cell in order:
                n += 1
                t0 = time.time()
                if cell["tool"] == "k6":
                    r = run_k6_cell(ch, k6, cell, cell_s, tmp)
                else:
                    r = run_py_cell(ch, cell, cell_s)
                r["rep"] = rep + 1
                r["wall_s"] = time.time() - t0
                results[cell["id"]]["runs"].append(r)
                fig = f"{r['us_per_round_trip']:.1f} us/round trip" if "us_per_round_trip" in r else f"{r['per_s']:.1f}/s"
                elapsed = time.time() - t_cells
                eta = elapsed / n * (total - n)
                log(f"[{n}/{total} rep {rep + 1}/{reps}] {describe(cell)}: {fig} ({r['wall_s']:.1f} s; ~{eta / 60:.0f} min left)")
        log("idle cost: 16-worker thread and process pools, then k6 without pools")
        idle = measure_idle(ch, k6, pools=True)
        log(f"idle with pools: k6 {idle['k6_ticks']} ticks, workers {sum(idle['worker_ticks'])} ticks over {IDLE_WINDOW:.0f} s")
        idle_base = measure_idle(ch, k6, pools=False)
        log(f"idle without pools: k6 {idle_base['k6_ticks']} ticks")
    finally:
        ch.kill_all()
        shutil.rmtree(tmp, ignore_errors=True)
    left = leftover_workers(ch.k6_pids)
    if left:
        raise BenchError(f"k6 worker processes still running: {left}")
    info["session_s"] = time.time() - started
    info["load"] = load_summary(t_stat0, cpu_times(), load0, loadavg(), own_cpu_s() - own0)
    data = {"info": info, "go": go, "cells": list(results.values()), "idle": idle, "idle_baseline": idle_base}
    return data


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--report-only", metavar="RESULTS_JSON", help="rewrite BENCHMARKS.md and the chart from stored results")
    ap.add_argument("--results", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--markdown", default=os.path.join(ROOT, "BENCHMARKS.md"))
    ap.add_argument("--svg", default=os.path.join(HERE, "chart.svg"))
    args = ap.parse_args()
    try:
        if args.report_only:
            with open(args.report_only) as f:
                data = json.load(f)
        else:
            data = session(args)
            with open(args.results, "w") as f:
                json.dump(data, f, indent=1)
                f.write("\n")
            log(f"raw results: {os.path.relpath(args.results, ROOT)}")
        md, svg, goals = report.render(data, os.path.relpath(args.svg, os.path.dirname(os.path.abspath(args.markdown))))
        with open(args.markdown, "w") as f:
            f.write(md)
        with open(args.svg, "w") as f:
            f.write(svg)
        log(f"wrote {os.path.relpath(args.markdown, ROOT)} and {os.path.relpath(args.svg, ROOT)}")
        for g in goals:
            sys.stderr.write(f"  {'MET    ' if g['met'] else 'NOT MET'}  {g['goal']}: {g['figure']} (target {g['target']})\n")
        if "session_s" in data["info"]:
            log(f"session took {data['info']['session_s'] / 60:.1f} min")
    except BenchError as e:
        log(f"FAILED: {e}")
        return 1
    except KeyboardInterrupt as e:
        log(f"interrupted ({e or 'Ctrl-C'}); children stopped")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
