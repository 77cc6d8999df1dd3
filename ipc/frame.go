// Package ipc is the worker protocol of process pools (see PROTOCOL.md in this
// directory): length-prefixed JSON frames over a worker's stdin and stdout.
// It holds both sides: Start, Worker and Call are the pool's side, which
// spawns a worker process and pipelines requests to it; Serve and
// ServeProcess are the worker's side, which runs workloads from a registry.
// A Worker is two parts: a process under supervision (process.go: pipes,
// process group, stdin close then SIGTERM then SIGKILL, reaping, strays,
// stderr), and a protocol client over its stdin and stdout that knows
// nothing of processes (client.go: hello, requests, cancels, results).
// Here "worker" always means a worker process (one start of the worker
// program); package pool's seats keep one running each, starting a new one
// when it ends.
package ipc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
)

// ProtocolVersion is the version of PROTOCOL.md both sides speak.
const ProtocolVersion = 1

// DefaultMaxFrame is the largest frame either side sends or accepts unless
// the pool's hello says otherwise: 16 MiB.
const DefaultMaxFrame = 16 << 20

// WorkerEnv is set to the pool's process id in the environment of every
// worker a pool starts.
const WorkerEnv = "XK6_CONCURRENCY_WORKER"

// WorkerIDEnv is set, in the environment of every worker a pool starts, to
// an id that no other worker of any pool shares ("<pool pid>.<n>"). The
// worker's descendants inherit it: it is how those that left the worker's
// process group are found and killed when the worker ends.
const WorkerIDEnv = "XK6_CONCURRENCY_WORKER_ID"

// minFrame is the smallest valid frame: a JSON object ("{}") has 2 bytes.
const minFrame = 2

// headerSize is the size of a frame's length prefix.
const headerSize = 4

// FrameKind says what was wrong with a frame.
type FrameKind int

// What can be wrong with a frame.
const (
	// FrameTooLarge: the length prefix claims more than the limit.
	FrameTooLarge FrameKind = iota + 1
	// FrameTooSmall: the length prefix claims less than a JSON object's 2 bytes.
	FrameTooSmall
	// FrameTruncated: the stream ended inside the frame.
	FrameTruncated
)

// FrameError is a frame that breaks the protocol's framing.
type FrameError struct {
	Kind FrameKind
	// Size is the length the prefix claimed (for a truncated header, the
	// header's 4 bytes).
	Size int64
	// Limit is the maximum frame size in force (FrameTooLarge).
	Limit int
	// Got is how many bytes arrived before the stream ended (FrameTruncated).
	Got int
	// Header is true when the stream ended inside the 4-byte length prefix.
	Header bool
	// Head is the bytes of the length prefix as read (fewer when the
	// stream ended inside it): what was sent instead of a frame, when it
	// is not one.
	Head []byte
}

func (e *FrameError) Error() string {
	switch e.Kind {
	case FrameTooLarge:
		return fmt.Sprintf("frame of %d bytes is over the %d-byte limit", e.Size, e.Limit)
	case FrameTooSmall:
		return fmt.Sprintf("frame of %d bytes is too small (a frame holds a JSON object of at least %d bytes)",
			e.Size, minFrame)
	case FrameTruncated:
		if e.Header {
			return fmt.Sprintf("truncated frame: the stream ended after %d of the %d length bytes (%d missing)",
				e.Got, headerSize, headerSize-e.Got)
		}
		return fmt.Sprintf("truncated frame: the stream ended after %d of %d bytes (%d missing)",
			e.Got, e.Size, e.Size-int64(e.Got))
	}
	return "bad frame"
}

// WriteFrame writes payload as one frame: its length as 4 bytes big-endian,
// then the payload. Writers with an AvailableBuffer method (bufio.Writer,
// bytes.Buffer) are written without allocating; other writers get the frame
// in one Write when it is small.
func WriteFrame(w io.Writer, payload []byte) error {
	if int64(len(payload)) > math.MaxUint32 {
		return fmt.Errorf("frame of %d bytes is over the 4 GiB the length prefix can say", len(payload))
	}
	n := uint32(len(payload)) // #nosec G115 -- checked against math.MaxUint32 above
	if ab, ok := w.(interface{ AvailableBuffer() []byte }); ok {
		hdr := binary.BigEndian.AppendUint32(ab.AvailableBuffer(), n)
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		_, err := w.Write(payload)
		return err
	}
	if len(payload) <= 64<<10 {
		frame := make([]byte, headerSize+len(payload))
		binary.BigEndian.PutUint32(frame, n)
		copy(frame[headerSize:], payload)
		_, err := w.Write(frame)
		return err
	}
	hdr := binary.BigEndian.AppendUint32(nil, n)
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// ReadFrame reads one frame and returns its payload, in buf when buf is big
// enough (so a caller that passes back what it got reads without allocating).
// It reads the length first and never allocates more than limit bytes for a
// payload. Errors: io.EOF when the stream ends cleanly between frames; a
// *FrameError for a frame over limit, under 2 bytes or cut short; or the
// reader's own error.
func ReadFrame(r io.Reader, buf []byte, limit int) ([]byte, error) {
	var hdr []byte
	if cap(buf) >= headerSize {
		hdr = buf[:headerSize]
	} else {
		hdr = make([]byte, headerSize)
	}
	if got, err := io.ReadFull(r, hdr); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &FrameError{Kind: FrameTruncated, Size: headerSize, Got: got, Header: true, Head: clone(hdr[:got])}
		}
		return nil, err
	}
	n := int64(binary.BigEndian.Uint32(hdr))
	if n > int64(limit) {
		return nil, &FrameError{Kind: FrameTooLarge, Size: n, Limit: limit, Head: clone(hdr)}
	}
	if n < minFrame {
		return nil, &FrameError{Kind: FrameTooSmall, Size: n, Head: clone(hdr)}
	}
	if int64(cap(buf)) >= n {
		buf = buf[:n]
	} else {
		buf = make([]byte, n)
	}
	if got, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, &FrameError{Kind: FrameTruncated, Size: n, Got: got}
		}
		return nil, err
	}
	return buf, nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// frameWriter is a buffered writer shared by many goroutines: each frame is
// one Write under the mutex, and only the last writer of a burst flushes, so
// that frames written by goroutines that were waiting share a syscall. A
// hold (the reader has more results in hand, whose callbacks send the next
// requests) counts as a writer waiting: its release flushes.
type frameWriter struct {
	mu      sync.Mutex
	bw      *bufio.Writer
	waiting atomic.Int32
}

// hold defers the flushes of writes until release.
func (fw *frameWriter) hold() { fw.waiting.Add(1) }

// release ends a hold, flushing what was written meanwhile unless another
// writer is waiting (it flushes then).
func (fw *frameWriter) release() error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.waiting.Add(-1) == 0 && fw.bw.Buffered() > 0 {
		return fw.bw.Flush()
	}
	return nil
}

func (fw *frameWriter) write(frame []byte) error { return fw.writeThen(frame, nil) }

// writeThen is write, running then first (if not nil) under the lock.
func (fw *frameWriter) writeThen(frame []byte, then func()) error {
	fw.waiting.Add(1)
	fw.mu.Lock()
	if then != nil {
		then()
	}
	_, err := fw.bw.Write(frame)
	if fw.waiting.Add(-1) == 0 && err == nil {
		err = fw.bw.Flush()
	}
	fw.mu.Unlock()
	return err
}

func (fw *frameWriter) flush() error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.bw.Flush()
}
