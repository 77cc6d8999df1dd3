package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// TestAnotherExtensionsWorkloads: workloads that another extension linked
// into the same k6 registers run on both pools. Its init() runs after this
// extension's, which is why worker mode starts only after every init().
func TestAnotherExtensionsWorkloads(t *testing.T) {
	t.Parallel()
	binary := k6test.BinaryOf(t, "./integration/testdata/k6plus")
	res := k6test.StartScriptWith(t, binary, `
import { ThreadPool, ProcessPool, workloads } from 'k6/x/concurrency';
const threads = new ThreadPool({ workers: 1 });
const procs = new ProcessPool({ workers: 1 });
export const options = { iterations: 1 };
export default function () {
  console.log('RESULT ' + JSON.stringify({
    thread: threads.runSync('zz.hello', { name: 'threads' }),
    process: procs.runSync('zz.hello', { name: 'processes' }),
    listed: workloads().some((w) => w.name === 'zz.hello'),
  }));
}
`).Wait(time.Minute)
	require.Equal(t, 0, res.ExitCode, res.Stderr)
	got := logLine(t, res.Stderr, "RESULT ")
	assert.Equal(t, `RESULT {"thread":"hello, threads","process":"hello, processes","listed":true}`, got)

	// The worker's stdout and stderr lines reach k6's log, tagged with the
	// pool and the worker's pid.
	var fromWorker []string
	for line := range strings.SplitSeq(res.Stderr, "\n") {
		if strings.Contains(line, "zz.hello") && strings.Contains(line, "pool=process-1") {
			fromWorker = append(fromWorker, line)
			assert.Regexp(t, ` pid=[1-9][0-9]* `, line, "the worker's pid")
		}
	}
	assert.Len(t, fromWorker, 2, res.Stderr)
}
