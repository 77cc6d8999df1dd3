//go:build tools

// Package tools pins the build tools of xk6-concurrency in its own module, so
// that their dependencies stay out of the extension's go.mod. Build xk6 with
// `go build -C tools -o ../bin/xk6 go.k6.io/xk6/cmd/xk6` (the Makefile does).
package tools

import _ "go.k6.io/xk6/cmd/xk6"
