// A worker whose workloads return values that are hard to carry: strings
// holding lone surrogates, which the library refuses with a WorkloadError that
// says so, and deep nesting, which k6 must hand to JavaScript as it is
// (TestValuesFromWorkers).
const path = require('path');
const { workload, serve } = require(path.join(__dirname, '..', '..', '..', 'examples', 'node', 'xk6worker'));

workload('surrogates', { kind: 'io' }, () => ({ lone: 'x\ud800y', low: '\udc00', pair: '\u{1F600}', 'k\udfff': [1, '\ud83d'] }));

workload('deep', { kind: 'io' }, (params) => {
  let v = 'bottom';
  for (let i = 0; i < (params.levels ?? 500); i++) v = [v];
  return v;
});

serve();
