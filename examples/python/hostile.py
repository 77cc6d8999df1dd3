"""Hostile workloads for the conformance suite (ipc/conformance): each fails
in a way that is hard to report, or returns a value JSON cannot carry
unchanged.  A worker must answer every one with a WorkloadError and serve on.
worker.py registers them when XK6WORKER_HOSTILE=1; the cases are those of
HostileCases in ipc/conformance/hostile.go.
"""

import asyncio
import math
import threading

from xk6worker import InvalidArgument, workload

HUGE = 20 << 20  # over the protocol's default frame limit
STRAY_TEXT = 'conformance: a stray failure nobody handled'


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError('no text')


class NotAString(Exception):
    def __str__(self):
        return 5  # str() raises TypeError


class NotAnError(BaseException):
    """Not an Exception: what only a bare except catches."""


class RaisingDict(dict):
    def items(self):
        raise Unprintable()

    def __iter__(self):
        raise Unprintable()


def _case(params):
    case = params.get('case')
    if not isinstance(case, str):
        raise InvalidArgument('param "case" must be a string')
    return case


@workload('hostile.throw', kind='cpu', description='Fails in a way that is hard to report.')
def throw(params):
    case = _case(params)
    if case == 'unprintable':
        raise Unprintable()
    if case == 'unprintable_message':
        raise NotAString()
    if case == 'not_an_error':
        raise NotAnError()
    if case == 'huge_message':
        raise ValueError('x' * HUGE)
    if case == 'exit':
        raise SystemExit(3)
    raise InvalidArgument('param "case": no case %r' % case)


def _deep():
    v = []
    for _ in range(100000):
        v = [v]
    return v


def _cycle():
    m = {}
    m['self'] = m
    return m


RETURNS = {
    'nan': lambda: math.nan,
    'nested_nan': lambda: {'a': [1, {'b': math.nan}]},
    'nested_infinity': lambda: [[-math.inf]],
    'cycle': _cycle,
    'function': lambda: {'f': len},
    'native': lambda: {'c': b'bytes'},
    'non_string_key': lambda: {1: 'a'},
    'lone_surrogate': lambda: {'s': 'x\ud800y'},
    'deep': _deep,
    'huge': lambda: 'y' * HUGE,
    'raising_encoder': lambda: {'m': RaisingDict(a=1)},
}


@workload('hostile.return', kind='cpu', description='Returns a value JSON cannot carry unchanged.')
def ret(params):
    case = _case(params)
    if case not in RETURNS:
        raise InvalidArgument('param "case": no case %r' % case)
    return RETURNS[case]()


@workload('hostile.async', kind='io', description='An async def workload.')
async def run_async(params):
    case = _case(params)
    await asyncio.sleep(0.01)
    if case == 'value':
        return {'awaited': True}
    if case == 'throw':
        raise Unprintable()
    raise InvalidArgument('param "case": no case %r' % case)


@workload('hostile.stray', kind='io', description='Leaves a failure nobody handles behind it.')
def stray(params):
    def fail():
        raise ValueError(STRAY_TEXT)
    threading.Thread(target=fail, name='hostile-stray').start()
    return 'ok'
