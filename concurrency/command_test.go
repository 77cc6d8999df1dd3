package concurrency

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// policyDir makes the files of the policy tests: an allowed script, a link
// to it, a link to sh, and a directory "other" holding a fake "python3".
func policyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(p, content string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o755))
	}
	write(filepath.Join(dir, "worker.sh"), "#!/bin/sh\n")
	write(filepath.Join(dir, "other", "python3"), "#!/bin/sh\necho fake\n")
	require.NoError(t, os.Symlink(filepath.Join(dir, "worker.sh"), filepath.Join(dir, "to-worker")))
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	require.NoError(t, os.Symlink(sh, filepath.Join(dir, "to-sh")))
	return dir
}

// TestCommandPolicy tries every mode of XK6_CONCURRENCY_ALLOWED_COMMANDS,
// and every way around a list: names through PATH, relative paths from
// cwd, symbolic links, the pool's env PATH, env setting the setting, and
// env variables that change what an allowed program runs
// (XK6_CONCURRENCY_ALLOWED_ENV).
func TestCommandPolicy(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	require.NoError(t, err)
	realPython, err := filepath.EvalSymlinks(python)
	require.NoError(t, err)
	shReal, err := filepath.EvalSymlinks(mustLookPath(t, "sh"))
	require.NoError(t, err)
	dir := policyDir(t)
	list := strings.Join([]string{"python3", filepath.Join(dir, "worker.sh"), "/no/such/program"}, string(os.PathListSeparator))
	cases := []struct {
		name, value string
		set         bool
		allowEnv    string // XK6_CONCURRENCY_ALLOWED_ENV
		command     []string
		cwd         string
		env         map[string]string
		code        taskerr.Code // "" allowed
		want        string
	}{
		{name: "unset: any program", command: []string{"/no/such/program"}},
		{name: "unset: the built-in worker"},
		{name: "none: the built-in worker", value: "none", set: true},
		{
			name: "none: a program", value: "none", set: true, command: []string{"sh"}, code: taskerr.NotAllowed,
			want: `option "command" ("sh") is not allowed: XK6_CONCURRENCY_ALLOWED_COMMANDS allows only the built-in worker (leave "command" out)`,
		},
		{name: "empty is none", value: " ", set: true, command: []string{python}, code: taskerr.NotAllowed, want: "allows only the built-in worker"},
		{name: "list: a name in it", value: list, set: true, command: []string{"python3", "worker.py"}},
		{name: "list: the same program by path", value: list, set: true, command: []string{realPython}},
		{name: "list: a path in it", value: list, set: true, command: []string{filepath.Join(dir, "worker.sh")}},
		{name: "list: relative from cwd", value: list, set: true, command: []string{"./worker.sh"}, cwd: dir},
		{name: "list: a link to an allowed program", value: list, set: true, command: []string{filepath.Join(dir, "to-worker")}},
		{
			name: "list: another program", value: list, set: true, command: []string{"sh"}, code: taskerr.NotAllowed,
			want: fmt.Sprintf(`option "command" ("sh") runs %s, which XK6_CONCURRENCY_ALLOWED_COMMANDS does not allow (it allows `, shReal),
		},
		{
			name: "list: a link to another program", value: list, set: true, command: []string{filepath.Join(dir, "to-sh")}, code: taskerr.NotAllowed,
			want: "runs " + shReal + ", which",
		},
		{
			name: "list: an allowed name made relative by cwd", value: list, set: true, command: []string{"./python3"}, cwd: filepath.Join(dir, "other"),
			code: taskerr.NotAllowed, want: "runs " + filepath.Join(dir, "other", "python3") + ", which",
		},
		{
			name: "list: a relative path to a same-named program", value: list, set: true, command: []string{"other/python3"}, cwd: dir,
			code: taskerr.NotAllowed, want: "runs " + filepath.Join(dir, "other", "python3") + ", which",
		},
		{
			name: "list: dot-dot out of cwd", value: list, set: true, command: []string{"../other/python3"}, cwd: filepath.Join(dir, "other"),
			code: taskerr.NotAllowed, want: "runs " + filepath.Join(dir, "other", "python3") + ", which",
		},
		{
			name: "list: env PATH does not redirect the lookup", value: list, set: true, allowEnv: "PATH", command: []string{"python3"},
			env: map[string]string{"PATH": filepath.Join(dir, "other")},
		},
		// A variable can make an allowed program run other code (BASH_ENV
		// in a shell wrapper, NODE_OPTIONS, PATH for a #! interpreter,
		// LD_PRELOAD): env sets only those the operator allows.
		{name: "unset: env sets anything", command: []string{"sh"}, env: map[string]string{"BASH_ENV": "$(touch pwned)"}},
		{
			name: "list: env a variable not allowed", value: list, set: true, command: []string{filepath.Join(dir, "worker.sh")},
			env: map[string]string{"BASH_ENV": "$(touch pwned)"}, code: taskerr.NotAllowed,
			want: `option "env" cannot set BASH_ENV: while XK6_CONCURRENCY_ALLOWED_COMMANDS is set, a pool's env may set only the variables XK6_CONCURRENCY_ALLOWED_ENV names (none)`,
		},
		{
			name: "list: env PATH not allowed", value: list, set: true, command: []string{"python3"},
			env: map[string]string{"PATH": filepath.Join(dir, "other")}, code: taskerr.NotAllowed, want: `option "env" cannot set PATH:`,
		},
		{
			name: "none: the built-in worker's env too", value: "none", set: true, env: map[string]string{"LD_PRELOAD": "/tmp/x.so"},
			code: taskerr.NotAllowed, want: `option "env" cannot set LD_PRELOAD:`,
		},
		{
			name: "list: allowed variables", value: list, set: true, allowEnv: " PYTHONPATH" + string(os.PathListSeparator) + "LANG ",
			command: []string{"python3"}, env: map[string]string{"PYTHONPATH": "/srv/lib", "LANG": "C"},
		},
		{
			name: "list: an allowed variable beside one that is not", value: list, set: true, allowEnv: "PYTHONPATH", command: []string{"python3"},
			env: map[string]string{"PYTHONPATH": "/srv/lib", "NODE_OPTIONS": "--require=/tmp/x.js"}, code: taskerr.NotAllowed,
			want: `option "env" cannot set NODE_OPTIONS: while XK6_CONCURRENCY_ALLOWED_COMMANDS is set, a pool's env may set only the variables XK6_CONCURRENCY_ALLOWED_ENV names (PYTHONPATH)`,
		},
		{
			name: "list: names match exactly", value: list, set: true, allowEnv: "PATH", command: []string{"python3"},
			env: map[string]string{"Path": "/tmp"}, code: taskerr.NotAllowed, want: `option "env" cannot set Path:`,
		},
		{
			name: "list: a command refused before its env", value: list, set: true, command: []string{"sh"},
			env: map[string]string{"BASH_ENV": "x"}, code: taskerr.NotAllowed, want: `option "command" ("sh") runs`,
		},
		{
			name: "list: a missing program", value: list, set: true, command: []string{filepath.Join(dir, "nope")}, code: taskerr.NotAllowed,
			want: "program " + filepath.Join(dir, "nope") + " does not exist, so it is not one of the programs XK6_CONCURRENCY_ALLOWED_COMMANDS allows",
		},
		{
			name: "list: entries that name nothing are named", value: list, set: true, command: []string{"sh"}, code: taskerr.NotAllowed,
			want: "; it also names /no/such/program, which name no program",
		},
		{
			name: "env cannot set the setting", value: list, set: true, env: map[string]string{AllowedCommandsEnv: ""},
			code: taskerr.InvalidArgument, want: `option "env" cannot set XK6_CONCURRENCY_ALLOWED_COMMANDS`,
		},
		{
			name: "env cannot set the setting, even unset", env: map[string]string{AllowedCommandsEnv: "none"},
			code: taskerr.InvalidArgument, want: `option "env" cannot set XK6_CONCURRENCY_ALLOWED_COMMANDS`,
		},
		{
			name: "env cannot set the worker id", env: map[string]string{ipc.WorkerIDEnv: "1.1"},
			code: taskerr.InvalidArgument, want: `option "env" cannot set XK6_CONCURRENCY_WORKER_ID: the pool sets it`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := parsePolicy(tc.value, tc.set).allowingEnv(tc.allowEnv).check(tc.command, tc.cwd, tc.env)
			if tc.code == "" {
				assert.NoError(t, err)
				return
			}
			var e *taskerr.Error
			require.ErrorAs(t, err, &e, "err %v", err)
			assert.Equal(t, tc.code, e.Code, e.Message)
			assert.Contains(t, e.Message, tc.want)
		})
	}
}

// TestEnvPathDoesNotRedirectStart: the worker's program is looked up in
// k6's PATH, never in the PATH the pool's env gives the worker, so what the
// policy checked is what starts.
func TestEnvPathDoesNotRedirectStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "xk6-env-path-worker"), []byte("#!/bin/sh\n"), 0o755))
	_, err := ipc.Start(ipc.Config{Argv: []string{"xk6-env-path-worker"}, Env: []string{"PATH=" + dir}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `program "xk6-env-path-worker" was not found in PATH (`+os.Getenv("PATH")+`)`)
}

// TestCommandPolicyThroughJS: a refused command throws NotAllowedError from
// the constructor, naming the setting; the built-in worker still runs.
//
//nolint:paralleltest // swaps the process-wide operatorPolicy
func TestCommandPolicyThroughJS(t *testing.T) {
	saved := operatorPolicy
	operatorPolicy = parsePolicy("none", true)
	t.Cleanup(func() { operatorPolicy = saved })
	_, vu := newRootVU(t)
	vu.init(`
		globalThis.refused = '';
		try { new concurrency.ProcessPool({ name: 'py', workers: 1, command: ['python3', 'worker.py'] }); }
		catch (e) { refused = e.name + ': ' + e.message; }
		const builtin = new concurrency.ProcessPool({ name: 'builtin', workers: 1 });
	`)
	assert.Equal(t, `NotAllowedError: new ProcessPool(): option "command" ("python3") is not allowed: XK6_CONCURRENCY_ALLOWED_COMMANDS allows only the built-in worker (leave "command" out)`,
		vu.rt.VU.Runtime().Get("refused").String())
	vu.toVU()
	got := vu.run(`globalThis.result = builtin.runSync('cpu.primes', { limit: 10 });`)
	assert.EqualValues(t, 4, got.Export())
}

// TestCwdIsCheckedAtConstruction is issue 17's input: a cwd that does not
// exist throws at construction, naming the resolved directory, instead of a
// start failure blaming the program.
func TestCwdIsCheckedAtConstruction(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	cases := []struct{ cwd, want string }{
		{"/no/such/dir", `new ProcessPool(): option "cwd" is not usable: working directory /no/such/dir does not exist`},
		{"no/such/dir", fmt.Sprintf(`option "cwd" is not usable: working directory %s does not exist (resolved from k6's working directory %s)`,
			filepath.Join(wd, "no/such/dir"), wd)},
		{file, "working directory " + file + " is not a directory"},
	}
	for _, tc := range cases {
		_, err := parsePoolOptions("process", map[string]any{"cwd": tc.cwd, "command": []any{"python3", "worker.py"}})
		var e *taskerr.Error
		require.ErrorAs(t, err, &e, "cwd %q: %v", tc.cwd, err)
		assert.Equal(t, taskerr.InvalidArgument, e.Code)
		assert.Contains(t, e.Message, tc.want)
	}
	o, err := parsePoolOptions("process", map[string]any{"cwd": "."})
	require.NoError(t, err)
	assert.Equal(t, wd, o.Cwd, "a relative cwd is resolved from k6's working directory")
}

func mustLookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	require.NoError(t, err)
	return p
}
