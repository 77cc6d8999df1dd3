package ipc

import (
	"bufio"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// junkShown bounds how many of the bytes a worker sent instead of a frame
// are quoted in the error.
const junkShown = 64

// junkMessage words a framing error so that it names what the worker sent:
// a worker that prints a banner or a log line to its stdout, or that writes
// JSON without the length prefix, is told so with the text itself, rather
// than as "a frame of 1633906021 bytes". It reads only what is buffered.
func junkMessage(fe *FrameError, br *bufio.Reader) string {
	if len(fe.Head) == 0 || (fe.Kind == FrameTruncated && !fe.Header) {
		return fe.Error() // a real length prefix, then too little
	}
	seen := fe.Head
	if n := min(br.Buffered(), junkShown-len(seen)); n > 0 {
		more, _ := br.Peek(n)
		seen = append(seen, more...)
	}
	if text := printablePrefix(seen); startsAsText(fe.Head) && len(text) >= len(fe.Head) {
		hint := ""
		if text[0] == '{' {
			hint = " (a JSON message without its 4-byte length prefix?)"
		}
		return fmt.Sprintf("wrote text to its standard output, which is for "+
			"protocol frames only (print to stderr instead)%s: %s",
			hint, quoteCut(text, len(seen) > len(text) || br.Buffered() > len(seen)-len(fe.Head)))
	}
	return fmt.Sprintf("%s; the bytes it sent begin % x", fe.Error(), seen[:min(len(seen), 16)])
}

// printablePrefix is the longest start of b that is printable UTF-8 text
// (with tabs and line ends).
func printablePrefix(b []byte) []byte {
	i := 0
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && size <= 1) || (!unicode.IsPrint(r) && r != '\t' && r != '\n' && r != '\r') {
			break
		}
		i += size
	}
	return b[:i]
}

// startsAsText reports whether a length prefix looks like the start of text:
// its first byte is printable ASCII, a tab or a line end. A binary prefix
// over the limit has its top byte at 0x80 or more, or a NUL.
func startsAsText(head []byte) bool {
	c := head[0]
	return (c >= 0x20 && c <= 0x7e) || c == '\t' || c == '\n' || c == '\r'
}

func quoteCut(text []byte, more bool) string {
	q := strconv.Quote(string(text))
	if more {
		q += "..."
	}
	return q
}
