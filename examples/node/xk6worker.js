'use strict';
// xk6worker.js: process-pool workers for xk6-concurrency, written for Node.js
// (no npm dependencies). It is the worker side of ipc/PROTOCOL.md, the
// Node.js twin of examples/python/xk6worker.py:
//
//   const { workload, serve, InvalidArgument } = require('./xk6worker');
//   workload('text.upper', { kind: 'cpu' }, (params) => {
//     if (typeof params.text !== 'string') throw new InvalidArgument('param "text" must be a string');
//     return params.text.toUpperCase();
//   });
//   serve();
//
// A workload is fn(params, ctx) returning a JSON value or a Promise of one:
// null, a boolean, a finite number, a string, an array, a plain object (or
// an object with a toJSON method), nested at most 512 levels.
// InvalidArgument -> InvalidArgumentError; any other throw or rejection ->
// WorkloadError; messages are prefixed with the workload's name.
//
// Every request gets its answer. A value JSON cannot carry unchanged (NaN or
// Infinity anywhere, a BigInt, a Map, a function, undefined in an array, a
// lone surrogate, a cycle, deeper nesting) fails the task with a
// WorkloadError that says what and where ('NaN at value.a[1].b'); so does a
// throw whose value cannot be rendered as text (throw Object.create(null)).
// A promise rejection or an exception nobody handles (a workload's stray
// failure) is written to stderr, which the pool logs, and the worker serves on.
//
// Concurrency. Node.js runs JavaScript on one thread. The pool's
// `concurrency` option (the hello's) is how many requests run at once on
// this worker; the pool sends one more, which waits its turn (prefetch), in
// the order it came. Running requests overlap while they wait (timers,
// sockets, files), but
// CPU-bound work blocks the event loop, and everything else with it (other
// tasks, cancel frames, timeouts) until it returns. For CPU-bound work use
// more processes (the pool's `workers`).
//
// Cancellation. ctx.signal is an AbortSignal that aborts when the pool
// cancels the task, when its timeout_ms passes, or when the worker is
// stopping; pass it to timers/promises, fetch, streams. CPU-bound code cannot
// be interrupted by a signal (the event loop is blocked), so it calls
// ctx.throwIfCancelled() now and then: that also looks at the deadline, and
// throws a Cancelled error once the task should stop.
// ctx.signal.reason.cause is 'cancel', 'timeout' or 'stopping'.
//
// The process. serve() sends its hello, serves requests until stdin ends,
// cancels what still runs, writes every result and lets the process exit
// with status 0. A frame that breaks the protocol stops the reading; the
// process exits with status 1 once the results in flight are written.
// Nothing but frames may reach stdout: console.log and process.stdout.write
// are sent to stderr, which the pool forwards to k6's log (in a worker
// process, from the moment this module is loaded: require it first).

const PROTOCOL_VERSION = 1;
const WORKER_ENV = 'XK6_CONCURRENCY_WORKER';
const DEFAULT_MAX_FRAME = 16 << 20;
const MIN_FRAME = 2;
const MAX_ID = 2 ** 53;
// How deeply params and values may nest (ipc/PROTOCOL.md): [] is one level.
const MAX_DEPTH = 512;

class InvalidArgument extends Error {
  constructor(message) { super(message); this.name = 'InvalidArgument'; }
}
class Cancelled extends Error {
  constructor(message = 'cancelled', options = undefined) { super(message, options); this.name = 'Cancelled'; }
}
class ProtocolError extends Error {}

/** Every workload registered with workload(), by name. */
const WORKLOADS = new Map();

/**
 * Registers fn as the workload `name`.
 * opts.kind: 'cpu' | 'io'; opts.description: one line; opts.params: the
 * catalogue's description of the params ({ limit: { type: 'int', default: 20000, min: 2 } }),
 * documentation only: fn validates its params itself.
 */
function workload(name, opts, fn) {
  if (typeof opts === 'function') [opts, fn] = [{}, opts];
  const { kind = 'cpu', description = '', params = {} } = opts || {};
  if (typeof name !== 'string' || name === '') throw new Error('a workload needs a name');
  if (kind !== 'cpu' && kind !== 'io') throw new Error(`workload ${name}: kind must be "cpu" or "io", got ${kind}`);
  if (WORKLOADS.has(name)) throw new Error(`workload ${name} is registered twice`);
  WORKLOADS.set(name, { name, kind, description, params, fn });
}

// protocolOutput returns the function that writes to the real stdout, and
// (once) sends everything else that writes to process.stdout or through
// console.log to stderr instead. A child process that inherits fd 1 would
// still write into the protocol: give children other stdio
// (stdio: ['ignore', 'pipe', 'inherit'], or 2 for their stdout).
let writeOut;
function protocolOutput() {
  if (!writeOut) {
    const stdout = process.stdout;
    writeOut = stdout.write.bind(stdout);
    stdout.write = process.stderr.write.bind(process.stderr);
    console.log = console.error;
    console.info = console.error;
    console.debug = console.error;
  }
  return writeOut;
}

// In a worker process (a pool started it), stdout is taken as soon as this
// module is loaded, so that even a console.log at the top of the worker's own
// module cannot reach the protocol: require it first.
if (process.env[WORKER_ENV]) protocolOutput();

function log(message) {
  try {
    process.stderr.write(`xk6worker pid ${process.pid}: ${message}\n`);
  } catch {
    // stderr is gone with the pool: nobody is left to tell
  }
}

/**
 * Serves the registered workloads (or those of the Map `workloads`) on stdin
 * and stdout. The pool need not be this process's parent: a wrapper that
 * forks (npx, timeout, sh -c) may stand between; a pool that is gone shows
 * as the end of stdin.
 */
function serve(workloads = WORKLOADS) {
  if (!process.env[WORKER_ENV]) {
    log(`${WORKER_ENV} is not set: a worker is started by a process pool, not by hand`);
    process.exitCode = 1;
    return;
  }
  // A workload's stray failure (a rejection or an exception nobody handles)
  // would end the process, and every task in flight with it: report it.
  process.on('unhandledRejection', (reason) => log(`a promise was rejected and nobody handled it (serving on): ${stackOrText(reason)}`));
  process.on('uncaughtException', (e) => log(`an exception nobody caught (serving on): ${stackOrText(e)}`));
  // A write to a stderr the pool no longer reads fails with EPIPE: nothing
  // is left to tell, and reporting it would only fail again.
  process.stderr.on('error', () => {});
  new Server(workloads).start();
}

class Server {
  constructor(workloads) {
    this.workloads = workloads;
    this.maxFrame = DEFAULT_MAX_FRAME;
    this.inflight = new Map(); // id -> { abort }
    this.concurrency = 0; // from the pool's hello; 0: no limit
    this.running = 0;
    this.waiting = []; // runs past the concurrency, oldest first: () => start it
    this.chunks = []; // unread input
    this.buffered = 0;
    this.reading = true;
    this.writeFailed = false; // the pool stopped reading stdout
    this.writeOut = protocolOutput();
    // batch: the pool's hello lists it (it reads results in batches); the
    // results of batches wait in held until the event loop's next turn (or
    // the next frame written), to go out together in one batch frame.
    this.batchOut = false;
    this.held = [];
    this.heldBytes = 0;
    this.flushHeld = () => this.flush();
  }

  start() {
    this.send({
      type: 'hello', protocol: PROTOCOL_VERSION, pid: process.pid,
      workloads: [...this.workloads.values()].map((w) => ({ name: w.name, kind: w.kind, description: w.description, params: w.params })),
      // It runs at most the hello's concurrency at once, the others in the
      // order read (PROTOCOL.md, "Waiting requests").
      // It reads runs in batches (PROTOCOL.md, "batch").
      features: ['prefetch', 'batch'],
    });
    this.onData = (chunk) => this.read(chunk);
    this.onEnd = () => this.stop(0, this.buffered > 0
      ? `the pool sent a truncated frame: the input ended inside a frame (${this.buffered} bytes of it)` : '');
    process.stdin.on('data', this.onData);
    process.stdin.on('end', this.onEnd);
    process.stdin.on('error', (e) => this.stop(1, `reading the input: ${e.message}`));
    // The pool stopped reading (it is gone): stop, as at the end of the input.
    process.stdout.on('error', () => {
      this.writeFailed = true;
      this.stop(1, '');
    });
  }

  // stop ends the reading: tasks in flight are cancelled, their results
  // written, and the process exits once nothing is left to do (the event
  // loop empties).
  stop(code, why) {
    if (!this.reading) return;
    this.reading = false;
    if (why) {
      log(`protocol error: ${why}`);
      code = 1;
    }
    process.exitCode = code;
    process.stdin.off('data', this.onData);
    process.stdin.pause();
    process.stdin.destroy();
    for (const task of this.inflight.values()) task.abort('stopping');
  }

  read(chunk) {
    if (!this.reading) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    try {
      while (this.reading && this.buffered >= 4) {
        const head = this.peek(4);
        const size = head.readUInt32BE(0);
        // The length comes first: a frame over the limit is refused before
        // any more of it is kept.
        if (size > this.maxFrame) throw new ProtocolError(`a frame of ${size} bytes, over the ${this.maxFrame}-byte limit`);
        if (size < MIN_FRAME) throw new ProtocolError(`a frame of ${size} bytes, too small for a JSON object`);
        if (this.buffered < 4 + size) break;
        const frame = this.take(4 + size).subarray(4);
        this.handle(frame);
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.stop(1, `the pool sent ${e.message}`);
    }
  }

  peek(n) {
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0];
  }

  take(n) {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return all.subarray(0, n);
  }

  handle(frame) {
    let message;
    try {
      message = JSON.parse(frame.toString('utf8'));
    } catch (e) {
      throw new ProtocolError(`a frame that is not valid JSON (${e.message}): ${snippet(frame)}`);
    }
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      throw new ProtocolError(`a frame that is not a JSON object: ${snippet(frame)}`);
    }
    if (typeof message.type !== 'string') throw new ProtocolError(`a message without a type: ${snippet(frame)}`);
    switch (message.type) {
      case 'hello':
        if (Number.isInteger(message.max_frame) && message.max_frame >= MIN_FRAME) {
          this.maxFrame = Math.min(message.max_frame, 0xFFFFFFFF);
        }
        if (Number.isInteger(message.concurrency) && message.concurrency >= 1) this.concurrency = message.concurrency;
        this.batchOut = Array.isArray(message.features) && message.features.includes('batch');
        break;
      case 'run':
        this.run(message);
        break;
      case 'batch': { // runs, in order, as if each came in a frame of its own
        const { requests } = message;
        if (!Array.isArray(requests)) throw new ProtocolError(`a batch without a requests array: ${snippet(frame)}`);
        for (const item of requests) {
          if (item === null || typeof item !== 'object' || item.type !== 'run') {
            throw new ProtocolError(`a batch holding something else than a run: ${JSON.stringify(item).slice(0, 64)}`);
          }
        }
        for (const item of requests) this.run(item, true);
        break;
      }
      case 'cancel': {
        const task = this.inflight.get(message.id);
        if (task) task.abort('cancel');
        break;
      }
      default: // other types are ignored, for later versions of the protocol
    }
  }

  run(message, batched = false) {
    const received = process.hrtime.bigint();
    const id = message.id;
    if (!Number.isInteger(id) || id <= 0 || id >= MAX_ID) {
      throw new ProtocolError(`a run without a valid id: ${JSON.stringify(id)}`);
    }
    const name = message.workload;
    if (typeof name !== 'string') throw new ProtocolError(`run ${id} without a workload name`);
    let timeoutMs = message.timeout_ms;
    if (timeoutMs !== undefined && timeoutMs !== null && typeof timeoutMs !== 'number') {
      throw new ProtocolError(`run ${id} with a timeout_ms that is not a number: ${JSON.stringify(timeoutMs)}`);
    }
    if (this.inflight.has(id)) throw new ProtocolError(`run ${id} while a run with that id is in flight`);
    const fail = (errorName, text) => this.sendResult(id, name, undefined, [errorName, text], process.hrtime.bigint() - received,
      batched);

    const w = this.workloads.get(name);
    if (!w) {
      fail('UnknownWorkloadError', `unknown workload ${JSON.stringify(name)} (available: ${[...this.workloads.keys()].sort().join(', ')})`);
      return;
    }
    let params = message.params;
    if (params === undefined || params === null) params = {};
    if (typeof params !== 'object' || Array.isArray(params)) {
      fail('InvalidArgumentError', `${name}: params must be a JSON object, got ${JSON.stringify(params).slice(0, 64)}`);
      return;
    }
    if (tooDeep(params)) {
      fail('InvalidArgumentError', `${name}: params nest deeper than ${MAX_DEPTH} levels`);
      return;
    }
    if (!(timeoutMs > 0)) timeoutMs = undefined;
    const begin = () => {
      this.running++;
      this.execute(id, w, params, timeoutMs, batched).catch((e) => { // a last resort: the request is still answered
        this.inflight.delete(id);
        this.sendResult(id, name, undefined, ['WorkloadError', `${name}: could not be answered: ${errorText(e)}`], 0n, batched);
      }).finally(() => { // a microtask: before the next frame is read
        this.running--;
        this.startWaiting();
      });
    };
    if (this.concurrency === 0 || this.running < this.concurrency) {
      begin();
      return;
    }
    // It waits its turn; a cancel (or the worker stopping) answers it without running it.
    const abort = (cause) => {
      this.waiting = this.waiting.filter((b) => b !== begin);
      this.inflight.delete(id);
      const why = cause === 'cancel' ? 'cancelled by the pool before it started'
        : 'cancelled because the worker is stopping: its input closed before it started';
      this.sendResult(id, name, undefined, ['WorkloadError', `${name}: ${why}`], 0n, batched);
    };
    this.inflight.set(id, { abort });
    this.waiting.push(begin);
  }

  // startWaiting starts the oldest waiting runs while there is room.
  startWaiting() {
    while (this.waiting.length > 0 && this.running < this.concurrency) {
      const begin = this.waiting.shift();
      begin();
    }
  }

  async execute(id, w, params, timeoutMs, batched) {
    const controller = new AbortController();
    const start = process.hrtime.bigint();
    // The timeout counts from the start of the run, as run_ns does.
    const deadline = timeoutMs === undefined ? Infinity : performance.now() + timeoutMs;
    const abort = (cause) => {
      if (!controller.signal.aborted) controller.abort(new Cancelled(cause === 'timeout' ? 'timed out' : 'cancelled', { cause }));
    };
    let timer;
    if (timeoutMs !== undefined) timer = setTimeout(() => abort('timeout'), timeoutMs);
    const task = { abort };
    this.inflight.set(id, task);
    if (!this.reading) abort('stopping');
    const ctx = {
      signal: controller.signal,
      deadline,
      throwIfCancelled() {
        if (!controller.signal.aborted && performance.now() >= deadline) abort('timeout');
        if (controller.signal.aborted) throw new Cancelled();
      },
    };
    let value;
    let error;
    try {
      value = w.fn(params, ctx);
      // Only a Promise is awaited: a synchronous workload's result goes out
      // at once, and its run_ns is its own run time.
      if (value !== null && typeof value === 'object' && typeof value.then === 'function') value = await value;
    } catch (e) {
      const reason = controller.signal.aborted ? controller.signal.reason.cause : undefined;
      if (isInvalidArgument(e)) error = ['InvalidArgumentError', prefixed(w.name, e)];
      else if (reason === 'timeout') error = ['TimeoutError', `${w.name}: timed out after ${timeoutMs}ms`];
      else if (reason === 'cancel') error = ['WorkloadError', `${w.name}: cancelled by the pool`];
      else if (reason === 'stopping') error = ['WorkloadError', `${w.name}: cancelled because the worker is stopping: its input closed`];
      else error = ['WorkloadError', prefixed(w.name, e)];
    }
    const runNs = process.hrtime.bigint() - start;
    clearTimeout(timer);
    this.inflight.delete(id);
    this.sendResult(id, w.name, value, error, runNs, batched);
  }

  sendResult(id, name, value, error, runNs, batched = false) {
    const message = { type: 'result', id, run_ns: Number(runNs > 0n ? runNs : 0n) };
    let payload;
    try {
      payload = encode(message, value, error);
    } catch (e) {
      const why = e instanceof Unsendable ? e.message : `encoding it threw ${errorText(e)}`;
      payload = encode(message, undefined, ['WorkloadError', `${name}: cannot send its value as JSON: ${why}`]);
    }
    if (payload.length > this.maxFrame) {
      payload = encode(message, undefined, ['WorkloadError',
        `${name}: its result of ${payload.length} bytes is over the ${this.maxFrame}-byte frame limit`]);
    }
    if (!batched || !this.batchOut) {
      this.writeFrame(payload);
      return;
    }
    if (this.heldBytes + payload.length + 32 > this.maxFrame) this.flush();
    if (this.held.length === 0) setImmediate(this.flushHeld);
    this.held.push(payload);
    this.heldBytes += payload.length + 1;
  }

  // flush writes the held results: one batch frame, or a result frame for one.
  flush() {
    const held = this.held;
    if (held.length === 0) return;
    this.held = [];
    this.heldBytes = 0;
    this.writeRaw(held.length === 1 ? held[0]
      : Buffer.concat([Buffer.from('{"type":"batch","results":['), ...held.flatMap((p, i) => (i > 0 ? [COMMA, p] : [p])),
        Buffer.from(']}')]));
  }

  send(message) { this.writeFrame(Buffer.from(JSON.stringify(message))); }

  writeFrame(payload) {
    this.flush(); // in order: what was held first
    this.writeRaw(payload);
  }

  writeRaw(payload) {
    if (this.writeFailed) return;
    const head = Buffer.alloc(4);
    head.writeUInt32BE(payload.length, 0);
    this.writeOut(Buffer.concat([head, payload]));
  }
}

const COMMA = Buffer.from(',');

function encode(message, value, error) {
  if (error) return Buffer.from(JSON.stringify({ ...message, error: { name: error[0], message: error[1] } }));
  if (value === undefined || value === null) return Buffer.from(JSON.stringify(message));
  const json = stringify(value);
  const head = JSON.stringify({ type: message.type, id: message.id });
  return Buffer.from(`${head.slice(0, -1)},"value":${json},"run_ns":${message.run_ns}}`);
}

/** Unsendable says why a value cannot be sent unchanged, and where. */
class Unsendable extends Error {}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

// stringify is JSON.stringify that refuses, with an Unsendable naming the
// place, what JSON.stringify would silently change: NaN and Infinity (null),
// functions and symbols (dropped), undefined in an array (null), a BigInt, a
// Map, a Set or any object that is not plain (an object of its own
// properties), lone surrogates (U+FFFD on the pool's side), a cycle, and
// nesting deeper than MAX_DEPTH. Its replacer sees each value after toJSON,
// as JSON.stringify encodes it.
function stringify(value) {
  const places = new Map(); // object -> its place, while it is encoded
  const root = { depth: 0 };
  const refuse = (what, place) => { throw new Unsendable(`${what} at ${pathOf(place)}`); };
  return JSON.stringify(value, function replacer(key, v) {
    const inArray = Array.isArray(this);
    const parent = places.get(this) || root;
    const k = inArray ? Number(key) : key; // a place is made only for a container, or for what is refused
    if (!inArray && parent !== root && LONE_SURROGATE.test(key)) refuse('a key that is not valid Unicode (a lone surrogate)', parent);
    switch (typeof v) {
      case 'number':
        if (!Number.isFinite(v)) refuse(String(v), placeIn(parent, root, k));
        return v;
      case 'string':
        if (LONE_SURROGATE.test(v)) refuse('a string that is not valid Unicode (a lone surrogate)', placeIn(parent, root, k));
        return v;
      case 'boolean':
        return v;
      case 'undefined':
        if (inArray) refuse('undefined', placeIn(parent, root, k));
        return v; // a property that is undefined is absent, as in JSON.stringify
      case 'object':
        if (v === null) return v;
        break;
      default: // bigint, function, symbol
        refuse(`${kindOf(v)}, which is not a JSON type,`, placeIn(parent, root, k));
    }
    const place = placeIn(parent, root, k);
    if (place.depth > MAX_DEPTH) throw new Unsendable(`nesting deeper than ${MAX_DEPTH} levels`);
    const proto = Object.getPrototypeOf(v);
    if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) refuse(`${kindOf(v)}, which is not a JSON type,`, place);
    if (places.has(v)) { // seen before: a cycle if it is one of this place's own containers
      for (let p = parent; p !== root && p !== undefined; p = p.parent) {
        if (p.object === v) refuse('a cycle (the value contains itself)', place);
      }
    }
    place.object = v;
    places.set(v, place);
    return v;
  });
}

// placeIn is the place of key in the container at parent (root: the top).
function placeIn(parent, root, key) {
  return { parent: parent === root ? undefined : parent, key, depth: parent.depth + 1, root: parent === root };
}

// pathOf names a place as a JavaScript accessor path: value.a[1]["odd key"].
function pathOf(place) {
  const parts = [];
  for (let p = place; p !== undefined && !p.root; p = p.parent) {
    if (typeof p.key === 'number') parts.push(`[${p.key}]`);
    else parts.push(IDENTIFIER.test(p.key) ? `.${p.key}` : `[${JSON.stringify(p.key)}]`);
  }
  return `value${parts.reverse().join('')}`;
}

// tooDeep says whether params (parsed JSON) nest deeper than MAX_DEPTH.
function tooDeep(params) {
  let level = [params];
  for (let depth = 1; level.length > 0; depth++) {
    if (depth > MAX_DEPTH) return true;
    const next = [];
    for (const v of level) {
      for (const x of Array.isArray(v) ? v : Object.values(v)) {
        if (x !== null && typeof x === 'object') next.push(x);
      }
    }
    level = next;
  }
  return false;
}

// kindOf names what a value is, with an article, without calling anything
// the value defines but its prototype chain.
function kindOf(v) {
  try {
    if (v === null) return 'null';
    if (typeof v === 'bigint') return 'a BigInt';
    if (typeof v !== 'object' && typeof v !== 'function') return `a ${typeof v}`;
    if (typeof v === 'function') return 'a function';
    const proto = Object.getPrototypeOf(v);
    if (proto === null) return 'an object without a prototype';
    const name = Object.prototype.hasOwnProperty.call(proto, 'constructor') ? proto.constructor.name : '';
    return typeof name === 'string' && name !== '' ? `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}` : 'an object';
  } catch {
    return 'an object that throws when inspected';
  }
}

// errorText renders what a workload threw: an Error's message, or the
// value as text; a value that cannot be rendered is described instead.
function errorText(e) {
  try {
    if (typeof e === 'string') return e;
    if (e !== null && typeof e === 'object') {
      const m = e.message;
      if (typeof m === 'string' && m !== '') return m;
    }
    return String(e);
  } catch (err) {
    return `${kindOf(e)}, whose text cannot be rendered (String() threw ${kindOf(err)})`;
  }
}

// stackOrText is a stray failure's stack, or its text.
function stackOrText(e) {
  try {
    if (e instanceof Error && typeof e.stack === 'string') return e.stack;
  } catch {
    // a Proxy: fall through
  }
  return errorText(e);
}

function isInvalidArgument(e) {
  try {
    return e instanceof InvalidArgument;
  } catch {
    return false;
  }
}

function prefixed(name, e) {
  const text = errorText(e);
  return text.startsWith(`${name}:`) ? text : `${name}: ${text}`;
}

function snippet(frame) {
  const s = frame.subarray(0, 64).toString('utf8');
  return JSON.stringify(s) + (frame.length > 64 ? '...' : '');
}

module.exports = { workload, serve, InvalidArgument, Cancelled, WORKLOADS };
