"""A Python worker for xk6-concurrency process pools, built on xk6worker.

It offers, in pure Python, the same workloads as the Go built-ins of the same
names (same params, same values, same validation errors):

    cpu.primes {limit}      counts the primes below limit (default 20000) by
                            trial division, like workload/cpu.go: 2262 below 20000
    io.sleep   {duration}   waits for duration (default '10ms'): a k6 duration
                            string ('10ms', '1.5s', '1m30s') or a number of ms
    noop                    does nothing: the pool's and the protocol's own cost
    echo                    returns its params unchanged (any keys): the
                            conformance suite (ipc/conformance) sends payloads
                            near 1 MiB through it

From a k6 script, run from the repository's root:

    const py = new ProcessPool({ command: ['python3', 'examples/python/worker.py'], workers: 2, concurrency: 4 });
    py.runSync('cpu.primes', { limit: 20000 });   // 2262

`concurrency` is the number of threads of each worker process: they overlap
io.sleep, but the GIL lets only one of them count primes at a time.

With XK6WORKER_HOSTILE=1 in its environment it also offers the conformance
suite's hostile workloads (hostile.py).
"""

import json
import math
import os
import re

from xk6worker import Cancelled, InvalidArgument, serve, workload

if os.environ.get('XK6WORKER_HOSTILE') == '1':
    import hostile  # noqa: F401  (registers the conformance suite's hostile workloads)

MAX_SAFE_INT = 1 << 53
DAY_MS = 24 * 60 * 60 * 1000


@workload('cpu.primes', kind='cpu',
          description='Counts the primes below limit by trial division (deliberately not a sieve).',
          params={'limit': {'type': 'int', 'description': 'Count the primes strictly below this.',
                            'required': False, 'default': 20000, 'min': 2, 'max': 2147483647}})
def cpu_primes(params, *, cancel):
    only(params, 'limit')
    limit = int_param(params, 'limit', 20000, 2, 2147483647)
    return count_primes(limit, cancel)


def count_primes(limit, cancel=None):
    """2, then every odd candidate divided by the odd numbers up to its square root."""
    if limit <= 2:
        return 0
    count = 1  # 2
    for n in range(3, limit, 2):
        if n & 2047 == 1 and cancel is not None and cancel.is_set():  # every 1024 candidates
            raise Cancelled()
        d = 3
        while d * d <= n:
            if n % d == 0:
                break
            d += 2
        else:
            count += 1
    return count


@workload('io.sleep', kind='io', description='Waits for duration without using the CPU.',
          params={'duration': {'type': 'duration', 'description': 'How long to wait.',
                               'required': False, 'default': '10ms', 'min': '0s', 'max': '24h0m0s'}})
def io_sleep(params, *, cancel):
    only(params, 'duration')
    ms = duration_param(params, 'duration', 10, 0, DAY_MS)
    if cancel.wait(ms / 1000):
        raise Cancelled()
    return None


@workload('noop', kind='io', description='Does nothing, to measure the pool\'s own overhead.')
def noop(params):
    only(params)
    return None


@workload('echo', kind='io', description='Returns its params unchanged (the conformance suite\'s payload check).')
def echo(params):
    return params


# --- param validation, with the Go built-ins' messages ----------------------

def only(params, *names):
    """Rejects params the workload does not take."""
    for key in params:
        if key not in names:
            takes = 'params: ' + ', '.join(sorted(names)) if names else 'it takes no params'
            raise InvalidArgument('unknown param %s (%s)' % (json.dumps(key), takes))


def int_param(params, name, default, lo, hi):
    if name not in params:
        return default
    v = params[name]
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if ok and v == int(v) and abs(v) <= MAX_SAFE_INT and lo <= v <= hi:
        return int(v)
    raise InvalidArgument('param "%s" must be an integer from %s to %s, got %s' % (name, lo, hi, describe(v)))


def duration_param(params, name, default_ms, lo_ms, hi_ms):
    """A duration param, in milliseconds."""
    if name not in params:
        return default_ms
    v = params[name]
    try:
        ms = parse_duration(v)
    except ValueError:
        ms = None
    if ms is None or not lo_ms <= ms <= hi_ms:
        raise InvalidArgument('param "%s" must be a duration (like "10ms", or a number of ms) from %s to %s, got %s'
                              % (name, format_duration(lo_ms), format_duration(hi_ms), describe(v)))
    return ms


_NUMBER = re.compile(r'[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?')
_COMPONENT = re.compile(r'(\d*)(?:\.(\d*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)')
_UNIT_MS = {'ns': 1e-6, 'us': 1e-3, '\u00b5s': 1e-3, '\u03bcs': 1e-3, 'ms': 1.0, 's': 1e3, 'm': 6e4, 'h': 3.6e6}


def parse_duration(v):
    """A k6 duration in milliseconds: a number of ms (or a numeric string), or
    a Go/k6 duration string such as '10ms', '1.5s', '1h30m', '250us'.
    ValueError for anything else, and for negative or non-finite durations."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise ValueError('not a duration: %r' % (v,))
    if isinstance(v, str):
        if _NUMBER.fullmatch(v):
            ms = float(v)
        else:
            ms = _parse_duration_string(v)
    else:
        ms = float(v)
    if not math.isfinite(ms) or ms < 0:
        raise ValueError('not a duration from 0 up: %r' % (v,))
    return ms


def _parse_duration_string(s):
    body = s[1:] if s[:1] in '+-' else s
    if body == '0':
        return 0.0
    if not body:
        raise ValueError('not a duration: %r' % s)
    ms, pos = 0.0, 0
    while pos < len(body):
        m = _COMPONENT.match(body, pos)
        if m is None or (m.group(1) == '' and not m.group(2)):
            raise ValueError('not a duration: %r' % s)
        ms += float('%s.%s' % (m.group(1) or '0', m.group(2) or '0')) * _UNIT_MS[m.group(3)]
        pos = m.end()
    return -ms if s[0] == '-' else ms


def format_duration(ms):
    """Milliseconds the way Go prints a time.Duration: 0s, 10ms, 1.5s, 24h0m0s."""
    if ms == 0:
        return '0s'
    if ms < 1000:
        return '%gms' % ms
    seconds = ms / 1000
    if seconds < 60:
        return '%gs' % seconds
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return ('%dh%dm%gs' % (h, m, s)) if h else ('%dm%gs' % (m, s))


def describe(v):
    """Names a bad value in an error without dumping a large one."""
    if v is None:
        return 'null'
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if isinstance(v, str):
        size = len(v.encode('utf-8', 'surrogatepass'))
        return json.dumps(v, ensure_ascii=False) if size <= 40 else 'a string of %d bytes' % size
    if isinstance(v, dict):
        return 'an object'
    if isinstance(v, list):
        return 'an array'
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    return str(v)


if __name__ == '__main__':
    serve()
