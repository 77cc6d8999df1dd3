//go:build unix

package workload

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// io.file works only inside its private directory: callers cannot name a
// file, and symbolic links planted in the directory (under the names it
// creates and reads) never lead it outside.

func TestFileTakesNoPath(t *testing.T) {
	t.Parallel()
	spec, err := Default.Lookup("io.file")
	require.NoError(t, err)
	outside := t.TempDir()
	paths := []string{
		"../", "..", "../../../../etc/passwd", "/etc/passwd", "/", "/tmp", outside,
		filepath.Join(outside, "x"), "./x", "x/../../y", "~/.ssh/id_rsa", "\x00", "C:\\Windows", "file:///etc/passwd",
	}
	for _, key := range []string{"path", "file", "dir", "name", "filename", "target", "Path", "root", "tmp"} {
		for _, p := range paths {
			for _, op := range []any{"read", "write", nil} {
				raw := map[string]any{key: p}
				if op != nil {
					raw["op"] = op
				}
				_, err := spec.Bind(raw)
				var te *taskerr.Error
				if assert.ErrorAs(t, err, &te, "io.file %v: Bind, want an InvalidArgumentError naming %q", raw, key) {
					assert.Equal(t, taskerr.InvalidArgument, te.Code, "io.file %v: Bind = %v, want an InvalidArgumentError", raw, err)
					assert.True(t, strings.HasPrefix(te.Message, "io.file: "), "io.file %v: message %q should start with the workload's name", raw, te.Message)
					assert.Contains(t, te.Message, strconv.Quote(key), "io.file %v: the message should name %q", raw, key)
				}
			}
		}
	}
	// op is one of two words, never a path.
	for _, op := range append(paths, "READ", "write ", "append", "delete", "") {
		_, err := spec.Bind(map[string]any{"op": op})
		assert.Equal(t, taskerr.InvalidArgument, taskerr.CodeOf(err), "io.file op %q: Bind = %v, want an InvalidArgumentError", op, err)
	}
}

// outsideFiles are what the planted links point to, outside io.file's
// directory: a file whose contents and modification time must not change,
// and a FIFO that nothing may open.
type outsideFiles struct {
	dir, secret, fifo string
	contents          []byte
	mtime             time.Time
	opened            atomic.Int32 // the FIFO was opened
	stop              chan struct{}
	done              sync.WaitGroup
}

// secretSize is the size of the outside file: a read of that size that
// followed a link to it would succeed.
const secretSize = 64

func newOutside(t *testing.T) *outsideFiles {
	t.Helper()
	o := &outsideFiles{dir: t.TempDir(), stop: make(chan struct{})}
	o.secret = filepath.Join(o.dir, "secret")
	o.fifo = filepath.Join(o.dir, "fifo")
	o.contents = bytes.Repeat([]byte("s"), secretSize)
	o.mtime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	require.NoError(t, os.WriteFile(o.secret, o.contents, 0o644))
	require.NoError(t, os.Chtimes(o.secret, o.mtime, o.mtime))
	require.NoError(t, syscall.Mkfifo(o.fifo, 0o666))
	// Watch the FIFO: opening its write end without blocking succeeds only
	// while someone has it open for reading (and lets such a reader go on,
	// to EOF); reading it without blocking finds data only if someone opened
	// it to write (and the open lets such a writer go on).
	o.done.Go(func() {
		buf := make([]byte, 1)
		for {
			select {
			case <-o.stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
			if f, err := os.OpenFile(o.fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				o.opened.Add(1)
				_ = f.Close()
			}
			if f, err := os.OpenFile(o.fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
				if n, _ := f.Read(buf); n > 0 {
					o.opened.Add(1)
				}
				_ = f.Close()
			}
		}
	})
	t.Cleanup(func() { close(o.stop); o.done.Wait() })
	return o
}

// check fails the test if anything outside changed or the FIFO was opened.
func (o *outsideFiles) check(t *testing.T, when string) {
	t.Helper()
	b, err := os.ReadFile(o.secret)
	if assert.NoError(t, err, "%s: the outside file", when) {
		assert.Equal(t, o.contents, b, "%s: the outside file's contents", when)
	}
	info, err := os.Lstat(o.secret)
	if assert.NoError(t, err, "%s: the outside file", when) {
		assert.WithinDuration(t, o.mtime, info.ModTime(), 0, "%s: the outside file's modification time", when)
		assert.True(t, info.Mode().IsRegular(), "%s: the outside file has mode %v, want a regular file", when, info.Mode())
	}
	assert.Zero(t, o.opened.Load(), "%s: the outside FIFO was opened (times seen)", when)
	names, err := os.ReadDir(o.dir)
	if assert.NoError(t, err, "%s: the outside directory", when) {
		assert.Len(t, names, 2, "%s: the outside directory holds %v, want only secret and fifo", when, names)
	}
}

// fileOp runs io.file; it must succeed with size or fail, within 10 s.
func fileOp(t *testing.T, op string, size int64) (any, error) {
	t.Helper()
	spec, err := Default.Lookup("io.file")
	require.NoError(t, err)
	args, err := spec.Bind(map[string]any{"op": op, "bytes": float64(size)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := spec.Run(ctx, args)
	if err == nil {
		assert.Equal(t, size, v, "io.file %s %d", op, size)
	}
	assert.NoError(t, ctx.Err(), "io.file %s %d did not finish: %v", op, size, err)
	return v, err
}

func plant(t *testing.T, target, link string) {
	t.Helper()
	require.NoError(t, os.Symlink(target, link))
}

//nolint:paralleltest // useTempDir sets TMPDIR with t.Setenv
func TestFileDoesNotFollowLinksOut(t *testing.T) {
	out := newOutside(t)
	useTempDir(t)
	d, err := privateDir()
	require.NoError(t, err)
	rel, err := filepath.Rel(d.path, out.secret)
	require.NoError(t, err)

	// Links under the names io.file will create next (w-<n> for writes,
	// t-<n> for a read file being made) and under the cached read files'
	// names (r-<size>), to the outside file, the FIFO, the outside
	// directory, by absolute and relative paths.
	targets := []string{out.secret, out.fifo, out.dir, rel, "../../../../../../../../" + out.secret, "/etc/passwd"}
	const planted = 20 // the next 20 names; the test's operations use up about 30
	next := fileSeq.Load()
	for i := uint64(1); i <= planted; i++ {
		target := targets[int(i)%len(targets)]
		plant(t, target, filepath.Join(d.path, "w-"+strconv.FormatUint(next+i, 10)))
		plant(t, target, filepath.Join(d.path, "t-"+strconv.FormatUint(next+i, 10)))
	}
	sizes := []int64{secretSize, 0, 1, 4096, 100000}
	for i, size := range sizes {
		plant(t, targets[i%len(targets)], filepath.Join(d.path, "r-"+strconv.FormatInt(size, 10)))
	}

	ok, failed := 0, 0
	for round := range 3 {
		for _, size := range sizes {
			for _, op := range []string{"write", "read"} {
				if _, err := fileOp(t, op, size); err != nil {
					// Only by refusing to create a file where a link is.
					failed++
					assert.Contains(t, err.Error(), "file exists", "round %d: io.file %s %d failed", round, op, size)
				} else {
					ok++
				}
			}
		}
	}
	out.check(t, "after writes and reads over planted links")
	t.Logf("%d operations succeeded, %d failed, over %d planted links", ok, failed, planted*2+len(sizes))
	assert.NotZero(t, ok, "no operation succeeded: once the planted names are used up, io.file must work")

	// The read files are cached now; replace each with a link out. A read
	// that followed one would succeed (the outside file is secretSize long).
	for i, size := range sizes {
		name := filepath.Join(d.path, "r-"+strconv.FormatInt(size, 10))
		require.NoError(t, os.Remove(name))
		target := out.secret
		if i%2 == 1 {
			target = rel
		}
		plant(t, target, name)
	}
	for _, size := range sizes {
		if v, err := fileOp(t, "read", size); assert.Error(t, err, "io.file read %d through a link to the outside file succeeded: %v", size, v) {
			t.Logf("io.file read %d, its cached file replaced by a link out: %v", size, err)
		}
	}
	// A link to the FIFO, which would block a reader that followed it.
	name := filepath.Join(d.path, "r-"+strconv.FormatInt(secretSize, 10))
	require.NoError(t, os.Remove(name))
	plant(t, out.fifo, name)
	if _, err := fileOp(t, "read", secretSize); assert.Error(t, err, "io.file read through a link to the FIFO succeeded") {
		t.Logf("io.file read %d, its cached file replaced by a link to a FIFO: %v", secretSize, err)
	}
	time.Sleep(5 * time.Millisecond) // a last look at the FIFO
	out.check(t, "after reads of cached files replaced by links")

	// Every file io.file left is a regular file of its own, or one of the
	// planted links, untouched.
	entries, err := os.ReadDir(d.path)
	require.NoError(t, err)
	for _, e := range entries {
		info, err := os.Lstat(filepath.Join(d.path, e.Name()))
		require.NoError(t, err)
		if info.Mode()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(filepath.Join(d.path, e.Name()))
			assert.True(t, slices.Contains(targets, target) || target == out.fifo,
				"%s is a link to %s, which the test did not plant", e.Name(), target)
			continue
		}
		assert.True(t, info.Mode().IsRegular(), "%s: mode %v", e.Name(), info.Mode())
	}
}

// TestFileDirectorySwappedForALink replaces io.file's directory itself by a
// link to an outside directory: io.file keeps working in its own directory
// (it holds it open), and Cleanup removes the link, not what it points to.
//
//nolint:paralleltest // useTempDir sets TMPDIR with t.Setenv
func TestFileDirectorySwappedForALink(t *testing.T) {
	out := newOutside(t)
	useTempDir(t)
	_, err := fileOp(t, "read", 10)
	require.NoError(t, err)
	d, err := privateDir()
	require.NoError(t, err)
	moved := d.path + "-moved"
	require.NoError(t, os.Rename(d.path, moved))
	t.Cleanup(func() { _ = os.RemoveAll(moved) })
	plant(t, out.dir, d.path)
	for _, size := range []int64{10, secretSize, 5000} {
		for _, op := range []string{"write", "read"} {
			_, err := fileOp(t, op, size)
			require.NoError(t, err, "io.file %s %d in its moved directory", op, size)
		}
	}
	out.check(t, "after io.file ran with its directory's path a link out")
	names, err := os.ReadDir(moved)
	if assert.NoError(t, err, "the moved directory") {
		assert.NotEmpty(t, names, "the moved directory holds %v, want the read files", names)
	}
	require.NoError(t, Cleanup(), "Cleanup")
	_, err = os.Lstat(d.path)
	require.ErrorIs(t, err, os.ErrNotExist, "after Cleanup, the link at the directory's path")
	out.check(t, "after Cleanup removed the link")
}
