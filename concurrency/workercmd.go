package concurrency

// WorkerCommand is the hidden k6 subcommand (`k6 x concurrency-worker`) a
// process pool runs the k6 binary as, when its options name no command. The
// repository's root package registers it.
const WorkerCommand = "concurrency-worker"

// workerArgv is how a process pool starts the k6 binary at exe as a worker.
func workerArgv(exe string) []string { return []string{exe, "x", WorkerCommand} }
