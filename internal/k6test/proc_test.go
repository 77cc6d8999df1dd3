package k6test

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/ipc"
)

// TestSampleTree starts a busy process carrying this process's worker
// marker, as a k6 worker carries its k6's: SampleTree must find it and
// count its CPU time.
func TestSampleTree(t *testing.T) {
	t.Parallel()
	child := exec.CommandContext(t.Context(), "sh", "-c", "while :; do :; done")
	child.Env = append(os.Environ(), ipc.WorkerEnv+"="+strconv.Itoa(os.Getpid()))
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = child.Process.Kill()
		_ = child.Wait()
	}()
	pid := child.Process.Pid

	// The child's /proc/<pid>/environ reads empty while it is between fork
	// and exec: sample until it shows.
	var first TreeCPU
	for wait := time.Now().Add(5 * time.Second); ; {
		var err error
		if first, err = SampleTree(os.Getpid()); err != nil {
			t.Fatal(err)
		}
		if _, ok := first.Workers[pid]; ok {
			break
		}
		if time.Now().After(wait) {
			t.Fatalf("the marked child %d is not among the workers %v", pid, first.Workers)
		}
		time.Sleep(5 * time.Millisecond)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		time.Sleep(20 * time.Millisecond)
		now, err := SampleTree(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if !now.At.After(first.At) {
			t.Fatalf("sample times %v then %v", first.At, now.At)
		}
		if _, workers := now.Since(first); workers > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the busy worker %d used no CPU time in 20 s: %v then %v", pid, first.Workers, now.Workers)
		}
	}
}

func TestSampleTreeOfNoProcess(t *testing.T) {
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), "true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := SampleTree(cmd.Process.Pid); err == nil {
		t.Error("a process that ended and was reaped has a CPU time")
	}
}

func TestTreeCPUSince(t *testing.T) {
	t.Parallel()
	a := TreeCPU{K6: 10, Workers: map[int]uint64{1: 5, 2: 7}}
	b := TreeCPU{K6: 15, Workers: map[int]uint64{1: 9, 3: 100}} // 2 ended, 3 started: neither counts
	if k6, workers := b.Since(a); k6 != 5 || workers != 4 {
		t.Errorf("since: k6 %d, workers %d; want 5 and 4", k6, workers)
	}
}

func TestMemoryOf(t *testing.T) {
	t.Parallel()
	m, err := MemoryOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS == 0 || m.Anon == 0 || m.PSS == 0 || m.Anon > m.RSS {
		t.Errorf("memory of this process: %+v", m)
	}
}
