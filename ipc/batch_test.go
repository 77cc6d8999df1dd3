package ipc

import (
	"bufio"
	"bytes"
	"testing"
)

// countingWriter counts the writes that reach it: one per syscall on a pipe.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return c.Buffer.Write(p)
}

// TestFrameWriterHold: frames written during a hold (the reader handling
// results that came together) go out in one write, at the release; without
// a hold each frame goes out at once.
func TestFrameWriterHold(t *testing.T) {
	t.Parallel()
	out := &countingWriter{}
	fw := frameWriter{bw: bufio.NewWriterSize(out, ioBufSize)}
	frame := endFrame(append(beginFrame(nil), `{"type":"run","id":1,"workload":"noop"}`...))
	if err := fw.write(frame); err != nil || out.writes != 1 {
		t.Fatalf("a frame without a hold: %d writes, %v", out.writes, err)
	}
	fw.hold()
	for range 3 {
		if err := fw.write(frame); err != nil {
			t.Fatal(err)
		}
	}
	if out.writes != 1 {
		t.Fatalf("%d writes during a hold, want none", out.writes-1)
	}
	if err := fw.release(); err != nil {
		t.Fatal(err)
	}
	if out.writes != 2 || out.Len() != 4*len(frame) {
		t.Errorf("after the release: %d writes of %d bytes, want 1 more of %d", out.writes-1, out.Len(), 4*len(frame))
	}
	if err := fw.release(); err != nil || out.writes != 2 {
		t.Errorf("a release with nothing written: %d writes, %v", out.writes-2, err)
	}
	fw.hold() // a release with nothing to flush writes nothing
	if err := fw.release(); err != nil || out.writes != 2 {
		t.Errorf("an empty hold: %d writes, %v", out.writes-2, err)
	}
}

// TestFrameReady: the reader holds the writes only while a whole frame is
// buffered, so that it never waits for the worker with requests held back.
func TestFrameReady(t *testing.T) {
	t.Parallel()
	whole := endFrame(append(beginFrame(nil), `{"type":"result","id":1}`...))
	cases := []struct {
		name string
		in   []byte
		want bool
	}{
		{"nothing", nil, false},
		{"part of a header", whole[:2], false},
		{"a header", whole[:headerSize], false},
		{"part of a frame", whole[:len(whole)-1], false},
		{"a frame", whole, true},
		{"a frame and a part", append(bytes.Clone(whole), whole[:3]...), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			br := bufio.NewReader(bytes.NewReader(c.in))
			if len(c.in) > 0 {
				_, _ = br.Peek(1) // fill the buffer, as the previous ReadFrame did
			}
			if got := frameReady(br); got != c.want {
				t.Errorf("frameReady = %v, want %v", got, c.want)
			}
		})
	}
}
