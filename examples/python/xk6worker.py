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
  JSON object the script passed (``{}`` when it passed none) and ``value`` any
  JSON-encodable value (``None`` is ``null``).  The function validates its
  params.
* ``raise InvalidArgument('param "x" must be ...')`` for bad params: the script
  gets an ``InvalidArgumentError``.  Any other exception becomes a
  ``WorkloadError``.  Messages are prefixed with the workload's name.
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
  when it is set::

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

import inspect
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

__all__ = ['workload', 'serve', 'InvalidArgument', 'Cancelled', 'CancelEvent', 'WORKLOADS']

PROTOCOL_VERSION = 1
# The pool sets this to its pid in every worker's environment.
WORKER_ENV = 'XK6_CONCURRENCY_WORKER'
# The largest frame either side sends until the pool's hello says otherwise.
DEFAULT_MAX_FRAME = 16 << 20
MIN_FRAME = 2  # "{}"
MAX_ID = 1 << 53


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

    def cancel(self, reason):
        if self.reason is None:
            self.reason = reason
        self.set()

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
    code = _check_parent()
    if code == 0:
        proto_in, proto_out = _protocol_streams()
        code = _Server(WORKLOADS if workloads is None else workloads, proto_in, proto_out).run()
    sys.stdout.flush()
    sys.exit(code)


def _check_parent():
    """A worker is started by a pool, which sets WORKER_ENV to its own pid.
    When that is not our parent, the pool died before we started: exit."""
    pool = os.environ.get(WORKER_ENV, '')
    if not pool:
        _log('%s is not set: a worker is started by a process pool, not by hand' % WORKER_ENV)
        return 1
    if pool.isdigit() and int(pool) != os.getppid():
        _log('the pool (pid %s) is not this process\'s parent (pid %d): it died before the worker started'
             % (pool, os.getppid()))
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
    __slots__ = ('id', 'workload', 'params', 'cancel', 'timeout_ms')

    def __init__(self, id, workload, params, cancel, timeout_ms):
        self.id, self.workload, self.params, self.cancel, self.timeout_ms = id, workload, params, cancel, timeout_ms


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

    # --- the main loop: read frames until stdin ends ---------------------

    def run(self):
        self.send({'type': 'hello', 'protocol': PROTOCOL_VERSION, 'pid': os.getpid(),
                   'workloads': [w.info() for w in self.workloads.values()]})
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
        except (ValueError, RecursionError) as e:  # invalid JSON or UTF-8, absurd nesting
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
        elif kind == 'cancel':
            task_id = _request_id(message.get('id'))
            with self.inflight_lock:
                task = self.inflight.get(task_id)
            if task is not None:
                task.cancel.cancel('cancel')
        # Other types are ignored, for later versions of the protocol.

    def hello(self, message):
        concurrency, max_frame = message.get('concurrency'), message.get('max_frame')
        if _is_int(concurrency) and concurrency >= 1:
            self.concurrency = concurrency
        if _is_int(max_frame) and max_frame >= MIN_FRAME:
            self.max_frame = min(max_frame, 0xFFFFFFFF)

    # --- one run request -------------------------------------------------

    def start(self, message):
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
            self.send_result(task_id, name, None, (error_name, text), time.perf_counter_ns() - received)

        w = self.workloads.get(name)
        if w is None:
            fail('UnknownWorkloadError', 'unknown workload %s (available: %s)'
                 % (json.dumps(name), ', '.join(sorted(self.workloads))))
            return
        params = message.get('params')
        if params is None:
            params = {}
        if not isinstance(params, dict):
            fail('InvalidArgumentError', '%s: params must be a JSON object, got %s' % (name, json.dumps(params)[:64]))
            return
        if timeout_ms is not None and timeout_ms <= 0:
            timeout_ms = None
        task = _Task(task_id, w, params, CancelEvent(), timeout_ms)
        with self.inflight_lock:
            self.inflight[task_id] = task
        if self.executor is None:
            self.executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix='xk6worker')
        self.executor.submit(self.execute, task)

    def execute(self, task):
        """Runs on an executor thread: the workload, then its result."""
        w = task.workload
        value, error = None, None
        start = time.perf_counter_ns()
        if task.timeout_ms is not None:  # the timeout counts from the start of the run, as run_ns does
            task.cancel.deadline = time.monotonic() + task.timeout_ms / 1000
        try:
            value = w.call(task.params, task.cancel)
        except InvalidArgument as e:
            error = ('InvalidArgumentError', _prefixed(w.name, e))
        except BaseException as e:  # noqa: B036 - every failure must become a result
            reason = task.cancel.reason
            if reason == 'timeout':
                error = ('TimeoutError', '%s: timed out after %sms' % (w.name, _fmt_ms(task.timeout_ms)))
            elif reason == 'cancel':
                error = ('WorkloadError', '%s: cancelled by the pool' % w.name)
            elif reason == 'stopping':
                error = ('WorkloadError', '%s: cancelled because the worker is stopping: its input closed' % w.name)
            else:
                error = ('WorkloadError', _prefixed(w.name, e))
        run_ns = time.perf_counter_ns() - start
        with self.inflight_lock:
            del self.inflight[task.id]
        self.send_result(task.id, w.name, value, error, run_ns)

    # --- writing ---------------------------------------------------------

    def send_result(self, task_id, name, value, error, run_ns):
        message = {'type': 'result', 'id': task_id, 'run_ns': max(run_ns, 0)}
        if error is None and value is not None:
            message['value'] = value
        try:
            payload = _encode(message, error)
        except (TypeError, ValueError) as e:
            payload = _encode(message, ('WorkloadError', '%s: returned a value that is not JSON: %s' % (name, e)))
        if len(payload) > self.max_frame:
            payload = _encode(message, ('WorkloadError', '%s: its result of %d bytes is over the %d-byte frame limit'
                                        % (name, len(payload), self.max_frame)))
        self.write_frame(payload)

    def send(self, message):
        self.write_frame(json.dumps(message, separators=(',', ':')).encode())

    def write_frame(self, payload):
        with self.write_lock:
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
    text = str(exc) or type(exc).__name__
    return text if text.startswith(name + ':') else '%s: %s' % (name, text)


def _fmt_ms(ms):
    return str(int(ms)) if float(ms).is_integer() else str(ms)
