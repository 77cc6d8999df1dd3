"""A worker whose workloads return values that are hard to carry: strings
holding lone surrogates, which the library refuses with a WorkloadError that
says so, and deep nesting, which k6 must hand to JavaScript as it is
(TestValuesFromWorkers)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', 'examples', 'python'))

from xk6worker import serve, workload  # noqa: E402


@workload('surrogates', kind='io')
def surrogates(params):
    return {'lone': 'x\ud800y', 'low': '\udc00', 'pair': '\U0001F600', 'k\udfff': [1, '\ud83d']}


@workload('deep', kind='io')
def deep(params):
    v = 'bottom'
    for _ in range(params.get('levels', 500)):
        v = [v]
    return v


serve()
