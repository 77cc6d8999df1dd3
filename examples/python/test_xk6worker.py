"""Tests of xk6worker.py and worker.py: the worker runs as a subprocess and is
driven over its pipes, frame by frame, as a pool would.

    python3 -m unittest discover -s examples/python -v     # from the repository root

`make test` runs them (integration/languages_test.go).
"""

import json
import os
import queue
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, 'worker.py')
sys.path.insert(0, HERE)

import worker  # noqa: E402  (registers the workloads; serve() runs only as __main__)

WAIT = 10  # seconds: the longest any single step may take, on a busy machine


def frame(message):
    payload = message if isinstance(message, bytes) else json.dumps(message, ensure_ascii=False).encode()
    return len(payload).to_bytes(4, 'big') + payload


class Worker:
    """A worker process on pipes. Frames it writes are parsed by a thread into
    a queue; anything on stdout that is not a frame fails the test."""

    def __init__(self, test, script=WORKER, env=None, hello=True, concurrency=1, max_frame=16 << 20, argv=None,
                 features=None):
        self.test = test
        full_env = dict(os.environ, XK6_CONCURRENCY_WORKER=str(os.getpid()), PYTHONPATH=HERE)
        full_env.update(env or {})
        self.proc = subprocess.Popen(argv or [sys.executable, script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=full_env, cwd=HERE)
        self.frames = queue.Queue()
        self.batch_frames = []  # the results of each batch frame, as ids
        self.stdout_error = None
        self.stderr_lines = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self.stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.stderr_reader.start()
        test.addCleanup(self.kill)
        if hello:
            self.hello = self.next()
            hello = {'type': 'hello', 'protocol': 1, 'concurrency': concurrency, 'max_frame': max_frame}
            if features is not None:
                hello['features'] = features
            self.send(hello)

    def _read_stdout(self):
        out = self.proc.stdout
        while True:
            header = out.read(4)
            if not header:
                break
            payload = out.read(int.from_bytes(header, 'big')) if len(header) == 4 else b''
            try:
                message = json.loads(payload)
                assert isinstance(message, dict) and message.get('type') in ('hello', 'result', 'batch')
                if message['type'] == 'batch':
                    assert len(message['results']) > 1 and all(r['type'] == 'result' for r in message['results'])
            except Exception:  # noqa: BLE001
                self.stdout_error = 'stdout has something that is not a frame: %r' % (header + payload)[:80]
                break
            if message['type'] == 'batch':
                self.batch_frames.append([r['id'] for r in message['results']])
                for r in message['results']:
                    self.frames.put(r)
                continue
            self.frames.put(message)
        self.frames.put(None)  # the end of stdout

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line.decode(errors='replace').rstrip('\n'))

    def send(self, message):
        try:
            self.proc.stdin.write(frame(message))
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # it exited: what follows checks why

    def send_raw(self, data):
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass

    def run(self, id, name, params=None, **extra):
        message = {'type': 'run', 'id': id, 'workload': name}
        if params is not None:
            message['params'] = params
        message.update(extra)
        self.send(message)

    def next(self, timeout=WAIT):
        try:
            message = self.frames.get(timeout=timeout)
        except queue.Empty:
            self.test.fail('no frame within %ss; stderr: %s' % (timeout, self.stderr_lines))
        if message is None:
            self.frames.put(None)
            self.test.fail('stdout ended; %s; stderr: %s' % (self.stdout_error or 'no error', self.stderr_lines))
        return message

    def call(self, id, name, params=None, **extra):
        self.run(id, name, params, **extra)
        result = self.next()
        self.test.assertEqual(result['id'], id, result)
        return result

    def close_input(self):
        self.proc.stdin.close()

    def wait(self, timeout=WAIT):
        """The exit status, once stdout was read to its end and found clean."""
        code = self.proc.wait(timeout)
        rest = []
        while True:
            message = self.frames.get(timeout=timeout)
            if message is None:
                break
            rest.append(message)
        self.test.assertEqual(rest, [], 'frames nobody waited for')
        self.test.assertIsNone(self.stdout_error)
        self.stderr_reader.join(timeout)  # so that stderr_lines holds all it wrote
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass


def custom_worker(test, source):
    """Writes a worker script that uses xk6worker and returns its path."""
    tmp = tempfile.TemporaryDirectory()
    test.addCleanup(tmp.cleanup)
    path = os.path.join(tmp.name, 'custom_worker.py')
    with open(path, 'w') as f:
        f.write(textwrap.dedent(source))
    return path


class HelloTest(unittest.TestCase):
    def test_hello_comes_first_without_waiting(self):
        w = Worker(self, hello=False)
        hello = w.next()
        self.assertEqual(hello['type'], 'hello')
        self.assertEqual(hello['protocol'], 1)
        self.assertEqual(hello['pid'], w.proc.pid)
        offered = {x['name']: x for x in hello['workloads']}
        self.assertEqual(sorted(offered), ['cpu.primes', 'echo', 'io.sleep', 'noop'])
        self.assertEqual(offered['cpu.primes']['kind'], 'cpu')
        self.assertEqual(offered['io.sleep']['kind'], 'io')
        self.assertEqual(offered['cpu.primes']['params']['limit']['default'], 20000)
        self.assertEqual(offered['io.sleep']['params']['duration']['max'], '24h0m0s')
        w.close_input()  # no pool hello at all: still a clean end
        self.assertEqual(w.wait(), 0)

    def test_pool_need_not_be_the_parent(self):
        # A wrapper that forks (timeout, sh -c, poetry run) stands between the
        # pool and the worker: the pool's pid is then not the worker's parent.
        w = Worker(self, env={'XK6_CONCURRENCY_WORKER': '1'})
        self.assertNotIn('error', w.call(1, 'noop'))
        w.close_input()
        self.assertEqual(w.wait(), 0)

    def test_wrapped_in_a_forking_shell(self):
        w = Worker(self, hello=False, argv=['sh', '-c', '"$@"; exit $?', 'sh', sys.executable, WORKER])
        hello = w.next()
        self.assertNotEqual(hello['pid'], w.proc.pid, 'the worker is the shell\'s child')
        w.send({'type': 'hello', 'protocol': 1, 'concurrency': 1, 'max_frame': 16 << 20})
        self.assertNotIn('error', w.call(1, 'noop'))
        w.close_input()
        self.assertEqual(w.wait(), 0)

    def test_marker_is_required(self):
        env = dict(os.environ)
        env.pop('XK6_CONCURRENCY_WORKER', None)
        proc = subprocess.run([sys.executable, WORKER], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=WAIT)
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(proc.stdout, b'')
        self.assertIn(b'not set', proc.stderr)


class RunTest(unittest.TestCase):
    def test_values(self):
        w = Worker(self)
        for i, (limit, want) in enumerate([(20000, 2262), (10, 4), (3, 1), (2, 0), (1000.0, 168)], start=1):
            result = w.call(i, 'cpu.primes', {'limit': limit})
            self.assertEqual(result.get('value'), want, result)
            self.assertNotIn('error', result)
            self.assertGreater(result['run_ns'], 0)
        self.assertEqual(w.call(10, 'cpu.primes')['value'], 2262, 'limit defaults to 20000')
        noop = w.call(11, 'noop', {})
        self.assertNotIn('value', noop)  # null
        self.assertNotIn('error', noop)
        self.assertNotIn('error', w.call(12, 'noop'), 'params may be absent')
        w.send({'type': 'run', 'id': 13, 'workload': 'noop', 'params': None})
        self.assertNotIn('error', w.next(), 'params may be null')
        params = {'a': [1, 2.5, None, True], 'b': {'c': 'é 漢 😀 "\\\n'}}
        self.assertEqual(w.call(14, 'echo', params)['value'], params)
        self.assertEqual(w.call(17.0, 'noop')['id'], 17, 'an integral float is an id')
        w.close_input()
        self.assertEqual(w.wait(), 0)

    def test_sleep_and_run_ns(self):
        w = Worker(self)
        for i, duration in enumerate(['30ms', 30, '0.03s', '30000us'], start=1):
            start = time.monotonic()
            result = w.call(i, 'io.sleep', {'duration': duration})
            took = time.monotonic() - start
            self.assertNotIn('error', result)
            self.assertGreaterEqual(result['run_ns'], 29_000_000, duration)
            self.assertLessEqual(result['run_ns'] / 1e9, took, duration)


class ErrorTest(unittest.TestCase):
    def test_errors_keep_the_worker_alive(self):
        w = Worker(self)
        cases = [
            ('nope', {}, 'UnknownWorkloadError', 'unknown workload "nope" (available: cpu.primes, echo, io.sleep, noop)'),
            ('cpu.primes', {'limit': -1}, 'InvalidArgumentError',
             'cpu.primes: param "limit" must be an integer from 2 to 2147483647, got -1'),
            ('cpu.primes', {'limit': 2.5}, 'InvalidArgumentError', 'got 2.5'),
            ('cpu.primes', {'limit': True}, 'InvalidArgumentError', 'got true'),
            ('cpu.primes', {'limit': '100'}, 'InvalidArgumentError', 'got "100"'),
            ('cpu.primes', {'limit': 10, 'extra': 1}, 'InvalidArgumentError',
             'cpu.primes: unknown param "extra" (params: limit)'),
            ('io.sleep', {'duration': 'soon'}, 'InvalidArgumentError',
             'io.sleep: param "duration" must be a duration (like "10ms", or a number of ms) from 0s to 24h0m0s, got "soon"'),
            ('io.sleep', {'duration': '-5ms'}, 'InvalidArgumentError', 'param "duration"'),
            ('io.sleep', {'duration': '25h'}, 'InvalidArgumentError', 'param "duration"'),
            ('io.sleep', {'duration': None}, 'InvalidArgumentError', 'got null'),
            ('io.sleep', {'duration': 'x' * 50}, 'InvalidArgumentError', 'got a string of 50 bytes'),
            ('noop', {'x': 1}, 'InvalidArgumentError', 'noop: unknown param "x" (it takes no params)'),
        ]
        for i, (name, params, error, text) in enumerate(cases, start=1):
            result = w.call(i, name, params)
            self.assertEqual(result['error']['name'], error, result)
            self.assertIn(text, result['error']['message'])
            self.assertNotIn('value', result)
        result = w.call(50, 'noop', [1, 2])
        self.assertEqual(result['error']['name'], 'InvalidArgumentError')
        self.assertIn('noop: params must be a JSON object', result['error']['message'])
        self.assertEqual(w.call(51, 'cpu.primes', {'limit': 100})['value'], 25)
        w.close_input()
        self.assertEqual(w.wait(), 0)


class ConcurrencyTest(unittest.TestCase):
    def test_pipelined_requests_run_at_once_and_answer_out_of_order(self):
        w = Worker(self, concurrency=4)
        start = time.monotonic()
        for i, ms in enumerate([400, 300, 200, 100], start=1):
            w.run(i, 'io.sleep', {'duration': ms})
        order = [w.next()['id'] for _ in range(4)]
        took = time.monotonic() - start
        self.assertEqual(order, [4, 3, 2, 1])
        self.assertLess(took, 0.7, 'one after another would take 1s')

    def test_threads_share_the_gil_on_cpu_work(self):
        # Not a timing assertion (the machine may be busy): every result comes, right.
        w = Worker(self, concurrency=4)
        for i in range(1, 5):
            w.run(i, 'cpu.primes', {'limit': 20000})
        results = [w.next() for _ in range(4)]
        self.assertEqual(sorted(r['id'] for r in results), [1, 2, 3, 4])
        self.assertTrue(all(r['value'] == 2262 for r in results))


class CancelTest(unittest.TestCase):
    def test_cancel_and_timeout(self):
        w = Worker(self, concurrency=4)
        w.run(1, 'io.sleep', {'duration': '10s'})
        w.run(2, 'io.sleep', {'duration': '10s'}, timeout_ms=100)
        w.run(3, 'cpu.primes', {'limit': 2000000000}, timeout_ms=100)
        w.run(4, 'io.sleep', {'duration': '20ms'}, timeout_ms=5000)
        time.sleep(0.2)
        w.send({'type': 'cancel', 'id': 1})
        w.send({'type': 'cancel', 'id': 999})  # not in flight: ignored
        results = {}
        start = time.monotonic()
        for _ in range(4):
            result = w.next()
            results[result['id']] = result
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(results[1]['error'], {'name': 'WorkloadError', 'message': 'io.sleep: cancelled by the pool'})
        self.assertEqual(results[2]['error'], {'name': 'TimeoutError', 'message': 'io.sleep: timed out after 100ms'})
        self.assertEqual(results[3]['error'], {'name': 'TimeoutError', 'message': 'cpu.primes: timed out after 100ms'})
        self.assertGreaterEqual(results[2]['run_ns'], 100_000_000)
        self.assertNotIn('error', results[4])
        self.assertNotIn('error', w.call(5, 'noop'))
        w.close_input()
        self.assertEqual(w.wait(), 0)

    def test_a_prefetched_request_waits_its_turn(self):
        # The pool keeps one request more than the concurrency in flight: it
        # waits, its timeout counts from its start, and a cancel (or the end
        # of the input) answers it without running it (run_ns 0).
        w = Worker(self, concurrency=1)
        w.run(1, 'io.sleep', {'duration': '300ms'})
        w.run(2, 'io.sleep', {'duration': '50ms'}, timeout_ms=200)
        w.run(3, 'cpu.primes', {'limit': 2000000000})
        w.send({'type': 'cancel', 'id': 3})
        results = [w.next() for _ in range(3)]
        self.assertEqual([r['id'] for r in results], [3, 1, 2], 'the cancel is answered at once; 2 runs after 1')
        self.assertEqual(results[0]['error'], {'name': 'WorkloadError',
                                               'message': 'cpu.primes: cancelled by the pool before it started'})
        self.assertEqual(results[0]['run_ns'], 0)
        self.assertNotIn('error', results[2])
        self.assertLess(results[2]['run_ns'], 150_000_000, 'its run_ns counts no wait')
        w.run(4, 'io.sleep', {'duration': '300ms'})
        w.run(5, 'cpu.primes', {'limit': 2000000000})
        time.sleep(0.05)
        w.close_input()
        results = {r['id']: r for r in (w.next(), w.next())}
        self.assertEqual(results[5]['error']['message'],
                         'cpu.primes: cancelled because the worker is stopping: its input closed before it started')
        self.assertEqual(w.wait(), 0)

    def test_unknown_message_types_are_ignored(self):
        w = Worker(self)
        w.send({'type': 'from-a-later-version', 'id': 1, 'x': [1, {}]})
        self.assertNotIn('error', w.call(1, 'noop'))


def run_message(id, name, params=None, **extra):
    message = {'type': 'run', 'id': id, 'workload': name}
    if params is not None:
        message['params'] = params
    message.update(extra)
    return message


class BatchTest(unittest.TestCase):
    """The batch message (PROTOCOL.md, "batch"): several runs in one frame,
    and the results of a batch in one frame to a pool whose hello lists it."""

    # The results of a batch wait for one another as long as it takes, so
    # that which frame each one comes in does not depend on timing.
    HOLD = {'XK6WORKER_BATCH_HOLD_MS': '600000'}

    def test_hello_lists_batch(self):
        w = Worker(self)
        self.assertIn('batch', w.hello['features'])

    def test_a_batch_runs_in_order_and_answers_in_one_frame(self):
        w = Worker(self, features=['batch'], env=self.HOLD)
        lone = w.call(1, 'cpu.primes', {'limit': -1})
        w.send({'type': 'batch', 'requests': [
            run_message(2, 'cpu.primes', {'limit': 10}),
            run_message(3, 'cpu.primes', {'limit': -1}),
            run_message(4, 'no.such'),
            run_message(5, 'echo', {'a': [1, 2]}),
        ]})
        results = {r['id']: r for r in (w.next() for _ in range(4))}
        self.assertEqual(len(w.batch_frames), 1, 'the results of the batch came in one frame')
        self.assertEqual(sorted(w.batch_frames[0]), [2, 3, 4, 5])
        self.assertEqual(results[2]['value'], 4)
        self.assertEqual(results[3]['error'], lone['error'], 'a bad run in a batch fails as a lone one does')
        self.assertEqual(results[4]['error']['name'], 'UnknownWorkloadError')
        self.assertEqual(results[5]['value'], {'a': [1, 2]})
        w.close_input()
        self.assertEqual(w.wait(), 0)

    def test_mixed_batched_and_lone_runs(self):
        w = Worker(self, features=['batch'], concurrency=2)
        w.run(1, 'noop')
        w.send({'type': 'batch', 'requests': [run_message(i, 'cpu.primes', {'limit': 100}) for i in range(2, 12)]})
        w.run(12, 'noop')
        w.send({'type': 'batch', 'requests': [run_message(13, 'noop')]})
        results = {r['id']: r for r in (w.next() for _ in range(13))}
        self.assertEqual(sorted(results), list(range(1, 14)), 'every run answered once')
        self.assertTrue(all('error' not in r for r in results.values()), results)
        self.assertEqual([results[i]['value'] for i in range(2, 12)], [25] * 10)
        w.close_input()
        self.assertEqual(w.wait(), 0)

    def test_no_batch_of_results_to_a_pool_that_does_not_read_them(self):
        w = Worker(self, env=self.HOLD)
        w.send({'type': 'batch', 'requests': [run_message(i, 'noop') for i in range(1, 6)]})
        self.assertEqual(sorted(w.next()['id'] for _ in range(5)), [1, 2, 3, 4, 5])
        self.assertEqual(w.batch_frames, [])
        w.close_input()
        self.assertEqual(w.wait(), 0)

    def test_items_keep_their_cancel_and_timeout(self):
        w = Worker(self, features=['batch'], concurrency=1)
        w.send({'type': 'batch', 'requests': [
            run_message(1, 'io.sleep', {'duration': '300ms'}),
            run_message(2, 'io.sleep', {'duration': '50ms'}, timeout_ms=200),
            run_message(3, 'cpu.primes', {'limit': 2000000000}),
            run_message(4, 'io.sleep', {'duration': '10s'}, timeout_ms=100),
        ]})
        w.send({'type': 'cancel', 'id': 3})
        results = {r['id']: r for r in (w.next() for _ in range(4))}
        self.assertNotIn('error', results[1])
        self.assertNotIn('error', results[2], 'its timeout counts from its own start')
        self.assertEqual(results[3]['error']['message'], 'cpu.primes: cancelled by the pool before it started')
        self.assertEqual(results[3]['run_ns'], 0)
        self.assertEqual(results[4]['error']['name'], 'TimeoutError')
        w.close_input()
        self.assertEqual(w.wait(), 0)

    def test_a_malformed_batch_is_a_protocol_error(self):
        for bad in ({'type': 'batch'}, {'type': 'batch', 'requests': {}},
                    {'type': 'batch', 'requests': [{'type': 'cancel', 'id': 1}]}):
            w = Worker(self, features=['batch'])
            w.send(bad)
            self.assertEqual(w.wait(), 1, bad)
            self.assertIn('batch', '\n'.join(w.stderr_lines))


class EOFTest(unittest.TestCase):
    def test_in_flight_results_come_before_a_clean_exit(self):
        w = Worker(self, concurrency=2)
        w.run(1, 'io.sleep', {'duration': '10s'})  # cancelled by the end of input
        w.run(2, 'cpu.primes', {'limit': 20000})  # runs to its end
        time.sleep(0.05)
        w.close_input()
        results = {}
        for _ in range(2):
            result = w.next()
            results[result['id']] = result
        self.assertEqual(results[1]['error']['message'],
                         'io.sleep: cancelled because the worker is stopping: its input closed')
        self.assertEqual(results[2]['value'], 2262)
        self.assertEqual(w.wait(), 0)


class ProtocolErrorTest(unittest.TestCase):
    def check(self, data, want, close=False, max_frame=16 << 20):
        w = Worker(self, concurrency=2, max_frame=max_frame)
        w.run(1, 'io.sleep', {'duration': '10s'})
        time.sleep(0.05)
        w.send_raw(data)
        if close:
            w.close_input()
        result = w.next()
        self.assertEqual(result['id'], 1)
        self.assertIn('cancelled because the worker is stopping', result['error']['message'])
        self.assertEqual(w.wait(), 1)
        self.assertIn(want, '\n'.join(w.stderr_lines))

    def test_frame_over_the_limit_is_refused_from_its_length(self):
        # The body never comes: the worker must not wait for it.
        self.check((1 << 30).to_bytes(4, 'big'), 'a frame of 1073741824 bytes, over the 16777216-byte limit')

    def test_pool_hello_sets_the_limit(self):
        self.check(frame({'type': 'run', 'id': 2, 'workload': 'echo', 'params': {'s': 'z' * 2000}}),
                   'over the 1024-byte limit', max_frame=1024)

    def test_malformed_frames(self):
        for data, want in [
            ((1).to_bytes(4, 'big') + b'{', 'too small'),
            (frame(b'{"type":"run", oops'), 'not valid JSON'),
            (frame(b'[1,2,3]'), 'not a JSON object'),
            (frame({'id': 7}), 'a message without a type'),
            (frame({'type': 'run', 'workload': 'noop'}), 'a run without a valid id'),
            (frame({'type': 'run', 'id': 0, 'workload': 'noop'}), 'a run without a valid id'),
            (frame({'type': 'run', 'id': 2 ** 53, 'workload': 'noop'}), 'a run without a valid id'),
            (frame({'type': 'run', 'id': 2}), 'run 2 without a workload name'),
            (frame({'type': 'run', 'id': 2, 'workload': 'noop', 'timeout_ms': 'x'}), 'timeout_ms that is not a number'),
            (frame({'type': 'run', 'id': 1, 'workload': 'noop'}), 'run 1 while a run with that id is in flight'),
        ]:
            with self.subTest(want=want):
                self.check(data, want)

    def test_truncated_frame(self):
        self.check((100).to_bytes(4, 'big') + b'{"type":', 'a truncated frame', close=True)


class FrameLimitTest(unittest.TestCase):
    def test_results_over_the_limit_become_errors(self):
        w = Worker(self, max_frame=1024)
        result = w.call(1, 'echo', {'s': 'é' * 300})  # 600 bytes in, 1800 escaped out
        self.assertEqual(result['error']['name'], 'WorkloadError')
        self.assertIn('over the 1024-byte frame limit', result['error']['message'])
        self.assertEqual(w.call(2, 'echo', {'s': 'ok'})['value'], {'s': 'ok'})

    def test_large_payloads(self):
        w = Worker(self)
        params = {'text': 'abc "é" \\ \n 漢字 😀 ' * 40000}  # about 1 MiB
        self.assertEqual(w.call(1, 'echo', params)['value'], params)


class ModuleTest(unittest.TestCase):
    """xk6worker itself, through small workers written for the test."""

    def test_failures_and_values(self):
        path = custom_worker(self, '''
            import math
            from xk6worker import workload, serve, InvalidArgument

            @workload('t.raise', kind='cpu')
            def fail(params):
                raise ValueError('it failed')

            @workload('t.invalid', kind='cpu')
            def invalid(params):
                raise InvalidArgument('param "x" is wrong')

            @workload('t.nan', kind='cpu')
            def nan(params):
                return math.nan

            @workload('t.set', kind='cpu')
            def a_set(params):
                return {1, 2}

            @workload('t.exit', kind='cpu')
            def exits(params):
                raise SystemExit(3)

            if __name__ == '__main__':
                serve()
        ''')
        w = Worker(self, script=path)
        self.assertEqual(w.call(1, 't.raise')['error'], {'name': 'WorkloadError', 'message': 't.raise: it failed'})
        self.assertEqual(w.call(2, 't.invalid')['error'],
                         {'name': 'InvalidArgumentError', 'message': 't.invalid: param "x" is wrong'})
        self.assertEqual('t.nan: cannot send its value as JSON: NaN at value', w.call(3, 't.nan')['error']['message'])
        self.assertEqual('t.set: cannot send its value as JSON: a set, which is not a JSON type, at value',
                         w.call(4, 't.set')['error']['message'])
        self.assertEqual(w.call(5, 't.exit')['error']['name'], 'WorkloadError')
        w.close_input()
        self.assertEqual(w.wait(), 0)

    def test_nothing_but_frames_on_stdout(self):
        path = custom_worker(self, '''
            import os, subprocess, sys
            from xk6worker import workload, serve
            print('from the top of the module')

            @workload('t.print', kind='io')
            def talk(params):
                print('from print')
                sys.stdout.write('from sys.stdout\\n')
                sys.stdout.flush()
                os.write(1, b'from fd 1\\n')
                subprocess.run(['echo', 'from a child process'], check=True)
                return input() if params.get('read') else 'said it'

            if __name__ == '__main__':
                serve()
        ''')
        w = Worker(self, script=path)
        self.assertEqual(w.call(1, 't.print')['value'], 'said it')
        result = w.call(2, 't.print', {'read': True})  # stdin is /dev/null, not the protocol
        self.assertEqual(result['error']['message'], 't.print: EOF when reading a line')
        self.assertNotIn('error', w.call(3, 't.print'))  # and the protocol is intact
        w.close_input()
        self.assertEqual(w.wait(), 0)
        stderr = '\n'.join(w.stderr_lines)
        for text in ['from the top of the module', 'from print', 'from sys.stdout', 'from fd 1', 'from a child process']:
            self.assertIn(text, stderr)

    def test_cancel_event_and_threads(self):
        path = custom_worker(self, '''
            import threading
            from xk6worker import workload, serve, Cancelled, CancelEvent

            @workload('t.wait', kind='io')
            def wait(params, *, cancel):
                assert isinstance(cancel, CancelEvent) and isinstance(cancel, threading.Event)
                if cancel.wait(params['s']):
                    raise Cancelled()
                return threading.current_thread().name

            if __name__ == '__main__':
                serve()
        ''')
        w = Worker(self, script=path, concurrency=3)
        for i in range(1, 4):
            w.run(i, 't.wait', {'s': 0.2})
        names = {w.next()['value'] for _ in range(3)}
        self.assertEqual(len(names), 3, 'three threads ran the three tasks: %s' % names)
        self.assertTrue(all(n.startswith('xk6worker') for n in names), names)
        result = w.call(4, 't.wait', {'s': 10}, timeout_ms=50)
        self.assertEqual(result['error']['name'], 'TimeoutError')

    def test_registration_errors(self):
        import xk6worker
        with self.assertRaises(ValueError):
            xk6worker.workload('x', kind='gpu')
        with self.assertRaises(ValueError):
            xk6worker.workload('noop')  # worker.py registered it


class HostileTest(unittest.TestCase):
    """Every request is answered, whatever the workload raises or returns."""

    def test_the_issue_worker(self):
        # issue 16: an exception whose __str__ raises made the worker write no
        # result at all, and the next task on the worker waited too.
        path = custom_worker(self, '''
            from xk6worker import workload, serve
            class Unprintable(Exception):
                def __str__(self): raise RuntimeError('no text')
            @workload('unprintable')
            def unprintable(params): raise Unprintable()
            @workload('noop', kind='io')
            def noop(params): return 'ok'
            serve()
        ''')
        w = Worker(self, script=path)
        self.assertEqual(w.call(1, 'unprintable')['error'], {
            'name': 'WorkloadError',
            'message': 'unprintable: Unprintable, whose text cannot be rendered (str() raised RuntimeError)'})
        self.assertEqual(w.call(2, 'noop')['value'], 'ok')
        w.close_input()
        self.assertEqual(w.wait(), 0)

    def test_values_json_cannot_carry(self):
        path = custom_worker(self, '''
            import decimal, math
            from xk6worker import workload, serve
            VALUES = {
                'set': {'s': {1, 2}}, 'decimal': [decimal.Decimal('1.5')], 'bytes': {'b': b'x'},
                'tuple_key': {(1, 2): 'a'}, 'bool_key': {True: 1}, 'none_key': {None: 1},
                'inf': {'x': [0, math.inf]}, 'surrogate_key': {'k\\udc80': 1},
                'object': {'o': object()}, 'odd_key': {'a b': {'c': math.nan}},
            }
            @workload('t.value')
            def value(params): return VALUES[params['v']]
            serve()
        ''')
        w = Worker(self, script=path)
        for i, (v, want) in enumerate([
            ('set', 'a set, which is not a JSON type, at value.s'),
            ('decimal', 'a Decimal, which is not a JSON type, at value[0]'),
            ('bytes', 'a bytes, which is not a JSON type, at value.b'),
            ('tuple_key', 'a key that is not a string (tuple (1, 2)) at value'),
            ('bool_key', 'a key that is not a string (bool True) at value'),
            ('none_key', 'a key that is not a string (NoneType None) at value'),
            ('inf', 'Infinity at value.x[1]'),
            ('surrogate_key', 'a key that is not valid Unicode (a lone surrogate) at value'),
            ('object', 'an object, which is not a JSON type, at value.o'),
            ('odd_key', 'NaN at value["a b"].c'),
        ], start=1):
            with self.subTest(v=v):
                result = w.call(i, 't.value', {'v': v})
                self.assertEqual(result['error']['name'], 'WorkloadError', result)
                self.assertEqual(result['error']['message'], 't.value: cannot send its value as JSON: ' + want)

    def test_params_nesting(self):
        w = Worker(self)
        ok = {'a': []}
        for _ in range(510):
            ok = {'a': ok}  # 512 levels with the params object
        self.assertEqual(w.call(1, 'echo', ok)['value'], ok)
        for i, levels in enumerate([513, 5000], start=2):  # 5000 is too deep for json.loads itself
            text = '{"type":"run","id":%d,"workload":"echo","params":{"a":%s%s}}' % (
                i, '[' * (levels - 1), ']' * (levels - 1))
            w.send_raw(frame(text.encode()))
            result = w.next()
            self.assertEqual(result['id'], i)
            self.assertEqual(result['error'], {'name': 'InvalidArgumentError',
                                               'message': 'echo: params nest deeper than 512 levels'})
        self.assertNotIn('error', w.call(9, 'noop'))


class AsyncTest(unittest.TestCase):
    def test_async_def_is_awaited_and_cancelled(self):
        path = custom_worker(self, '''
            import asyncio
            from xk6worker import workload, serve, InvalidArgument

            @workload('t.async', kind='io')
            async def run(params):
                await asyncio.sleep(params.get('s', 0))
                if params.get('bad'):
                    raise InvalidArgument('param "bad" is set')
                return {'slept': params.get('s', 0)}

            serve()
        ''')
        w = Worker(self, script=path, concurrency=4)
        self.assertEqual(w.call(1, 't.async', {'s': 0.01})['value'], {'slept': 0.01})
        self.assertEqual(w.call(2, 't.async', {'bad': True})['error'],
                         {'name': 'InvalidArgumentError', 'message': 't.async: param "bad" is set'})
        start = time.monotonic()
        self.assertEqual(w.call(3, 't.async', {'s': 10}, timeout_ms=100)['error'],
                         {'name': 'TimeoutError', 'message': 't.async: timed out after 100ms'})
        w.run(4, 't.async', {'s': 10})
        time.sleep(0.1)
        w.send({'type': 'cancel', 'id': 4})
        self.assertEqual(w.next()['error'], {'name': 'WorkloadError', 'message': 't.async: cancelled by the pool'})
        self.assertLess(time.monotonic() - start, 5, 'the coroutines were cancelled, not awaited to their end')
        w.run(5, 't.async', {'s': 10})
        time.sleep(0.05)
        w.close_input()
        self.assertIn('cancelled because the worker is stopping', w.next()['error']['message'])
        self.assertEqual(w.wait(), 0)


class ParamTest(unittest.TestCase):
    def test_parse_duration(self):
        for text, ms in [('10ms', 10), ('1.5s', 1500), ('1m30s', 90000), ('2h', 7.2e6), ('250us', 0.25),
                         ('250\u00b5s', 0.25), ('1000ns', 0.001), ('0', 0), ('.5s', 500), ('5.s', 5000),
                         ('+3ms', 3), ('10', 10), ('2.5', 2.5), ('1e3', 1000), (10, 10), (0.5, 0.5)]:
            with self.subTest(text=text):
                self.assertAlmostEqual(worker.parse_duration(text), ms)
        for bad in ['', 'soon', '-1ms', '-5', 'ms', '.s', '10 ms', '1d', 'inf', 'NaN', True, None, [], {},
                    float('inf'), float('nan'), -1]:
            with self.subTest(bad=bad):
                with self.assertRaises(ValueError):
                    worker.parse_duration(bad)

    def test_format_duration(self):
        self.assertEqual(worker.format_duration(0), '0s')
        self.assertEqual(worker.format_duration(10), '10ms')
        self.assertEqual(worker.format_duration(1500), '1.5s')
        self.assertEqual(worker.format_duration(90000), '1m30s')
        self.assertEqual(worker.format_duration(worker.DAY_MS), '24h0m0s')

    def test_count_primes_matches_the_go_workload(self):
        for limit, want in [(0, 0), (2, 0), (3, 1), (10, 4), (100, 25), (1000, 168), (20000, 2262)]:
            self.assertEqual(worker.count_primes(limit), want, limit)


if __name__ == '__main__':
    unittest.main()
