// Command k6 is k6's own main with xk6-concurrency linked in, so that
// `go build -o k6 ./cmd/k6` gives a working k6 without xk6. Users build
// theirs with `xk6 build --with github.com/k6-concurrency/xk6-concurrency`,
// which generates the same program.
package main

import (
	"go.k6.io/k6/v2/cmd"

	_ "github.com/k6-concurrency/xk6-concurrency"
)

func main() {
	cmd.Execute()
}
