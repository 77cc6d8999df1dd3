package main

import (
	"fmt"
	"slices"
	"strings"
)

// explanation is what the project knows of why some goals can be missed
// on a machine like the one measured: it is given when any of its goals was
// missed. Text is a template over the view; the figures come from the
// results.
type explanation struct {
	goals []string
	text  string
}

// explanations are the paragraphs for missed goals, in order: which goals
// each one explains. The paragraphs themselves are the constants below.
func explanations() []explanation {
	return []explanation{
		{
			goals: []string{"cpu_scale_process", "cpu_plateau_process", "sp_process_pythreads", "sp_process_pyprocs"},
			text:  cpuProcessMiss,
		},
		{goals: []string{"proc_pipe"}, text: pipeMiss},
		{goals: []string{"py_process_go", "py_process_k6"}, text: pyProcessMiss},
		{goals: []string{"thread_k6_1", "thread_k6_2", "py_thread_k6"}, text: k6ThreadMiss},
		{goals: []string{"js_scale_thread"}, text: jsThreadMiss},
		{goals: []string{"map_process"}, text: mapProcessMiss},
		{goals: []string{"thread_noop"}, text: threadNoopMiss},
		{goals: []string{"idle_workers", "idle_k6"}, text: idleMiss},
	}
}

// cpuProcessMiss says why CPU-bound process pools scale less than the
// thread pool: cross-process wake-ups. It gives the tuned variant's figures
// and the CPU time per call.
const cpuProcessMiss = `CPU-bound process pools: on this {{.W}}-vCPU VM every task costs the pool about two ` +
	`cross-process wake-ups (k6 writes the request and the worker wakes; the worker writes the result and k6 wakes), ` +
	`and wake-ups are expensive under the paravirtualised hypervisor: while a worker waits for its next request ` +
	`its CPU idles, which limits scaling from 1 to {{.W}} workers. The tuned variant (` +
	"`concurrency: 2, env: { GOMAXPROCS: '1' }`" + `), which keeps a second request queued in each worker, ` +
	`made {{rate (.Rate "process_tuned" "cpu.primes" .W)}} calls/s at {{.W}} workers ({{fx (ratio (.Rate ` +
	`"process_tuned" "cpu.primes" .W) (.Rate "process_tuned" "cpu.primes" 1)) 2}} its own 1 worker, {{fx ` +
	`(ratio (.Rate "process_tuned" "cpu.primes" .W) (.Rate "process" "cpu.primes" 1)) 2}} the default pool's 1 ` +
	`worker) against {{rate (.Rate "process" "cpu.primes" .W)}} calls/s ({{fx (ratio (.Rate "process" ` +
	`"cpu.primes" .W) (.Rate "process" "cpu.primes" 1)) 2}}) for the default pool; it is its own series in the ` +
	`tables and the chart and does not replace the default figures.{{$p := .CPU "process" "cpu.primes" ` +
	`.W}}{{$t := .CPU "thread" "cpu.primes" .W}}{{if and $p $t}} CPU time per call at {{.W}} workers (see CPU ` +
	`time per call): {{us $p.Total}} through the process pool ({{us $p.K6}} in k6, {{us $p.Workers}} in the ` +
	`worker) against {{us $t.Total}} through the thread pool; at those costs {{.W}} CPUs shared by k6 and the ` +
	`workers make at most {{rate (perCPU .W $p.Total)}} and {{rate (perCPU .W $t.Total)}} calls/s.{{end}}`

// pipeMiss says why a process pool round trip is slower than the raw pipe echo.
const pipeMiss = `Process pool round trip against the raw pipe echo: the echo's child blocks in read(2) on its stdin ` +
	`and answers from the same thread, so a round trip wakes one thread on each side; the pool's worker parks the ` +
	`reading goroutine in Go's network poller, runs the task on another goroutine and writes the result ` +
	`through a shared writer, and k6's side wakes the waiting goroutine from the reader's, so each round trip ` +
	`also pays poller and scheduler wake-ups that cost tens of microseconds on this VM.`

// pyProcessMiss says why the process pool is not 10x ProcessPoolExecutor.
const pyProcessMiss = `Process pool against ProcessPoolExecutor: both round trips are made of thread and process ` +
	`wake-ups more than of code. ProcessPoolExecutor's takes about five (the submitting thread wakes the executor's ` +
	`management thread, which feeds the call queue's feeder thread, which writes to the worker; the worker's ` +
	`result wakes the management thread, which wakes the waiting thread), the pool's at least two ` +
	`cross-process ones, so on this VM the ratio stays near the ratio of wake-ups rather than reaching 10x.`

// k6ThreadMiss says what a task through k6 pays beyond the Go benchmark's.
const k6ThreadMiss = `Through k6, each task also pays the VU's JavaScript call into the extension, the hand-off ` +
	"to a worker goroutine and back to the VU, and five metric samples (`concurrency_tasks`, `_failed`, `_duration`, " +
	"`_wait`, `_overhead`) on top of the iteration's own samples, which are all an empty iteration pays."

// jsThreadMiss says how JavaScript on the thread pool scales, against k6's
// own VUs and the process pool.
const jsThreadMiss = `JavaScript on the thread pool: k6's own VUs, counting the same primes with the same function ` +
	`directly, scale {{fx (ratio (.Rate "js" "cpu.primes" .W) (.Rate "js" "cpu.primes" 1)) 2}} from 1 to {{.W}} in ` +
	`this run (the k6 JS rows), and the thread pool matches them (through the pool against {{.W}} VUs, ` +
	`above): both are {{.W}} JavaScript runtimes in one k6 process, on {{.W}} CPUs that its Go runtime ` +
	`(garbage collector, scheduler) and k6's own goroutines share. The collector is most of it: a prime count ` +
	`in sobek allocates a boxed number for most of its steps, so the collector runs often, and with 1 worker it ` +
	`has a CPU of its own. With k6 at GOGC=400 (the collector running a quarter as often; the GOGC row), the ` +
	`thread pool scales {{fx (ratio (.Rate "thread_js_gogc" "primes" 2) (.Rate "thread_js_gogc" "primes" 1)) 2}} ` +
	`from 1 to 2 workers. The process pool, one runtime and one collector per process, scales ` +
	`{{fx (ratio (.Rate "process_js" "primes" .W) (.Rate "process_js" "primes" 1)) 2}}.`

// mapProcessMiss says what bounds a fine-grained map on the process pool.
const mapProcessMiss = `Fine-grained map on the process pool: chunks travel in batch frames and results come back in ` +
	`batches, but k6 still parses every result and builds its value, and every task keeps its own five samples and its ` +
	`promise's settlement; the thread pool's map ({{rate (.Rate "map_thread" "noop" 2)}} tasks/s) pays that per-task ` +
	`cost too, and is the ceiling of both pools. Python's pools return a list of values with no per-task bookkeeping. ` +
	`One frame per task (chunkSize 1) makes {{rate (.Rate "map_process_chunk1" "noop" 2)}} tasks/s.`

// threadNoopMiss says what a thread pool round trip costs.
const threadNoopMiss = `Thread pool round trip: the submitting goroutine parks and the worker goroutine is woken; ` +
	`when that wakes an idle OS thread (GOMAXPROCS is the number of CPUs, in the Go benchmark as in k6) the futex ` +
	`wake-up costs microseconds on this VM.`

// idleMiss says where the idle cost is.
const idleMiss = `Idle cost: the idle table below says which process used the CPU.`

// busyOthers is the share of the machine's CPUs (percent) other processes
// may use during a session before the paragraph says so.
const busyOthers = 5

// missesParagraph says how many goals were missed, how busy other processes
// kept the machine, and what is known of each miss.
func missesParagraph(v *view, outcomes []outcome) (string, error) {
	missed := map[string]outcome{}
	for _, o := range outcomes {
		if !o.Met {
			missed[o.ID] = o
		}
	}
	var parts []string
	if len(missed) == 0 {
		parts = append(parts, "Every goal was met in this run.")
	} else {
		parts = append(parts, fmt.Sprintf("%d of %d goals were not met in this run.", len(missed), len(outcomes)))
	}
	if l := v.Info.Load; l != nil && l.OthersPct >= busyOthers {
		parts = append(parts, fmt.Sprintf("Other processes kept the machine's CPUs %.0f %% busy during this session (this "+
			"benchmark: %.0f %%; see This run), which disturbs every figure here, the CPU-bound and "+
			"round-trip ones most; the spread (min–max) in the tables shows how much.", l.OthersPct, l.OwnPct))
	}
	explained := map[string]bool{}
	for _, e := range explanations() {
		if !slices.ContainsFunc(e.goals, func(id string) bool { _, ok := missed[id]; return ok }) {
			continue
		}
		text, err := execute("explanation of "+e.goals[0], e.text, v)
		if err != nil {
			return "", err
		}
		parts = append(parts, text)
		for _, id := range e.goals {
			explained[id] = true
		}
	}
	var rest []string
	for _, o := range outcomes {
		if !o.Met && !explained[o.ID] {
			rest = append(rest, fmt.Sprintf("%s (%s)", o.Goal, o.Figure))
		}
	}
	if len(rest) > 0 {
		parts = append(parts, "No cause specific to the extension is known for: "+strings.Join(rest, "; ")+".")
	}
	return strings.Join(parts, " "), nil
}
