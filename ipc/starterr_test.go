package ipc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startDirEnv makes the test binary a helper that starts /bin/true in the
// directory it names and prints the error (TestStartErrorCauses' permission
// case, run as another user since root may enter any directory).
const startDirEnv = "XK6_IPC_TEST_START_DIR"

func init() {
	if dir := os.Getenv(startDirEnv); dir != "" && os.Getenv(WorkerEnv) == "" {
		_, err := Start(Config{Argv: []string{"/bin/true"}, Dir: dir})
		fmt.Print(err) //nolint:forbidigo // the answer to the test that started this process
		os.Exit(0)
	}
}

// TestStartErrorCauses: every way a start fails is worded by its real cause,
// never as Go's "fork/exec <program>: no such file or directory" for a
// working directory that is missing (golang/go#20285).
func TestStartErrorCauses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), mode))
		return p
	}
	plain := file("plain.txt", "hello", 0o644)
	script := file("noexec.sh", "#!/bin/sh\necho hi\n", 0o644)
	junk := file("junk.bin", "\x01\x02\x03 not a program", 0o755)
	badInterp := file("bad-interp.py", "#!/no/such/python3 -u\nprint(1)\n", 0o755)
	crlf := file("crlf.sh", "#!/bin/sh\r\necho hi\r\n", 0o755)
	cases := []struct {
		name string
		argv []string
		dir  string
		want string
	}{
		{"not in PATH", []string{"xk6-no-such-command"}, "", fmt.Sprintf(`program "xk6-no-such-command" was not found in PATH (%s)`, os.Getenv("PATH"))},
		{"missing program", []string{"/no/such/program"}, "", "program /no/such/program does not exist"},
		{"missing program relative to cwd", []string{"./missing.sh"}, dir, "program " + filepath.Join(dir, "missing.sh") + " does not exist"},
		{"program under a file", []string{plain + "/x"}, "", "program " + plain + "/x does not exist (a part of its path is a file)"},
		{"program is a directory", []string{dir}, "", "program " + dir + " is a directory"},
		{"not executable", []string{script}, "", "program " + script + " is not executable: permission denied"},
		{"exec format error", []string{junk}, "", "program " + junk + " is not a program this system can run (exec format error"},
		{"missing interpreter", []string{badInterp}, "", "program " + badInterp + " names an interpreter that does not exist on its #! line: /no/such/python3"},
		{"#! line with Windows line ends", []string{crlf}, "", "program " + crlf + ` names an interpreter that does not exist on its #! line: "/bin/sh\r" (the line ends with a carriage return: Windows line ends)`},
		{"cwd missing", []string{"sh", "-c", "true"}, "/no/such/dir", "working directory /no/such/dir does not exist"},
		{"cwd is a file", []string{"sh", "-c", "true"}, plain, "working directory " + plain + " is not a directory"},
		{"cwd under a file", []string{"sh", "-c", "true"}, plain + "/sub", "working directory " + plain + "/sub is not a directory (a part of its path is a file)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Start(Config{Argv: tc.argv, Dir: tc.dir})
			wantStartErr(t, err, tc.argv, tc.want)
		})
	}
}

func wantStartErr(t *testing.T, err error, argv []string, want string) {
	t.Helper()
	var e *taskerr.Error
	require.ErrorAs(t, err, &e, "Start: want a WorkerCrashed error")
	require.Equal(t, taskerr.WorkerCrashed, e.Code, "Start: %v, want a WorkerCrashed error", err)
	prefix := fmt.Sprintf("worker %v: cannot start: ", argv)
	assert.True(t, strings.HasPrefix(e.Message, prefix), "got  %s\nwant %s%s", e.Message, prefix, want)
	assert.Contains(t, e.Message, want)
	assert.NotContains(t, e.Message, "fork/exec", "Go's wording leaked")
}

// TestStartErrorRelativePath: a program found through a relative PATH entry
// is refused by Go (exec.ErrDot); the message says so and what to do.
func TestStartErrorRelativePath(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "xk6-rel-worker"), []byte("#!/bin/sh\n"), 0o755))
	t.Chdir(dir)
	t.Setenv("PATH", "bin")
	_, err := Start(Config{Argv: []string{"xk6-rel-worker"}})
	wantStartErr(t, err, []string{"xk6-rel-worker"}, `program "xk6-rel-worker" was found as bin/xk6-rel-worker, in a directory of PATH that is relative to the working directory`)
	t.Setenv("PATH", "")
	_, err = Start(Config{Argv: []string{"xk6-rel-worker"}})
	wantStartErr(t, err, []string{"xk6-rel-worker"}, `program "xk6-rel-worker" was not found: PATH is empty`)
}

// TestStartErrorCwdPermission: a working directory this process may not
// enter is named as such. Root may enter any directory, so as root the
// test binary starts the worker again as user nobody.
func TestStartErrorCwdPermission(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	locked := filepath.Join(base, "locked")
	require.NoError(t, os.Mkdir(locked, 0o700))
	want := "working directory " + locked + " cannot be entered: permission denied"
	if os.Geteuid() != 0 {
		require.NoError(t, os.Chmod(locked, 0o600))
		_, err := Start(Config{Argv: []string{"/bin/true"}, Dir: locked})
		wantStartErr(t, err, []string{"/bin/true"}, want)
		return
	}
	// A copy of the test binary that nobody can run, in directories nobody can reach.
	bin := filepath.Join(base, "ipc.test")
	self, err := os.ReadFile(os.Args[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, self, 0o755))
	// Only the directories the test made: the temporary directory's own
	// mode is not this test's to change.
	for d := base; strings.HasPrefix(d, filepath.Clean(os.TempDir())+string(filepath.Separator)); d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	cmd := exec.CommandContext(t.Context(), bin)
	cmd.Env = append(envWithout(WorkerEnv), startDirEnv+"="+locked, "GORACE=atexit_sleep_ms=0")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the helper as nobody: %s", out)
	msg := string(out)
	assert.Contains(t, msg, "worker [/bin/true]: cannot start: "+want)
	assert.NotContains(t, msg, "fork/exec", "Go's wording leaked")
}
