// Command testworker is a worker process for tests of process pools: a good
// one, and a set of ways to break the protocol. It is built by the tests
// that use it (go build ./internal/testworker) and never shipped.
//
// Its first argument chooses what it does:
//
//	good               serve the protocol (ipc.ServeProcess) with the test
//	                   workloads of internal/testworkload: t.echo, t.sleep,
//	                   t.fail, t.print (prints to stdout, which lands on
//	                   stderr), t.crash (exits 3) and the others
//	garbage            write 4 KiB of random bytes to stdout (the first byte
//	                   has its top bit set, so the length prefix claims over
//	                   2 GiB), then wait for stdin to end
//	huge-frame         say hello, then write a frame header claiming 4 GiB
//	                   (0xFFFFFFFF bytes), then wait for stdin to end
//	truncated          say hello, then write a frame header of 100 bytes and
//	                   only 10 bytes of it, then exit 0
//	unknown-id         say hello, then answer every run with a result for an
//	                   id it never got (the run's id + 1000000)
//	wrong-protocol     say hello with protocol 2, then wait for stdin to end
//	silent             never write anything; sleep until killed
//	bad-json           say hello, then send a frame that is not valid JSON,
//	                   then wait for stdin to end
//	exit-before-hello  write "boom" to stderr and exit 7
//	stubborn           say hello, ignore SIGTERM and the end of stdin, and
//	                   sleep until killed (for Close's escalation)
//
// Modes that "wait for stdin to end" exit 0 when it does.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/testworkload"
	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testworker "+
			"good|garbage|huge-frame|truncated|unknown-id|wrong-protocol|silent|bad-json|exit-before-hello|stubborn")
		os.Exit(2)
	}
	out := output{bufio.NewWriter(os.Stdout)}
	switch os.Args[1] {
	case "good":
		os.Exit(ipc.ServeProcess(testworkload.New()))
	case "garbage":
		writeGarbage()
		waitForEOF()
	case "huge-frame":
		out.hello(ipc.ProtocolVersion)
		_, _ = os.Stdout.Write([]byte{0xFF, 0xFF, 0xFF, 0xFF})
		waitForEOF()
	case "truncated":
		out.hello(ipc.ProtocolVersion)
		_, _ = os.Stdout.Write(append([]byte{0, 0, 0, 100}, []byte(`{"type":"r`)...))
		os.Exit(0)
	case "unknown-id":
		out.hello(ipc.ProtocolVersion)
		out.answerWrongIDs()
	case "wrong-protocol":
		out.hello(2)
		waitForEOF()
	case "silent":
		sleepForever()
	case "bad-json":
		out.hello(ipc.ProtocolVersion)
		out.frame([]byte(`{"type": "result", oops`))
		waitForEOF()
	case "exit-before-hello":
		fmt.Fprintln(os.Stderr, "boom")
		os.Exit(7)
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		out.hello(ipc.ProtocolVersion)
		_, _ = io.Copy(io.Discard, os.Stdin)
		sleepForever()
	default:
		fmt.Fprintf(os.Stderr, "testworker: unknown mode %q\n", os.Args[1])
		os.Exit(2)
	}
}

// output writes well-formed frames to stdout, for the modes that break the
// protocol only after a good start: each frame is flushed at once, so the
// pool sees it before whatever breaks the protocol next.
type output struct{ w *bufio.Writer }

func (o output) frame(b []byte) {
	_ = ipc.WriteFrame(o.w, b)
	_ = o.w.Flush()
}

// hello says hello with the protocol version given, offering t.echo.
func (o output) hello(protocol int) {
	b, _ := json.Marshal(ipc.Message{ //nolint:errchkjson // no Value: it encodes
		Type: ipc.TypeHello, Protocol: protocol, PID: os.Getpid(),
		Workloads: []workload.Info{{Name: "t.echo", Kind: workload.CPU}},
	})
	o.frame(b)
}

// answerWrongIDs is unknown-id: it answers every run with a result for an
// id it never got (the run's id + 1000000), until stdin ends; then it exits 0.
func (o output) answerWrongIDs() {
	in := bufio.NewReader(os.Stdin)
	var buf []byte
	for {
		b, err := ipc.ReadFrame(in, buf, ipc.DefaultMaxFrame)
		if err != nil {
			os.Exit(0)
		}
		buf = b
		var m ipc.Message
		if json.Unmarshal(b, &m) == nil && m.Type == ipc.TypeRun {
			//nolint:errchkjson // it encodes
			r, _ := json.Marshal(ipc.Message{Type: ipc.TypeResult, ID: m.ID + 1000000, Value: json.RawMessage("1")})
			o.frame(r)
		}
	}
}

// writeGarbage is garbage: 4 KiB of random bytes to stdout, the first with
// its top bit set, so that the length prefix they start with claims over
// 2 GiB.
func writeGarbage() {
	b := make([]byte, 4096)
	for i := range b {
		b[i] = byte(rand.UintN(256)) // #nosec G115 G404 -- garbage bytes for a protocol test; UintN(256) fits a byte
	}
	b[0] |= 0x80
	_, _ = os.Stdout.Write(b)
}

// sleepForever returns never: the modes that hang wait to be killed.
func sleepForever() {
	for {
		time.Sleep(time.Hour)
	}
}

// waitForEOF returns never: it exits 0 when stdin ends.
func waitForEOF() {
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}
