package integration

import (
	"testing"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
	"github.com/k6-concurrency/xk6-concurrency/ipc/conformance"
)

// The k6 binary in worker mode passes the protocol's conformance suite, as
// the Python and Node.js workers do (ipc/conformance runs those): the plain
// build, and a build with another extension's workloads linked in, which
// offers an echo for the large-payload checks and the hostile workloads.
func TestK6WorkerConformance(t *testing.T) {
	t.Parallel()
	strict := conformance.Options{Require: []string{"cpu.primes"}, StrictTimeout: true, StrictCancel: true}
	t.Run("k6", func(t *testing.T) {
		t.Parallel()
		conformance.Run(t, []string{k6test.Binary(t)}, strict)
	})
	t.Run("k6 with another extension", func(t *testing.T) {
		t.Parallel()
		opts := strict
		opts.Echo = "zz.echo"
		opts.HostilePrefix = "zz."
		opts.Require = []string{"cpu.primes", "zz.hello", "zz.hostile.throw", "zz.hostile.return"}
		conformance.Run(t, []string{k6test.BinaryOf(t, "./integration/testdata/k6plus")}, opts)
	})
}
