/**
 * xk6-concurrency: thread pools (goroutines) and process pools (worker
 * processes) for k6 scripts. Every task is recorded in k6's metrics:
 * `concurrency_tasks`, `concurrency_task_duration`, `concurrency_task_wait`,
 * `concurrency_task_overhead`, `concurrency_task_failed` and
 * `concurrency_pool_workers`, tagged with `pool`, `pool_kind`, `workload` and
 * `workers` besides the VU's own tags; and a started pool's state over time
 * (every second, and within 100 ms of a change): `concurrency_pool_queued`,
 * `concurrency_pool_busy`, `concurrency_pool_live` and
 * `concurrency_pool_utilization` (busy ÷ task slots, 0 to 1).
 *
 * @example
 * import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
 * const threads = new ThreadPool({ workers: 8 });
 * const procs = new ProcessPool({ workers: 8, taskTimeout: '5s' });
 * export default async function () {
 *   const n = await threads.run('cpu.primes', { limit: 20000 }); // 2262
 *   const m = procs.runSync('cpu.primes', { limit: 20000 });
 * }
 */
declare module 'k6/x/concurrency' {
  /** A k6 duration string such as `'10ms'` or `'1.5s'`, or a number of milliseconds. */
  export type Duration = string | number;

  /**
   * Params of a workload: a plain JSON object (finite numbers, strings,
   * booleans, null, arrays, objects), nested at most 64 levels. It reaches a
   * worker process with its keys in property order; strings with a lone
   * surrogate are refused (`InvalidArgumentError` naming the path).
   */
  export type Params = Record<string, unknown>;

  /** Options shared by both kinds of pool. */
  export interface PoolOptions {
    /**
     * The pool's name. Every VU that creates a pool of the same name gets the
     * same pool (one per k6 process). Default: `thread-<workers>` or `process-<workers>`.
     */
    name?: string;
    /** Number of workers, 1 to 1024. Default: the number of CPUs. */
    workers?: number;
    /** Tasks that may wait for a worker, 0 to 1000000; one more is rejected with `QueueFullError`. Default: 10000. */
    maxQueue?: number;
    /** How long a task may run once a worker took it; `TimeoutError` after that. Default: none. */
    taskTimeout?: Duration;
    /**
     * A workload every worker runs once before its first task (replacements,
     * recycled workers and growth by `resize` too): Python's
     * `initializer`/`initargs`. A worker whose init fails takes no task;
     * with no worker up, tasks fail with `WorkerStartError`. Bounded by
     * `startTimeout` on a process pool, by `taskTimeout` (if set) on a thread pool.
     */
    init?: { workload: string; params?: Params };
    /**
     * A JavaScript module file whose exported functions become workloads of
     * this pool: `pool.run('primes', params)` calls `export function primes(params)`
     * (sync or async) in a runtime of each worker's own, which runs the
     * module's top level once (a thread pool's worker keeps its runtime until
     * `resize` retires it; a new worker loads the module afresh). Relative to
     * the script, as open() is; read with the local files it imports in the
     * init context, so `k6 archive` carries them.
     *
     * A worker runtime offers the ECMAScript built-ins, imports of local
     * files, `console` (to k6's log at its level, with the fields `pool`,
     * `worker` and `source=console`; `worker` is the worker's number on a
     * thread pool, the worker process's pid on a process pool), `setTimeout`,
     * `setInterval`, `clearTimeout`, `clearInterval`, promises, `TextEncoder`,
     * `TextDecoder`, the `crypto` global's `getRandomValues` and `randomUUID`,
     * and the modules `k6/encoding` (`b64encode`, `b64decode`) and `k6/crypto`
     * (every function of k6's: the hashes, `createHash`, `hmac`, `createHMAC`,
     * `randomBytes`, `hexEncode`). Missing files, syntax errors and imports of
     * any other k6 module (`k6/http`, `k6/execution`, `k6/crypto/x509`, ...)
     * throw `InvalidArgumentError` here, naming the file and the import;
     * `open()` and `crypto.subtle` throw when used, naming themselves.
     * Default: none.
     */
    module?: string;
  }

  /** Options of a process pool. */
  export interface ProcessPoolOptions extends PoolOptions {
    /** Recycle a worker process after this many tasks. Default: never. */
    maxTasksPerWorker?: number;
    /**
     * Added to each worker's environment. `XK6_CONCURRENCY_WORKER` is reserved. While the operator's
     * `XK6_CONCURRENCY_ALLOWED_COMMANDS` is set, only the variables `XK6_CONCURRENCY_ALLOWED_ENV` names
     * may be set (`NotAllowedError` otherwise).
     */
    env?: Record<string, string | number | boolean>;
    /** How long a worker may take to start and say hello. Default: `'10s'`. */
    startTimeout?: Duration;
    /**
     * The worker program as an argv array (never run through a shell), for
     * workers in other languages speaking the protocol in ipc/PROTOCOL.md.
     * Default: this k6 binary in worker mode. The operator's
     * `XK6_CONCURRENCY_ALLOWED_COMMANDS` may refuse it (`NotAllowedError`).
     */
    command?: string[];
    /**
     * Working directory of the worker program, resolved from k6's; it must
     * exist and be a directory (checked by the constructor). Default: k6's.
     */
    cwd?: string;
    /** Tasks one worker process runs at once, 1 to 1024 (the pool sends it one more, which waits in its input: prefetch). Default: 1. */
    concurrency?: number;
  }

  /** Options of one call. */
  export interface CallOptions {
    /** Overrides the pool's `taskTimeout` for this call; 0: no timeout. */
    timeout?: Duration;
    /**
     * Tags added to every sample of the call's tasks, as k6's `params.tags`
     * are to a request's: `{ tags: { name: 'login' } }`. Values must be
     * strings. Reserved keys (`InvalidArgumentError`): `pool`, `pool_kind`,
     * `workload`, `workers`, `group`, `scenario`.
     */
    tags?: Record<string, string>;
    /**
     * Cancels the call's tasks when it aborts: a queued task is dropped at
     * once, a running one is stopped (a thread pool cancels its context; a
     * process pool sends the worker `cancel`), and each rejects with
     * `AbortError`. An aborted signal rejects at once and starts no task.
     * This module's `AbortSignal`, or any object in its shape.
     */
    signal?: AbortSignal;
  }

  /** Options of `map`, `mapSettled` and `asCompleted`. */
  export interface MapOptions extends CallOptions {
    /**
     * The most tasks of the call that travel to a process worker together,
     * in one `batch` frame (to workers whose hello lists `batch`: the
     * k6, Python and Node workers do), as Python's `Pool.map(chunksize)`.
     * A positive integer up to 1,000,000. Default: `ceil(n / (4 * workers))`
     * for `n` tasks, as `multiprocessing.Pool.map`'s; a chunk never holds
     * more than an equal share of the tasks still queued, so it never holds
     * back a task that another worker could start. Each task keeps its own
     * result, error, timeout, cancel and samples; on a thread pool (and to
     * other workers) it changes nothing but speed.
     */
    chunkSize?: number;
  }

  /**
   * A snapshot of a pool's counters. `submitted == completed + failed + queued + busy` at every moment.
   * A plain object whose keys always come in this order.
   */
  export interface PoolStats {
    /** Tasks submitted (a call rejected for bad arguments never becomes a task). */
    submitted: number;
    /** Tasks that returned a value. */
    completed: number;
    /** Tasks that failed, for any reason (timeouts, crashes, full queue, closing). */
    failed: number;
    /** Tasks waiting for a worker now (a settled task never is). */
    queued: number;
    /** The most tasks that ever waited at once; never above `maxQueue`. */
    peakQueued: number;
    /** Tasks running now (not settled). */
    busy: number;
    /** Settled tasks whose work still holds a worker: a thread workload that ignores its cancelled context, or a worker process's request unanswered since its cancel (for `CancelGrace`, 1 s, at most). */
    abandoned: number;
    /** The pool's size. */
    workers: number;
    /** Workers up now: goroutines, or processes past their handshake. */
    live: number;
    /** Worker processes replaced after a crash, a timeout or a recycle. */
    restarts: number;
  }

  /** What thread pools and process pools have in common. */
  export interface Pool {
    /** The pool's name. */
    readonly name: string;
    /** `'thread'` or `'process'`. */
    readonly kind: 'thread' | 'process';
    /** The pool's size now. */
    readonly workers: number;
    /** Runs a workload; resolves with its value. */
    run<T = unknown>(workload: string, params?: Params, opts?: CallOptions): Promise<T>;
    /** Runs a workload and returns its value, blocking this VU (only) until then. */
    runSync<T = unknown>(workload: string, params?: Params, opts?: CallOptions): T;
    /**
     * Runs a workload once per params object; resolves with the values in
     * input order. On the first failure it rejects with that error, with
     * `err.index` (and the index in the message), and cancels the call's
     * tasks that have not started (`AbortError`); running ones finish and
     * their results are dropped.
     */
    map<T = unknown>(workload: string, paramsArray: Params[], opts?: MapOptions): Promise<T[]>;
    /** Like `map`, but resolves with every outcome in input order, in `Promise.allSettled`'s shape; rejects only for bad arguments. */
    mapSettled<T = unknown>(workload: string, paramsArray: Params[], opts?: MapOptions): Promise<SettledResult<T>[]>;
    /**
     * Calls `callback(result, index)` on the VU's event loop as each task
     * settles, in completion order; resolves once all have settled. A
     * callback that throws rejects with what it threw and cancels the call's
     * other tasks. Its return value is not awaited.
     */
    asCompleted<T = unknown>(workload: string, paramsArray: Params[],
      callback: (result: SettledResult<T>, index: number) => void, opts?: MapOptions): Promise<void>;
    /** Starts the workers; resolves once every one is live, rejects with `WorkerStartError` if one cannot start. Not in the init context. */
    start(): Promise<void>;
    /** Changes the number of workers (1 to 1024) without dropping queued tasks. */
    resize(workers: number): void;
    /** The pool's counters now. */
    stats(): PoolStats;
    /**
     * Closes the pool. Without opts, queued and running tasks reject with
     * `PoolClosedError` and worker processes are stopped. With
     * `{ drain: true }`, new tasks reject with `PoolClosedError` at once, the
     * queued and running ones finish, then the workers stop; `timeout` bounds
     * that wait. Idempotent.
     */
    close(opts?: CloseOptions): Promise<void>;
    /** What this pool runs: the built-in workloads and, with `module`, its exports (kind `'js'`). Throws `InvalidArgumentError` on a `command` pool (its catalogue is its workers' hello). */
    workloads(): WorkloadInfo[];
  }

  /** One outcome of `mapSettled` and `asCompleted`: the shape of `Promise.allSettled`'s. */
  export type SettledResult<T = unknown> =
    | { status: 'fulfilled'; value: T }
    | { status: 'rejected'; reason: Error & { name: PoolErrorName } };

  /** Options of `close()`. */
  export interface CloseOptions {
    /** Let queued and running tasks finish before the workers stop. Default: false. */
    drain?: boolean;
    /** Bounds a drain; tasks still unsettled then reject with `PoolClosedError`. Only with `drain: true`. */
    timeout?: Duration;
  }

  /** The web platform's AbortSignal (k6 has no global one). Pass it as `opts.signal`. */
  export class AbortSignal {
    /** Not constructible: signals come from `new AbortController()` or `AbortSignal.abort()`. */
    private constructor();
    /** A signal aborted already. */
    static abort(reason?: unknown): AbortSignal;
    readonly aborted: boolean;
    /** Why it was aborted: `abort(reason)`'s argument, or an Error named `AbortError`. */
    readonly reason: unknown;
    /** Throws `reason` if aborted. */
    throwIfAborted(): void;
    onabort: ((event: { type: 'abort'; target: AbortSignal }) => void) | null;
    addEventListener(type: 'abort', listener: (event: { type: 'abort'; target: AbortSignal }) => void): void;
    removeEventListener(type: 'abort', listener: (event: { type: 'abort'; target: AbortSignal }) => void): void;
  }

  /** The web platform's AbortController: `controller.abort(reason?)` aborts `controller.signal`. */
  export class AbortController {
    constructor();
    readonly signal: AbortSignal;
    abort(reason?: unknown): void;
  }

  /** A pool of goroutines inside the k6 process. */
  export class ThreadPool implements Pool {
    constructor(options?: PoolOptions);
    readonly name: string;
    readonly kind: 'thread';
    readonly workers: number;
    run<T = unknown>(workload: string, params?: Params, opts?: CallOptions): Promise<T>;
    runSync<T = unknown>(workload: string, params?: Params, opts?: CallOptions): T;
    map<T = unknown>(workload: string, paramsArray: Params[], opts?: MapOptions): Promise<T[]>;
    mapSettled<T = unknown>(workload: string, paramsArray: Params[], opts?: MapOptions): Promise<SettledResult<T>[]>;
    asCompleted<T = unknown>(workload: string, paramsArray: Params[],
      callback: (result: SettledResult<T>, index: number) => void, opts?: MapOptions): Promise<void>;
    start(): Promise<void>;
    resize(workers: number): void;
    stats(): PoolStats;
    close(opts?: CloseOptions): Promise<void>;
    workloads(): WorkloadInfo[];
  }

  /** A pool of long-lived worker processes, talking over pipes. */
  export class ProcessPool implements Pool {
    constructor(options?: ProcessPoolOptions);
    readonly name: string;
    readonly kind: 'process';
    readonly workers: number;
    run<T = unknown>(workload: string, params?: Params, opts?: CallOptions): Promise<T>;
    runSync<T = unknown>(workload: string, params?: Params, opts?: CallOptions): T;
    map<T = unknown>(workload: string, paramsArray: Params[], opts?: MapOptions): Promise<T[]>;
    mapSettled<T = unknown>(workload: string, paramsArray: Params[], opts?: MapOptions): Promise<SettledResult<T>[]>;
    asCompleted<T = unknown>(workload: string, paramsArray: Params[],
      callback: (result: SettledResult<T>, index: number) => void, opts?: MapOptions): Promise<void>;
    start(): Promise<void>;
    resize(workers: number): void;
    stats(): PoolStats;
    close(opts?: CloseOptions): Promise<void>;
    workloads(): WorkloadInfo[];
  }

  /** One param of a workload in the catalogue. */
  export interface ParamInfo {
    type: 'int' | 'number' | 'string' | 'bool' | 'duration';
    description: string;
    required: boolean;
    default?: unknown;
    min?: number | string;
    max?: number | string;
    /** The allowed values of an enumerated string param. */
    values?: string[];
  }

  /** A workload in the catalogue. */
  export interface WorkloadInfo {
    name: string;
    /** `'js'`: an export of the pool's `module` (pool.workloads() only). */
    kind: 'cpu' | 'io' | 'js';
    params: Record<string, ParamInfo>;
    description: string;
  }

  /** The catalogue of workloads pools can run, built in and registered by other extensions. */
  export function workloads(): WorkloadInfo[];

  /** Options of `report.text` and `report.html`. */
  export interface ReportOptions {
    /** A heading above the table (text) or of the page (HTML). Default: none; the page says e.g. "Threads vs processes". */
    title?: string;
    /** The tag whose values are compared within a group (a bar each). Default: `'pool_kind'` (`thread` and `process` show as threads and processes). */
    series?: string;
    /** The integer tag along the x axis (a group each); speed-ups are over its smallest value that ran. Default: `'workers'`. */
    size?: string;
    /**
     * How long each cell ran, in seconds (or a duration such as `'7s'`):
     * calls/s is then `count / seconds`. Default: k6's `rate`, which divides
     * by the whole test's duration (wrong for cells that ran one after another).
     */
    seconds?: number | string;
  }

  /** The part of k6's handleSummary data the report reads, in k6's default shape. */
  export interface SummaryData {
    metrics: Record<string, { type?: string; contains?: string; values: Record<string, number> }>;
    state?: { testRunDurationMs?: number };
    [key: string]: unknown;
  }

  /** The same in k6's machine-readable summary (`K6_NEW_MACHINE_READABLE_SUMMARY=true`). */
  export interface MachineReadableSummaryData {
    results: { metrics: Array<{ name: string; type?: string; contains?: string; values: Record<string, number | null> }>; [key: string]: unknown };
    /** `duration` is the test run, in seconds. */
    config?: { duration?: number; [key: string]: unknown };
    [key: string]: unknown;
  }

  /**
   * Reports of the threads-vs-processes kind, from k6's end-of-test summary
   * data. A cell is a sub-metric of `concurrency_tasks` with the series, size
   * and `workload` tags, e.g. `concurrency_tasks{pool_kind:thread,workers:4,workload:cpu.primes}`.
   * Bad `data` or options throw an `InvalidArgumentError` naming them; no
   * cells is not an error: the report says so and how to declare them. A
   * cell without samples (declared, but nothing ran with its tags) shows as
   * "not run", never as 0, and speed-ups are over the smallest size that ran.
   *
   * @example
   * export const options = {
   *   thresholds: { ...report.thresholds({ pool_kind: ['thread', 'process'], workers: [4, 8, 16], workload: ['cpu.primes', 'io.sleep'] }) },
   * };
   * export function handleSummary(data) {
   *   return { stdout: report.text(data, { seconds: 7 }), 'report.html': report.html(data, { seconds: 7 }) };
   * }
   */
  export const report: {
    /** The calls-per-second table (a row per workload and series, a column per size, speed-ups over the smallest size that ran), then a digest of the other `concurrency_*` metrics. */
    text(data: SummaryData | MachineReadableSummaryData, opts?: ReportOptions): string;
    /**
     * One self-contained HTML page (inline CSS and SVG, nothing fetched): a
     * bar chart per workload, the table and the digest. Each bar is a
     * `<rect class="bar">` with `data-series`, `data-size`, `data-workload`
     * and `data-value` (calls/s); a cell that did not run is a
     * `<g class="not-run">` with the same `data-*` and a label, not a bar.
     */
    html(data: SummaryData | MachineReadableSummaryData, opts?: ReportOptions): string;
    /**
     * One always-passing threshold (`count>=0`) per sub-metric of
     * `concurrency_tasks` in the cross product of `spec` (tag names to
     * values), to spread into `options.thresholds`: k6 keeps a sub-metric in
     * the summary data only when a threshold names it.
     */
    thresholds(spec: Record<string, Array<string | number>>): Record<string, string[]>;
  };

  /**
   * The `name` of every Error a pool rejects or throws with:
   * - `InvalidArgumentError`: an option, argument or param is wrong (the message names it);
   * - `UnknownWorkloadError`: no such workload (the message lists those there are);
   * - `WorkloadError`: the workload ran and failed;
   * - `TimeoutError`: the task ran past its timeout;
   * - `WorkerCrashedError`: the worker process died with the task on it (pid and exit status), or could not start while no other worker was up;
   * - `QueueFullError`: `maxQueue` tasks were waiting already;
   * - `PoolClosedError`: the pool was closed, or k6 stopped the VU, before the task finished;
   * - `AbortError`: the task was cancelled by `opts.signal`, or by a `map` that failed or an `asCompleted` callback that threw;
   * - `WorkerStartError`: `start()` when a worker could not start, or a task when the workers' `init` failed and none is up;
   * - `InvalidStateError`: `run`, `runSync`, the map family or `start` called in the init context;
   * - `NotAllowedError`: `new ProcessPool()` names a program the operator's
   *   `XK6_CONCURRENCY_ALLOWED_COMMANDS` does not allow, or an `env` variable
   *   `XK6_CONCURRENCY_ALLOWED_ENV` does not name.
   */
  export type PoolErrorName =
    | 'InvalidArgumentError'
    | 'UnknownWorkloadError'
    | 'WorkloadError'
    | 'TimeoutError'
    | 'WorkerCrashedError'
    | 'QueueFullError'
    | 'PoolClosedError'
    | 'AbortError'
    | 'WorkerStartError'
    | 'NotAllowedError'
    | 'InvalidStateError';
}
