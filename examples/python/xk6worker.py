"""xk6worker: process-pool workers for xk6-concurrency, written in Python.

A k6 script with the xk6-concurrency extension can run its tasks on worker
processes in any language that speaks the worker protocol (ipc/PROTOCOL.md in
the repository).  This module is that protocol's worker side in plain Python
(standard library only, Python 3.8+), so that a worker is a few lines::

    # my_worker.py
    from xk6worker import workload, serve, InvalidArgument

    @workload('text.upper', kind='cpu', description='Upper-cases a string.')
    def upper(params):
        text = params.get('text')
        if not isinstance(text, str):
            raise InvalidArgument('param "text" must be a string')
        return text.upper()

    if __name__ == '__main__':
        serve()

and, in the k6 script::

    const py = new ProcessPool({ command: ['python3', 'my_worker.py'], concurrency: 4 });
    py.runSync('text.upper', { text: 'hi' });   // 'HI'

How a task runs
---------------
* A workload is a function ``fn(params: dict) -> value``: ``params`` is the
  JSON object the script passed (``{}`` when it passed none) and ``value`` a
  JSON value: ``None``, ``bool``, ``int``, a finite ``float``, ``str``,
  ``list`` or ``tuple``, ``dict`` with ``str`` keys, nested at most 512 levels.
  The function validates its params.
* A workload may be ``async def``: its coroutine (any awaitable it returns) is
  awaited on an asyncio event loop that runs beside the threads.
* ``raise InvalidArgument('param "x" must be ...')`` for bad params: the script
  gets an ``InvalidArgumentError``.  Any other exception becomes a
  ``WorkloadError``.  Messages are prefixed with the workload's name.
* Every request gets its answer.  A value JSON cannot carry unchanged (NaN, a
  ``set``, ``bytes``, a ``Decimal``, a key that is not a string, a lone
  surrogate, a cycle, deeper nesting) fails the task with a ``WorkloadError``
  that says what and where (``NaN at value.a[1].b``); so does an exception
  whose text cannot be rendered.
* Tasks run on a ``concurrent.futures.ThreadPoolExecutor`` with as many threads
  as the pool's ``concurrency`` option (1 by default).  Threads share the GIL:
  I/O-bound work (sleeping, sockets, files) overlaps, CPU-bound pure-Python
  work does not.  For CPU-bound work use more processes (the pool's
  ``workers``), not more threads.
* Cancellation is cooperative.  A function that declares a keyword-only
  parameter named ``cancel`` gets a ``CancelEvent`` (a ``threading.Event``)
  that is set when the pool cancels the task, when the task's timeout passes,
  or when the worker is stopping.  Wait on it instead of ``time.sleep``, or
  test ``cancel.is_set()`` now and then in a loop, and ``raise Cancelled()``
  when it is set (an ``async def`` workload is simply cancelled: its
  ``await`` raises ``asyncio.CancelledError``)::

      @workload('io.wait', kind='io')
      def wait(params, *, cancel):
          if cancel.wait(params.get('seconds', 1)):
              raise Cancelled()

  The result then says why the task stopped (``TimeoutError`` after a
  timeout).  A function that ignores ``cancel`` simply runs to its end.

The process
-----------
``serve()`` speaks the protocol over stdin and stdout until stdin ends, then
exits with status 0 once the results of the tasks in flight are written
(tasks still running are cancelled first).  A frame that breaks the protocol
makes it stop reading, finish the tasks in flight and exit with status 1.
Nothing but frames may reach stdout, so stdout is moved aside: the protocol
keeps a private copy of the original descriptor, and ``print()``, child
processes and C code writing to stdout land on stderr instead, which the pool
forwards to k6's log.  stdin is likewise replaced by ``/dev/null``.  In a
worker process (``XK6_CONCURRENCY_WORKER`` is set) this happens when the
module is imported, so import it before anything that may print.
"""

import asyncio
import inspect
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import compress, repeat

__all__ = ['workload', 'serve', 'InvalidArgument', 'Cancelled', 'CancelEvent', 'WORKLOADS']

PROTOCOL_VERSION = 1
# The pool sets this to its pid in every worker's environment.
WORKER_ENV = 'XK6_CONCURRENCY_WORKER'
# The largest frame either side sends until the pool's hello says otherwise.
DEFAULT_MAX_FRAME = 16 << 20
MIN_FRAME = 2  # "{}"
MAX_ID = 1 << 53
# How deeply params and values may nest (ipc/PROTOCOL.md): "[]" is one level.
MAX_DEPTH = 512


class InvalidArgument(Exception):
    """Raise it for bad params: the task fails with InvalidArgumentError.

    The message should name the param, as in 'param "limit" must be an
    integer from 2 to 2147483647, got -1'; the workload's name is prepended.
    """


class Cancelled(Exception):
    """Raise it when a task stops early because its ``cancel`` event is set."""


class ProtocolError(Exception):
    """The pool sent something that breaks ipc/PROTOCOL.md."""


class CancelEvent(threading.Event):
    """A task's cancellation: a ``threading.Event`` that is set when the pool
    cancels the task, when the worker is stopping, or once the task's
    ``timeout_ms`` has passed.

    The deadline needs no timer thread: ``is_set()`` and ``wait()`` look at
    the clock.  ``reason`` says why the event is set: ``'cancel'``,
    ``'timeout'`` or ``'stopping'`` (``None`` while it is not).
    """

    def __init__(self, deadline=None):
        super().__init__()
        self.deadline = deadline  # time.monotonic() value, or None
        self.reason = None
        self._callbacks = []
        self._lock = threading.Lock()

    def cancel(self, reason):
        with self._lock:
            if self.reason is None:
                self.reason = reason
            self.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def _on_cancel(self, callback):
        """Call callback() once, when the event is set (now, if it is)."""
        with self._lock:
            if not super().is_set():
                self._callbacks.append(callback)
                return
        callback()

    def is_set(self):
        if super().is_set():
            return True
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.cancel('timeout')
            return True
        return False

    def wait(self, timeout=None):
        """Wait until the event is set, at most ``timeout`` seconds; return
        whether it is set (as ``threading.Event.wait`` does)."""
        if self.deadline is not None:
            left = max(self.deadline - time.monotonic(), 0)
            timeout = left if timeout is None else min(timeout, left)
        super().wait(timeout)
        return self.is_set()


class _Workload:
    def __init__(self, name, kind, description, params, fn):
        self.name, self.kind, self.description, self.params, self.fn = name, kind, description, params, fn
        parameter = inspect.signature(fn).parameters.get('cancel')
        self.wants_cancel = parameter is not None and parameter.kind in (
            inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)

    def info(self):
        return {'name': self.name, 'kind': self.kind, 'description': self.description, 'params': self.params}

    def call(self, params, cancel):
        if self.wants_cancel:
            return self.fn(params, cancel=cancel)
        return self.fn(params)


# Every workload registered with @workload, by name.
WORKLOADS = {}


def workload(name, kind='cpu', description='', params=None):
    """Register the decorated function as the workload ``name``.

    kind: ``'cpu'`` or ``'io'``.  description: one line for the catalogue.
    params: the catalogue's description of the params, as the JavaScript
    ``workloads()`` shows them: ``{'limit': {'type': 'int', 'description':
    '...', 'required': False, 'default': 20000, 'min': 2, 'max': 100}}``
    (every key of the inner dicts is optional).  It is documentation only:
    the function validates its params itself.
    """
    if not isinstance(name, str) or not name:
        raise ValueError('a workload needs a name')
    if kind not in ('cpu', 'io'):
        raise ValueError('workload %s: kind must be "cpu" or "io", got %r' % (name, kind))
    if name in WORKLOADS:
        raise ValueError('workload %s is registered twice' % name)

    def register(fn):
        WORKLOADS[name] = _Workload(name, kind, description, dict(params or {}), fn)
        return fn
    return register


def serve(workloads=None):
    """Serve the registered workloads (or those of the dict ``workloads``)
    over stdin and stdout until stdin ends; then exit the process."""
    code = _check_started_by_a_pool()
    if code == 0:
        proto_in, proto_out = _protocol_streams()
        code = _Server(WORKLOADS if workloads is None else workloads, proto_in, proto_out).run()
    sys.stdout.flush()
    sys.exit(code)


def _check_started_by_a_pool():
    """A worker is started by a pool, which sets WORKER_ENV (to its own pid).
    The pool need not be our parent: a wrapper that forks (timeout, sh -c,
    poetry run) may stand between.  A pool that is gone shows as the end of
    stdin, whenever it goes."""
    if not os.environ.get(WORKER_ENV, ''):
        _log('%s is not set: a worker is started by a process pool, not by hand' % WORKER_ENV)
        return 1
    return 0


_streams = None


def _protocol_streams():
    """Take stdin and stdout for the protocol, out of everyone else's reach
    (once: later calls return the same streams).

    The protocol gets private copies of file descriptors 0 and 1; then fd 1
    becomes a copy of stderr and fd 0 reads /dev/null, and sys.stdout and
    sys.stdin follow.  So print(), input(), child processes and C libraries
    can never corrupt the frames.
    """
    global _streams
    if _streams is not None:
        return _streams
    sys.stdout.flush()
    proto_in = os.fdopen(os.dup(0), 'rb', buffering=64 << 10)
    proto_out = os.fdopen(os.dup(1), 'wb', buffering=64 << 10)
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = sys.stderr
    sys.stdin = open(os.devnull)
    _streams = proto_in, proto_out
    return _streams


# In a worker process (a pool started it), the streams are taken as soon as
# this module is imported, so that even a print() at the top of the worker's
# own module cannot reach the protocol: import xk6worker first.  Elsewhere
# (tests, tools importing a worker's module) importing it changes nothing.
if os.environ.get(WORKER_ENV):
    _protocol_streams()


def _log(message):
    sys.stderr.write('xk6worker pid %d: %s\n' % (os.getpid(), message))
    sys.stderr.flush()


class _Task:
    __slots__ = ('id', 'workload', 'params', 'cancel', 'timeout_ms', 'started', 'batch')

    def __init__(self, id, workload, params, cancel, timeout_ms, batch=None):
        self.id, self.workload, self.params, self.cancel, self.timeout_ms = id, workload, params, cancel, timeout_ms
        self.started = False  # an executor thread took it; guarded by inflight_lock
        self.batch = batch  # the _Batch it came in, or None


class _Batch:
    """The runs of one batch frame that are not answered yet: while some are,
    the results of the others may wait to go out together (BATCH_HOLD)."""
    __slots__ = ('left',)

    def __init__(self):
        self.left = 0  # guarded by _Server.write_lock


# How long a result of a batch may wait for the other results of its batch,
# so that they reach the pool in one frame: at most this, in seconds
# (XK6WORKER_BATCH_HOLD_MS changes it, for tests).
BATCH_HOLD = float(os.environ.get('XK6WORKER_BATCH_HOLD_MS', '1')) / 1000


class _Server:
    def __init__(self, workloads, proto_in, proto_out):
        self.workloads = workloads
        self.input = proto_in
        self.output = proto_out
        self.write_lock = threading.Lock()  # one frame at a time on stdout
        self.write_failed = False
        self.max_frame = DEFAULT_MAX_FRAME
        self.concurrency = 1
        self.executor = None  # created with the first run, sized by the pool's hello
        self.inflight = {}  # id -> _Task
        self.inflight_lock = threading.Lock()
        # batch: the pool's hello lists it (it reads results in batches);
        # held are result payloads waiting to go out in one batch frame,
        # since held_since (guarded by write_lock); the flusher thread sends
        # them after BATCH_HOLD at most.
        self.batch_out = False
        self.held, self.held_since = [], 0.0
        self.held_cond = threading.Condition(self.write_lock)
        self.flusher = None

    # --- the main loop: read frames until stdin ends ---------------------

    def run(self):
        # prefetch: it runs at most the hello's concurrency at once, the
        # others in the order read (PROTOCOL.md, "Waiting requests").
        self.send({'type': 'hello', 'protocol': PROTOCOL_VERSION, 'pid': os.getpid(),
                   'workloads': [w.info() for w in self.workloads.values()],
                   'features': ['prefetch', 'batch']})
        code = 0
        try:
            while True:
                frame = self.read_frame()
                if frame is None:  # stdin ended between frames: a clean end
                    break
                self.handle(frame)
        except ProtocolError as e:
            _log('protocol error: the pool sent %s' % e)
            code = 1
        # Stop what still runs (cooperatively), and wait for every result to be written.
        with self.inflight_lock:
            for task in self.inflight.values():
                task.cancel.cancel('stopping')
        if self.executor is not None:
            self.executor.shutdown(wait=True)
        with self.write_lock:
            self.flush_held()
        try:
            self.output.flush()
        except OSError:
            self.write_failed = True
        if self.write_failed and code == 0:
            _log('could not write results: the pool stopped reading')
            code = 1
        return code

    def read_frame(self):
        """One frame's payload, or None at a clean end of input.  The length
        comes first: a frame over the limit is refused before any of it is read."""
        header = self.input.read(4)
        if not header:
            return None
        if len(header) < 4:
            raise ProtocolError('a truncated frame: the input ended after %d of the 4 length bytes' % len(header))
        size = int.from_bytes(header, 'big')
        if size > self.max_frame:
            raise ProtocolError('a frame of %d bytes, over the %d-byte limit' % (size, self.max_frame))
        if size < MIN_FRAME:
            raise ProtocolError('a frame of %d bytes, too small for a JSON object' % size)
        payload = self.input.read(size)
        if len(payload) < size:
            raise ProtocolError('a truncated frame: the input ended after %d of %d bytes' % (len(payload), size))
        return payload

    def handle(self, frame):
        try:
            message = json.loads(frame)
        except RecursionError:  # params nested deeper than Python's recursion limit
            message = _shallow_run(frame)
            if message is None:
                raise ProtocolError('a frame nested too deeply to decode: %r' % frame[:64])
        except ValueError as e:  # invalid JSON or UTF-8
            raise ProtocolError('a frame that is not valid JSON (%s): %r' % (e, frame[:64]))
        if not isinstance(message, dict):
            raise ProtocolError('a frame that is not a JSON object: %r' % frame[:64])
        kind = message.get('type')
        if not isinstance(kind, str):
            raise ProtocolError('a message without a type: %r' % frame[:64])
        if kind == 'hello':
            self.hello(message)
        elif kind == 'run':
            self.start(message)
        elif kind == 'batch':
            requests = message.get('requests')
            if not isinstance(requests, list):
                raise ProtocolError('a batch without a requests array: %r' % frame[:64])
            batch = _Batch()
            for item in requests:
                if not isinstance(item, dict) or item.get('type') != 'run':
                    raise ProtocolError('a batch holding something else than a run: %r' % (item,))
            with self.write_lock:
                batch.left = len(requests)
            for item in requests:  # in order, as if each came in a frame of its own
                self.start(item, batch)
        elif kind == 'cancel':
            task_id = _request_id(message.get('id'))
            with self.inflight_lock:
                task = self.inflight.get(task_id)
                waiting = task is not None and not task.started
                if waiting:  # in the executor's queue (prefetch): answered now, never run
                    del self.inflight[task_id]
            if waiting:
                self.unrun(task, 'cancelled by the pool before it started')
            elif task is not None:
                task.cancel.cancel('cancel')
        # Other types are ignored, for later versions of the protocol.

    def hello(self, message):
        features = message.get('features')
        self.batch_out = isinstance(features, list) and 'batch' in features
        concurrency, max_frame = message.get('concurrency'), message.get('max_frame')
        if _is_int(concurrency) and concurrency >= 1:
            self.concurrency = concurrency
        if _is_int(max_frame) and max_frame >= MIN_FRAME:
            self.max_frame = min(max_frame, 0xFFFFFFFF)

    # --- one run request -------------------------------------------------

    def start(self, message, batch=None):
        received = time.perf_counter_ns()
        task_id = _request_id(message.get('id'))
        if task_id is None:
            raise ProtocolError('a run without a valid id: %r' % (message.get('id'),))
        name = message.get('workload')
        if not isinstance(name, str):
            raise ProtocolError('run %d without a workload name' % task_id)
        timeout_ms = message.get('timeout_ms')
        if timeout_ms is not None and (not _is_number(timeout_ms)):
            raise ProtocolError('run %d with a timeout_ms that is not a number: %r' % (task_id, timeout_ms))
        with self.inflight_lock:
            if task_id in self.inflight:
                raise ProtocolError('run %d while a run with that id is in flight' % task_id)

        # Failures before the workload runs are answered at once.
        def fail(error_name, text):
            self.send_result(task_id, name, None, (error_name, text), time.perf_counter_ns() - received, batch)

        w = self.workloads.get(name)
        if w is None:
            fail('UnknownWorkloadError', 'unknown workload %s (available: %s)'
                 % (json.dumps(name), ', '.join(sorted(self.workloads))))
            return
        params = message.get('params')
        if params is None:
            params = {}
        if params is _TOO_DEEP or (isinstance(params, dict) and _too_deep(params)):
            fail('InvalidArgumentError', '%s: params nest deeper than %d levels' % (name, MAX_DEPTH))
            return
        if not isinstance(params, dict):
            fail('InvalidArgumentError', '%s: params must be a JSON object, got %s' % (name, json.dumps(params)[:64]))
            return
        if timeout_ms is not None and timeout_ms <= 0:
            timeout_ms = None
        task = _Task(task_id, w, params, CancelEvent(), timeout_ms, batch)
        with self.inflight_lock:
            self.inflight[task_id] = task
        if self.executor is None:
            self.executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix='xk6worker')
        self.executor.submit(self.execute, task)

    def execute(self, task):
        """Runs on an executor thread: the workload, then its result.  It
        answers whatever happens: the executor would swallow an exception."""
        w = task.workload
        value, error = None, None
        with self.inflight_lock:
            if self.inflight.get(task.id) is not task:
                return  # cancelled while it waited in the executor's queue: answered already
            task.started = True
            stopping = task.cancel.reason == 'stopping'
            if stopping:
                del self.inflight[task.id]
        if stopping:  # the input ended while it waited: never run
            self.unrun(task, 'cancelled because the worker is stopping: its input closed before it started')
            return
        start = time.perf_counter_ns()
        if task.timeout_ms is not None:  # the timeout counts from the start of the run, as run_ns does
            task.cancel.deadline = time.monotonic() + task.timeout_ms / 1000
        try:
            value = w.call(task.params, task.cancel)
            if inspect.isawaitable(value):
                value = _await(value, task.cancel)
        except BaseException as e:  # noqa: B036 - every failure must become a result
            error = self.failure(task, e)
        run_ns = time.perf_counter_ns() - start
        with self.inflight_lock:
            del self.inflight[task.id]
        try:
            self.send_result(task.id, w.name, value, error, run_ns, task.batch)
        except BaseException as e:  # noqa: B036 - a last resort: the request is still answered
            self.send_result(task.id, w.name, None, ('WorkloadError', '%s: its result could not be sent: %s'
                                                     % (w.name, _error_text(e))), run_ns, task.batch)

    def unrun(self, task, why):
        """Answers a task that waited and will not run (run_ns 0)."""
        self.send_result(task.id, task.workload.name, None, ('WorkloadError', '%s: %s' % (task.workload.name, why)), 0,
                         task.batch)

    @staticmethod
    def failure(task, e):
        """The (name, message) a task that raised e fails with."""
        w, reason = task.workload, task.cancel.reason
        if isinstance(e, InvalidArgument):
            return 'InvalidArgumentError', _prefixed(w.name, e)
        if reason == 'timeout':
            return 'TimeoutError', '%s: timed out after %sms' % (w.name, _fmt_ms(task.timeout_ms))
        if reason == 'cancel':
            return 'WorkloadError', '%s: cancelled by the pool' % w.name
        if reason == 'stopping':
            return 'WorkloadError', '%s: cancelled because the worker is stopping: its input closed' % w.name
        return 'WorkloadError', _prefixed(w.name, e)

    # --- writing ---------------------------------------------------------

    def send_result(self, task_id, name, value, error, run_ns, batch=None):
        message = {'type': 'result', 'id': task_id, 'run_ns': max(run_ns, 0)}
        if error is None and value is not None:
            message['value'] = value
        try:
            payload = _encode(message, error)
            # json.dumps refused no NaN, cycle or type; the walk that finds
            # what it changes silently (keys, lone surrogates, depth) runs
            # when quick looks at the output and the keys cannot rule it out.
            if error is None and value is not None and (
                    b'\\ud' in payload or payload.count(b'[') + payload.count(b'{') > MAX_DEPTH or _odd_key(value)):
                why = _unsendable(value)
                if why is not None:
                    payload = _encode(message, ('WorkloadError', '%s: cannot send its value as JSON: %s' % (name, why)))
        except BaseException as e:  # noqa: B036 - what json.dumps refused, or what a dict subclass raised
            why = None
            try:
                why = _unsendable(value)
            except BaseException:  # noqa: B036
                pass
            payload = _encode(message, ('WorkloadError', '%s: cannot send its value as JSON: %s'
                                        % (name, why or 'encoding it raised %s' % _error_text(e))))
        if len(payload) > self.max_frame:
            payload = _encode(message, ('WorkloadError', '%s: its result of %d bytes is over the %d-byte frame limit'
                                        % (name, len(payload), self.max_frame)))
        if batch is None or not self.batch_out:
            self.write_frame(payload)
            return
        with self.write_lock:
            batch.left -= 1
            if sum(len(p) + 1 for p in self.held) + len(payload) + 32 > self.max_frame:
                self.flush_held()
            if not self.held:
                self.held_since = time.monotonic()
            self.held.append(payload)
            if batch.left == 0:  # the last of its batch: what is held goes now
                self.flush_held()
                return
            if self.flusher is None:
                self.flusher = threading.Thread(target=self.flush_loop, name='xk6worker-flush', daemon=True)
                self.flusher.start()
            self.held_cond.notify()

    def flush_held(self):
        """Writes the held results, as one batch frame (or one result frame
        for one); write_lock is held."""
        held, self.held = self.held, []
        if not held:
            return
        if len(held) == 1:
            self.write_frame_locked(held[0])
            return
        self.write_frame_locked(b'{"type":"batch","results":[' + b','.join(held) + b']}')

    def flush_loop(self):
        """Sends what is held once it is BATCH_HOLD old: a result never waits
        longer than that for the rest of its batch."""
        with self.write_lock:
            while True:
                while not self.held:
                    self.held_cond.wait()
                left = self.held_since + BATCH_HOLD - time.monotonic()
                if left > 0:
                    self.held_cond.wait(left)
                    continue
                self.flush_held()

    def send(self, message):
        self.write_frame(json.dumps(message, separators=(',', ':')).encode())

    def write_frame(self, payload):
        with self.write_lock:
            self.flush_held()  # in order: what was held first
            self.write_frame_locked(payload)

    def write_frame_locked(self, payload):
        if self.write_failed:
            return
        try:
            self.output.write(len(payload).to_bytes(4, 'big'))
            self.output.write(payload)
            self.output.flush()
        except OSError:  # the pool closed its end: it is going away
            self.write_failed = True


def _encode(message, error):
    if error is not None:
        message = dict(message, error={'name': error[0], 'message': error[1]})
        message.pop('value', None)
    # allow_nan=False: NaN and Infinity are not JSON.
    return json.dumps(message, separators=(',', ':'), allow_nan=False).encode()


_SURROGATE = re.compile('[\ud800-\udfff]')
_IDENTIFIER = re.compile(r'[A-Za-z_$][A-Za-z0-9_$]*\Z')


def _path(parts):
    """A place in a value as a JavaScript accessor path: value.a[1]["odd key"]."""
    text = ['value']
    for part in parts:
        if isinstance(part, int):
            text.append('[%d]' % part)
        elif _IDENTIFIER.match(part):
            text.append('.' + part)
        else:
            text.append('[%s]' % json.dumps(part))
    return ''.join(text)


def _unsendable(value):
    """Why value cannot cross to the pool unchanged, naming where; None when
    it can.  It walks without recursion, so depth and cycles cannot hurt."""
    stack = [(value, 1, ())]  # (value, depth, path), or (_LEAVE, id, None) after a container's items
    on_path = set()  # the ids of the containers being walked, for cycles
    while stack:
        v, depth, path = stack.pop()
        if v is _LEAVE:
            on_path.discard(depth)
            continue
        if v is None or isinstance(v, (bool, int)):
            continue
        if isinstance(v, float):
            if v != v or v in (float('inf'), float('-inf')):
                return '%s at %s' % ('NaN' if v != v else ('Infinity' if v > 0 else '-Infinity'), _path(path))
            continue
        if isinstance(v, str):
            if _SURROGATE.search(v):
                return 'a string that is not valid Unicode (a lone surrogate) at %s' % _path(path)
            continue
        if isinstance(v, (dict, list, tuple)):
            if depth > MAX_DEPTH:
                return 'nesting deeper than %d levels' % MAX_DEPTH
            if id(v) in on_path:
                return 'a cycle (the value contains itself) at %s' % _path(path)
            on_path.add(id(v))
            stack.append((_LEAVE, id(v), None))
            if isinstance(v, dict):
                items = list(v.items())
                for k, _ in items:
                    if not isinstance(k, str):
                        return 'a key that is not a string (%s %r) at %s' % (_type_name(k), k, _path(path))
                    if _SURROGATE.search(k):
                        return 'a key that is not valid Unicode (a lone surrogate) at %s' % _path(path)
            else:
                items = list(enumerate(v))
            for k, item in reversed(items):
                stack.append((item, depth + 1, path + (k,)))
            continue
        name = _type_name(v)
        return '%s %s, which is not a JSON type, at %s' % ('an' if name[:1] in 'aeiouAEIOU' else 'a', name, _path(path))
    return None


_LEAVE = object()  # marks the end of a container's walk in _unsendable


def _odd_key(value):
    """Whether a dict in value (which json.dumps encoded, so it has no
    cycle) has a key that is not a string."""
    # map, compress and all run in C: large lists of numbers cost little.
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if not all(map(isinstance, v, repeat(str))):
                return True
            v = v.values()
        if isinstance(v, (list, tuple, type({}.values()))):
            stack.extend(compress(v, map(isinstance, v, repeat(_CONTAINERS))))
    return False


_CONTAINERS = (dict, list, tuple)


def _too_deep(params):
    """Whether params (decoded JSON) nest deeper than MAX_DEPTH."""
    level, depth = [params], 1
    while level:
        if depth > MAX_DEPTH:
            return True
        nxt = []
        for v in level:
            if isinstance(v, dict):
                nxt.extend(x for x in v.values() if isinstance(x, (dict, list)))
            elif isinstance(v, list):
                nxt.extend(x for x in v if isinstance(x, (dict, list)))
        level, depth = nxt, depth + 1
    return False


_TOO_DEEP = object()  # the params of a run whose params json.loads could not decode
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _shallow_run(frame):
    """A frame json.loads found too deeply nested, decoded one level: its
    members but 'params', which becomes _TOO_DEEP, so the run is answered.
    None if the frame is not a JSON object of such members."""
    try:
        text = frame.decode('utf-8')
        decoder = json.JSONDecoder()
        i = _skip_space(text, 0)
        if text[i] != '{':
            return None
        message, i = {}, _skip_space(text, i + 1)
        while text[i] != '}':
            key, i = decoder.raw_decode(text, i)
            i = _skip_space(text, i)
            i = _skip_space(text, i + 1)  # ':'
            if key == 'params':
                message[key], i = _TOO_DEEP, _skip_value(text, i)
            else:
                message[key], i = decoder.raw_decode(text, i)
            i = _skip_space(text, i)
            if text[i] == ',':
                i = _skip_space(text, i + 1)
        return message
    except (ValueError, IndexError, RecursionError):
        return None


def _skip_space(text, i):
    while text[i] in ' \t\r\n':
        i += 1
    return i


def _skip_value(text, i):
    """The index after the JSON value at text[i], counting brackets."""
    depth = 0
    while True:
        c = text[i]
        if c == '"':
            i = _STRING.match(text, i).end()
            if depth == 0:
                return i
            continue
        if c in '[{':
            depth += 1
        elif c in ']}':
            depth -= 1
            if depth == 0:
                return i + 1
        elif depth == 0 and c in ',}':
            return i
        i += 1


_loop = None
_loop_lock = threading.Lock()


def _event_loop():
    """The asyncio event loop that awaits async workloads, in a thread of its
    own (started with the first one)."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            _loop.set_exception_handler(_report_loop_exception)
            threading.Thread(target=_loop.run_forever, name='xk6worker-asyncio', daemon=True).start()
        return _loop


def _report_loop_exception(loop, context):
    """A failure nobody awaited (a task that raised, say): log it, serve on."""
    exc = context.get('exception')
    _log('%s%s' % (context.get('message', 'asyncio error'), ': %s' % _error_text(exc) if exc is not None else ''))


def _await(awaitable, cancel):
    """Awaits a workload's coroutine on the event loop and returns its value;
    cancelling the task (pool, timeout, stopping) cancels the coroutine."""
    loop = _event_loop()

    async def run():
        task = asyncio.current_task()
        cancel._on_cancel(lambda: loop.call_soon_threadsafe(task.cancel))
        timer = None
        if cancel.deadline is not None:
            timer = loop.call_later(max(cancel.deadline - time.monotonic(), 0), cancel.is_set)
        try:
            return await awaitable
        finally:
            if timer is not None:
                timer.cancel()

    return asyncio.run_coroutine_threadsafe(run(), loop).result()


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _request_id(v):
    """A valid request id (a positive integer below 2^53; 17.0 counts), or None."""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if _is_int(v) and 0 < v < MAX_ID:
        return v
    return None


def _prefixed(name, exc):
    text = _error_text(exc)
    return text if text.startswith(name + ':') else '%s: %s' % (name, text)


def _type_name(v):
    try:
        return type(v).__qualname__
    except BaseException:  # noqa: B036 - a metaclass may do anything
        return 'object'


def _error_text(exc):
    """str(exc), or its type's name when that is empty; an exception whose
    text cannot be rendered is described by its type instead."""
    try:
        text = str(exc)
    except BaseException as e:  # noqa: B036
        return '%s, whose text cannot be rendered (str() raised %s)' % (_type_name(exc), _type_name(e))
    if not isinstance(exc, Exception):  # SystemExit(3) is not just "3"
        return '%s: %s' % (_type_name(exc), text) if text else _type_name(exc)
    return text or _type_name(exc)


def _fmt_ms(ms):
    return str(int(ms)) if float(ms).is_integer() else str(ms)
