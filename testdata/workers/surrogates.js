// A worker whose workload returns strings holding lone surrogates, which
// JSON.stringify escapes as \ud800: k6 must hand them to JavaScript as they
// are (TestLoneSurrogatesFromWorkers).
const path = require('path');
const { workload, serve } = require(path.join(__dirname, '..', '..', 'examples', 'node', 'xk6worker'));

workload('surrogates', { kind: 'io' }, () => ({ lone: 'x\ud800y', low: '\udc00', pair: '\u{1F600}', 'k\udfff': [1, '\ud83d'] }));

serve();
