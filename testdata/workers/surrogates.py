"""A worker whose workload returns strings holding lone surrogates, which
Python's JSON encoder escapes as \\ud800: k6 must hand them to JavaScript as
they are (TestLoneSurrogatesFromWorkers)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'examples', 'python'))

from xk6worker import serve, workload  # noqa: E402


@workload('surrogates', kind='io')
def surrogates(params):
    return {'lone': 'x\ud800y', 'low': '\udc00', 'pair': '\U0001F600', 'k\udfff': [1, '\ud83d']}


serve()
