package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// The I/O-bound built-ins: they spend their time waiting on a timer, the
// network or the file system, and return as soon as their context is done.

func init() {
	Register("io.sleep", IO, sleep,
		WithDescription("Waits for duration without using the CPU."),
		WithParams(Param{
			Name: "duration", Type: Duration, Doc: "How long to wait.",
			Default: 10 * time.Millisecond, Min: 0, Max: dayMs,
		}))
	Register("io.http", IO, httpRequest,
		WithDescription("Makes one HTTP request and reads the whole response."),
		WithParams(
			Param{
				Name: "url", Type: String, Doc: "The http:// or https:// URL to request.",
				Required: true, MaxLen: 8192, Check: checkHTTPURL,
			},
			Param{
				Name: "method", Type: String, Doc: "The request method.", Default: "GET",
				Enum: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"},
			},
			Param{Name: "body", Type: String, Doc: "The request body.", Default: "", MaxLen: 16 << 20},
			Param{
				Name: "timeout", Type: Duration, Doc: "Give up on the request after this long.",
				Default: 10 * time.Second, Min: 1, Max: 10 * 60 * 1000,
			}))
	Register("io.file", IO, fileIO,
		WithDescription("Writes a new file, or reads a cached one, of bytes bytes in a private temporary directory."),
		WithParams(
			Param{
				Name: "op", Type: String, Doc: `"write" or "read".`, Default: "write",
				Enum: []string{"write", "read"},
			},
			Param{
				Name: "bytes", Type: Int, Doc: "Size of the file.", Default: int64(4096),
				Min: 0, Max: 256 << 20,
			}))
	Register("noop", IO, noop, WithDescription("Does nothing, to measure the pool's own overhead."))
}

func noop(context.Context, Args) (any, error) { return nil, nil }

func sleep(ctx context.Context, args Args) (any, error) {
	t := time.NewTimer(args.Duration("duration"))
	defer t.Stop()
	select {
	case <-t.C:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// httpClient serves every io.http task. It has no timeout of its own (each
// request has its timeout param) and keeps many idle connections per host, so
// that a pool of workers hammering one host reuses its connections.
//
//nolint:gochecknoglobals // one connection pool for every io.http task
var httpClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	ForceAttemptHTTP2:     true,
	MaxIdleConns:          0, // no limit
	MaxIdleConnsPerHost:   1024,
	IdleConnTimeout:       90 * time.Second,
	TLSHandshakeTimeout:   10 * time.Second,
	ExpectContinueTimeout: time.Second,
}}

func checkHTTPURL(v any) error {
	s, _ := v.(string) // Check runs on a bound String param
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an absolute http:// or https:// URL")
	}
	return nil
}

func httpRequest(ctx context.Context, args Args) (any, error) {
	method, target, timeout := args.String("method"), args.String("url"), args.Duration("timeout")
	reqCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader = http.NoBody
	if b := args.String("body"); b != "" {
		body = strings.NewReader(b)
	}
	req, err := http.NewRequestWithContext(reqCtx, method, target, body)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, httpFailure(ctx, reqCtx, method, target, timeout, err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close() // the copy's error, if any, is the one to report
	if err != nil {
		return nil, httpFailure(ctx, reqCtx, method, target, timeout, err)
	}
	return map[string]any{"status": int64(resp.StatusCode), "bytes": n}, nil
}

// httpFailure tells the task's end (ctx), the request's own timeout and a
// transport error apart.
func httpFailure(ctx, reqCtx context.Context, method, target string, timeout time.Duration, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(reqCtx.Err(), context.DeadlineExceeded) {
		return taskerr.New(taskerr.Timeout, "io.http: %s %q did not complete within its timeout of %s",
			method, target, timeout)
	}
	return err
}

const (
	// fileChunk bounds each read and write of io.file, between which it
	// checks its context.
	fileChunk = 1 << 20
	// io.file keeps one read file per size while they total at most
	// readCacheBytes and number at most readCacheFiles; a read of another
	// size then uses a file of its own that it removes.
	readCacheBytes = 1 << 30
	readCacheFiles = 1024
)

// fileDir is io.file's private directory, opened as an os.Root so that no
// name, nor any symbolic link planted in it, reaches outside it.
type fileDir struct {
	path string
	root *os.Root

	mu          sync.Mutex
	reads       map[int64]*readFile
	cachedBytes int64
}

// readFile is the cached read file of one size.
type readFile struct {
	lock  chan struct{} // a mutex that a cancelled task can give up waiting for
	ready bool          // the file is in place; guarded by lock
}

//nolint:gochecknoglobals // the io.file files of the process
var files struct {
	mu  sync.Mutex
	dir *fileDir
}

//nolint:gochecknoglobals // names unique in the process
var fileSeq atomic.Uint64

// fileData is one chunk of the bytes that io.file writes and cpu.sha256
// hashes, b[i] = byte(i), shared read-only.
//
//nolint:gochecknoglobals // written once, read by every io.file write
var fileData = sync.OnceValue(func() []byte {
	b := make([]byte, fileChunk)
	for i := range b {
		b[i] = byte(i)
	}
	return b
})

// privateDir returns io.file's directory, creating it (mode 0700, under
// os.TempDir) on first use.
func privateDir() (*fileDir, error) {
	files.mu.Lock()
	defer files.mu.Unlock()
	if files.dir == nil {
		path, err := os.MkdirTemp("", "xk6-concurrency-*")
		if err != nil {
			return nil, err
		}
		root, err := os.OpenRoot(path)
		if err != nil {
			_ = os.Remove(path) // best effort: the error above is the one to report
			return nil, err
		}
		files.dir = &fileDir{path: path, root: root, reads: make(map[int64]*readFile)}
	}
	return files.dir, nil
}

// Cleanup removes the private temporary directory that io.file works in, with
// everything in it, if it was created; the next io.file task creates a new
// one. A process that ran io.file tasks calls it when it is done with them (a
// pool when it closes, a worker process before it exits); io.file tasks still
// running then fail.
func Cleanup() error {
	files.mu.Lock()
	d := files.dir
	files.dir = nil
	files.mu.Unlock()
	if d == nil {
		return nil
	}
	return errors.Join(d.root.Close(), os.RemoveAll(d.path))
}

func fileIO(ctx context.Context, args Args) (any, error) {
	size := args.Int("bytes")
	d, err := privateDir()
	if err != nil {
		return nil, err
	}
	if args.String("op") == "read" {
		n, err := d.read(ctx, size)
		if err != nil {
			return nil, err
		}
		return n, nil
	}
	name := d.uniqueName("w")
	if err := d.writeFile(ctx, name, size); err != nil {
		return nil, err
	}
	if err := d.root.Remove(name); err != nil {
		return nil, err
	}
	return size, nil
}

func (d *fileDir) uniqueName(prefix string) string {
	return prefix + "-" + strconv.FormatUint(fileSeq.Add(1), 10)
}

// writeFile creates the file name, which must not exist, and writes size
// bytes to it; on failure it removes the file.
func (d *fileDir) writeFile(ctx context.Context, name string, size int64) error {
	f, err := d.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	chunk := fileData()
	for rest := size; rest > 0 && err == nil; {
		if err = ctx.Err(); err == nil {
			n := min(rest, int64(len(chunk)))
			_, err = f.Write(chunk[:n])
			rest -= n
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = d.root.Remove(name) // best effort: err is the one to report
	}
	return err
}

func (d *fileDir) read(ctx context.Context, size int64) (int64, error) {
	name, cached, err := d.fileOfSize(ctx, size)
	if err != nil {
		return 0, err
	}
	if !cached {
		defer func() { _ = d.root.Remove(name) }()
	}
	f, err := d.root.Open(name)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	buf := make([]byte, min(max(size, 512), fileChunk))
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		m, err := f.Read(buf)
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if n != size {
		return 0, fmt.Errorf("read %d bytes from %s, expected %d", n, name, size)
	}
	return n, nil
}

// fileOfSize returns the name of a file of size bytes: the cached one for that
// size, which the first task to need it creates (writing a temporary file and
// renaming it), or, when the cache is full, a new one for the caller to remove.
func (d *fileDir) fileOfSize(ctx context.Context, size int64) (name string, cached bool, err error) {
	d.mu.Lock()
	e := d.reads[size]
	if e == nil && len(d.reads) < readCacheFiles && d.cachedBytes+size <= readCacheBytes {
		e = &readFile{lock: make(chan struct{}, 1)}
		d.reads[size] = e
		d.cachedBytes += size
	}
	d.mu.Unlock()
	if e == nil {
		name = d.uniqueName("t")
		return name, false, d.writeFile(ctx, name, size)
	}
	select {
	case e.lock <- struct{}{}:
	case <-ctx.Done():
		return "", false, ctx.Err()
	}
	defer func() { <-e.lock }()
	name = "r-" + strconv.FormatInt(size, 10)
	if e.ready {
		return name, true, nil
	}
	tmp := d.uniqueName("t")
	if err := d.writeFile(ctx, tmp, size); err != nil {
		return "", false, err
	}
	if err := d.root.Rename(tmp, name); err != nil {
		_ = d.root.Remove(tmp) // best effort: err is the one to report
		return "", false, err
	}
	e.ready = true
	return name, true, nil
}
