// Package concurrency registers the k6 extension `k6/x/concurrency` with k6:
// the JavaScript module (package
// github.com/k6-concurrency/xk6-concurrency/concurrency holds it), and the
// hidden `k6 x concurrency-worker` subcommand that the k6 binary runs as a
// process pool's worker. Importing this package for its side effects is
// what `xk6 build --with github.com/k6-concurrency/xk6-concurrency` does.
package concurrency

import (
	"go.k6.io/k6/v2/js/modules"
	"go.k6.io/k6/v2/subcommand"

	"github.com/k6-concurrency/xk6-concurrency/concurrency"
)

func init() {
	enterWorkerMode()
	modules.Register(concurrency.ImportPath, concurrency.New())
	subcommand.RegisterExtension(concurrency.WorkerCommand, newWorkerCommand)
}
