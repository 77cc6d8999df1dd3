package reliability

import (
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// shutdownScript keeps a process pool and a thread pool busy with queues:
// 6 VUs each on 2 workers, tasks of 300 ms, so tasks are always waiting.
const shutdownScript = `
import { ProcessPool, ThreadPool } from 'k6/x/concurrency';
import exec from 'k6/execution';
import { sleep } from 'k6';
const procs = new ProcessPool({ name: 'procs', workers: 2 });
const threads = new ThreadPool({ name: 'threads', workers: 2 });
export const options = {
  scenarios: { busy: { executor: 'constant-vus', vus: 12, duration: __ENV.DURATION || '10m', gracefulStop: '0s' } },
};
export default function () {
  if (__ENV.ABORT && exec.vu.idInTest === 1 && exec.instance.currentTestRunDuration > 1500) exec.test.abort('enough');
  const pool = exec.vu.idInTest % 2 ? procs : threads;
  pool.runSync(exec.vu.idInTest % 4 < 2 ? 'io.sleep' : 'cpu.spin', { duration: '300ms' });
}
`

var account = regexp.MustCompile(`(thread|process) pool \\?"(\w+)\\?" closed: (\d+) tasks submitted, (\d+) completed, (\d+) failed`)

// TestShutdownPaths stops k6 every way it can stop while both pools have
// tasks running and queued: no worker survives, every submitted task is
// accounted for (completed + failed = submitted, PoolClosedError for what
// was cut), and the completed tasks' metrics are in --out json.
func TestShutdownPaths(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		stop func(*k6test.Process)
		code int
	}{
		{name: "duration ends", args: []string{"-e", "DURATION=2s"}, code: 0},
		{name: "test.abort", args: []string{"-e", "ABORT=1"}, code: 108},
		{name: "SIGINT", stop: func(p *k6test.Process) { p.Signal(syscall.SIGINT) }, code: 105},
		{name: "SIGTERM", stop: func(p *k6test.Process) { p.Signal(syscall.SIGTERM) }, code: 105},
		{name: "SIGKILL", stop: func(p *k6test.Process) { p.Signal(syscall.SIGKILL) }, code: -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			k6 := k6test.StartScript(t, shutdownScript, append(c.args, "--out", "json=out.json")...)
			pid := k6.Cmd.Process.Pid
			k6test.WaitForWorkers(t, pid, 2, time.Minute)
			if c.stop != nil {
				time.Sleep(2 * time.Second) // tasks completed, running and queued
				c.stop(k6)
			}
			res := k6.Wait(time.Minute)
			assert.Equal(t, c.code, res.ExitCode, tail(res.Stderr))
			k6test.RequireNoWorkers(t, pid, 5*time.Second)
			if c.code == -1 {
				figuref(t, "shutdown "+c.name, "no worker survived k6 (parent-death signal)")
				return // a killed k6 writes no account and may cut its JSON short
			}
			accounts := map[string][3]int{} // submitted, completed, failed
			for _, m := range account.FindAllStringSubmatch(res.Stderr, -1) {
				submitted, _ := strconv.Atoi(m[3])
				done, _ := strconv.Atoi(m[4])
				failed, _ := strconv.Atoi(m[5])
				assert.Equal(t, submitted, done+failed, "%s pool %s: every task accounted for", m[1], m[2])
				accounts[m[2]] = [3]int{submitted, done, failed}
			}
			require.Len(t, accounts, 2, "both pools closed with an account:\n%s", tail(res.Stderr))

			// Every task is in --out json once, the tasks abandoned when k6
			// stopped their VU included (as failed).
			inJSON := map[string][3]int{}
			for _, p := range k6test.ReadPoints(t, filepath.Join(res.Dir, "out.json")) {
				if p.Metric == "concurrency_task_failed" {
					c := inJSON[p.Tags["pool"]]
					c[0]++
					c[1+int(p.Value)]++
					inJSON[p.Tags["pool"]] = c
				}
			}
			for pool, a := range accounts {
				assert.Positive(t, a[1], pool)
				assert.Equal(t, a, inJSON[pool], "%s: submitted, completed, failed in the account and in --out json", pool)
			}
			completed := map[string]int{"procs": accounts["procs"][1], "threads": accounts["threads"][1]}
			figuref(t, "shutdown "+c.name, "exit code %d, no worker left, accounts balanced (completed: %v; submitted, completed, failed in --out json: %v)",
				res.ExitCode, completed, inJSON)
		})
	}
}
