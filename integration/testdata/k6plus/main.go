// Command k6plus is k6 with xk6-concurrency and another extension that
// registers workloads, as xk6 would generate with two --with flags.
package main

import (
	"go.k6.io/k6/v2/cmd"

	_ "github.com/k6-concurrency/xk6-concurrency"
	_ "github.com/k6-concurrency/xk6-concurrency/integration/testdata/zzworkloads"
)

func main() { cmd.Execute() }
