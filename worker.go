package concurrency

import (
	"errors"
	"os"

	"github.com/spf13/cobra"
	"go.k6.io/k6/v2/cmd/state"

	"github.com/k6-concurrency/xk6-concurrency/concurrency"
	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// enterWorkerMode routes a process started as a worker to the worker command,
// whatever its arguments. It checks the environment variable in init(),
// before k6 parses its command line; the command itself runs only after
// every package's init(), so workloads that other extensions linked into
// this binary register in their init() are served too.
func enterWorkerMode() {
	if os.Getenv(ipc.WorkerEnv) == "" || len(os.Args) == 0 {
		return
	}
	os.Args = []string{os.Args[0], "x", concurrency.WorkerCommand}
	// k6 v2 looks up its extension catalog (over the network, up to 10 s,
	// with a line on stderr) for every `k6 x` command; a worker is one of
	// this binary's own subcommands and never needs it.
	_ = os.Setenv(state.AutoExtensionResolution, "false")
}

// newWorkerCommand is the hidden `k6 x concurrency-worker`: the worker side
// of a process pool, serving every workload registered in this binary.
func newWorkerCommand(*state.GlobalState) *cobra.Command {
	return &cobra.Command{
		Use:    concurrency.WorkerCommand,
		Short:  "Serve tasks for an xk6-concurrency process pool (started by the pool, not by hand)",
		Hidden: true,
		Args:   cobra.ArbitraryArgs,
		RunE: func(*cobra.Command, []string) error {
			code := ipc.ServeProcess(workload.Default)
			if err := workload.Cleanup(); err != nil {
				code = max(code, 1)
			}
			if code != 0 {
				return errors.New("worker stopped with an error (see above)")
			}
			return nil
		},
	}
}
