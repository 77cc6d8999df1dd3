// Package zzworkloads stands for another extension linked into the same k6:
// it registers workloads of its own. Its import path sorts after the
// extension's, so Go runs its init() after the extension's init(): a worker
// process must still serve these workloads.
package zzworkloads

import (
	"context"
	"fmt"
	"os"

	"github.com/k6-concurrency/xk6-concurrency/ipc/conformance/hostile"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

func init() {
	workload.Register("zz.hello", workload.CPU, func(_ context.Context, a workload.Args) (any, error) {
		// Stray prints must not break the protocol: stdout goes to stderr
		// in a worker, and stderr goes to k6's log.
		fmt.Println("zz.hello printed to stdout") //nolint:forbidigo // the stray print under test
		fmt.Fprintln(os.Stderr, "zz.hello says hi from pid", os.Getpid())
		return "hello, " + a.String("name"), nil
	}, workload.WithDescription("Greets; registered by another extension."),
		workload.WithParams(workload.Param{Name: "name", Type: workload.String, Default: "world"}))
	// An echo, as the conformance suite (ipc/conformance) wants for its
	// large-payload checks: the k6 binary in worker mode then passes all of it.
	workload.Register("zz.echo", workload.IO, func(_ context.Context, a workload.Args) (any, error) {
		return a.Raw(), nil
	}, workload.WithDescription("Returns its params unchanged; registered by another extension."), workload.RawParams())
	// And the hostile workloads, which a worker must answer and survive.
	if err := hostile.Register(workload.Default, "zz."); err != nil {
		panic(err)
	}
}
