//go:build !linux

package ipc

// killStrays has no /proc to find a worker's strays in here: descendants
// that left the worker's process group outlive it.
func killStrays(string) {}
