package reliability

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// commandsScript tries to make process pools of several programs in the
// init context and prints what each attempt gave, then runs a task on the
// built-in worker.
const commandsScript = `
import { ProcessPool } from 'k6/x/concurrency';
function attempt(name, opts) {
  try { new ProcessPool(Object.assign({ name, workers: 1 }, opts)); return 'constructed'; }
  catch (e) { return e.name + ': ' + e.message; }
}
const py = [__ENV.PYTHON, 'examples/python/worker.py'];
const results = {
  python: attempt('python', { command: py, cwd: __ENV.ROOT }),
  sh: attempt('sh', { command: ['sh', '-c', 'exit 0'] }),
  envSetting: attempt('env', { command: py, cwd: __ENV.ROOT, env: { XK6_CONCURRENCY_ALLOWED_COMMANDS: '' } }),
  missingCwd: attempt('cwd', { command: ['python3', 'worker.py'], cwd: '/no/such/dir' }),
  // A variable that makes an allowed wrapper run other code, and one an
  // operator may allow.
  bashEnv: attempt('bashenv', { command: [__ENV.WRAPPER], env: { BASH_ENV: '$(touch ' + __ENV.PWNED + ')' } }),
  pythonPath: attempt('pythonpath', { command: py, cwd: __ENV.ROOT, env: { PYTHONPATH: __ENV.ROOT } }),
  seen: __ENV.XK6_CONCURRENCY_ALLOWED_COMMANDS || '',
};
console.log('RESULTS ' + JSON.stringify(results));
const builtin = new ProcessPool({ name: 'builtin', workers: 1 });
export const options = { iterations: 1 };
export default function () { console.log('BUILTIN ' + builtin.runSync('cpu.primes', { limit: 10 })); }
`

var resultsLine = regexp.MustCompile(`RESULTS (\{.*?\})" `)

// TestAllowedCommands runs every mode of XK6_CONCURRENCY_ALLOWED_COMMANDS
// through the real k6 (issue 16, item 7): unset, any program; none, only the
// built-in worker; a list, exactly its programs. k6's -e, which a script's
// user controls, reaches __ENV but changes nothing, and a pool's env cannot
// set the setting for its workers. While the setting is there, a pool's env
// sets only the variables XK6_CONCURRENCY_ALLOWED_ENV names: BASH_ENV, which
// would make an allowed bash wrapper run any code, is refused. The built-in
// worker always runs.
func TestAllowedCommands(t *testing.T) {
	t.Parallel()
	python := k6test.Interpreter(t, "python3")
	root, err := k6test.ModuleRoot()
	require.NoError(t, err)
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	shReal, err := filepath.EvalSymlinks(sh)
	require.NoError(t, err)
	const setting, envSetting = "XK6_CONCURRENCY_ALLOWED_COMMANDS", "XK6_CONCURRENCY_ALLOWED_ENV"
	// An allowed wrapper, which BASH_ENV would make run any shell code.
	wrapper := filepath.Join(t.TempDir(), "worker-wrapper")
	require.NoError(t, os.WriteFile(wrapper, []byte("#!/bin/bash\nexec python3 \"$@\"\n"), 0o755))
	// onlyBuiltin is the refusal of command, quoted as the error quotes it.
	onlyBuiltin := func(command string) string {
		q, err := json.Marshal(command)
		require.NoError(t, err)
		return "NotAllowedError: new ProcessPool(): option \"command\" (" + string(q) + ") is not allowed: " +
			setting + " allows only the built-in worker"
	}
	envRefused := `InvalidArgumentError: new ProcessPool(): option "env" cannot set ` + setting
	cwdRefused := `InvalidArgumentError: new ProcessPool(): option "cwd" is not usable: working directory /no/such/dir does not exist`
	list := strings.Join([]string{"python3", "/usr/bin/env", wrapper}, string(os.PathListSeparator))
	envRefusal := func(name string) string {
		return `NotAllowedError: new ProcessPool(): option "env" cannot set ` + name + ": while " + setting + " is set"
	}
	// k6 copies its environment into __ENV (so a script may read the
	// setting), and -e overrides __ENV only.
	cases := []struct {
		name               string
		env                []string
		args               []string
		python             string
		sh                 string
		bashEnv, pythonEnv string
		seen               string
	}{
		{name: "unset", python: "constructed", sh: "constructed", bashEnv: "constructed", pythonEnv: "constructed"},
		{
			name: "none", env: []string{setting + "=none"}, python: onlyBuiltin(python), sh: onlyBuiltin("sh"),
			bashEnv: onlyBuiltin(wrapper), pythonEnv: onlyBuiltin(python), seen: "none",
		},
		{
			name: "a list", env: []string{setting + "=" + list}, python: "constructed",
			sh:      `NotAllowedError: new ProcessPool(): option "command" ("sh") runs ` + shReal + ", which " + setting + " does not allow (it allows ",
			bashEnv: envRefusal("BASH_ENV"), pythonEnv: envRefusal("PYTHONPATH") + ", a pool's env may set only the variables " + envSetting + " names (none)", seen: list,
		},
		{
			name: "a list, and PYTHONPATH allowed", env: []string{setting + "=" + list, envSetting + "=PYTHONPATH"}, python: "constructed",
			sh: "NotAllowedError", bashEnv: envRefusal("BASH_ENV") + ", a pool's env may set only the variables " + envSetting + " names (PYTHONPATH)",
			pythonEnv: "constructed", seen: list,
		},
		{
			name: "a list, and -e tries to allow BASH_ENV", env: []string{setting + "=" + list}, args: []string{"-e", envSetting + "=BASH_ENV"},
			python: "constructed", sh: "NotAllowedError", bashEnv: envRefusal("BASH_ENV"), pythonEnv: envRefusal("PYTHONPATH"), seen: list,
		},
		{
			name: "none, and -e tries to allow python", env: []string{setting + "=none"}, args: []string{"-e", setting + "=" + python},
			python: onlyBuiltin(python), sh: onlyBuiltin("sh"), bashEnv: onlyBuiltin(wrapper), pythonEnv: onlyBuiltin(python), seen: python,
		},
		{
			name: "unset, and -e says none", args: []string{"-e", setting + "=none"}, python: "constructed", sh: "constructed",
			bashEnv: "constructed", pythonEnv: "constructed", seen: "none",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			script := filepath.Join(dir, "script.js")
			require.NoError(t, os.WriteFile(script, []byte(commandsScript), 0o644))
			_, set := os.LookupEnv(setting)
			require.False(t, set, "the tests' own environment must not hold %s", setting)
			pwned := filepath.Join(dir, "pwned")
			args := append([]string{
				"run", "--quiet", "-e", "PYTHON=" + python, "-e", "ROOT=" + root,
				"-e", "WRAPPER=" + wrapper, "-e", "PWNED=" + pwned,
			}, tc.args...)
			k6 := k6test.StartEnv(t, k6test.Binary(t), tc.env, append(args, script)...)
			res := k6.Wait(time.Minute)
			require.Equal(t, 0, res.ExitCode, tail(res.Stderr))
			m := resultsLine.FindStringSubmatch(res.Stderr)
			require.NotNil(t, m, "no RESULTS line:\n%s", tail(res.Stderr))
			var got map[string]string
			raw, err := unquoteLog(m[1])
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal([]byte(raw), &got), raw)
			assert.Contains(t, got["python"], tc.python)
			assert.Contains(t, got["sh"], tc.sh)
			assert.Contains(t, got["envSetting"], envRefused)
			assert.Contains(t, got["missingCwd"], cwdRefused)
			assert.Contains(t, got["bashEnv"], tc.bashEnv)
			assert.Contains(t, got["pythonPath"], tc.pythonEnv)
			assert.NoFileExists(t, pwned, "BASH_ENV's code ran")
			assert.Equal(t, tc.seen, got["seen"], "__ENV")
			assert.Contains(t, res.Stderr, "BUILTIN 4", "the built-in worker runs")
		})
	}
}

// unquoteLog undoes the escaping of k6's logfmt output of a console.log line.
func unquoteLog(s string) (string, error) {
	var out string
	err := json.Unmarshal([]byte(`"`+s+`"`), &out)
	return out, err
}

// startScript starts workers that cannot start, each a different way, and
// prints the error of a task on each.
const startScript = `
import { ProcessPool } from 'k6/x/concurrency';
const pools = {
  banner: ['sh', '-c', 'echo "Worker 1.0 starting"; exec "$0" "$@"', __ENV.PYTHON, 'examples/python/worker.py'],
  missing: ['./no-such-worker.py'],
  notExecutable: ['examples/python/worker.py'],
};
for (const name of Object.keys(pools)) pools[name] = new ProcessPool({ name, workers: 1, command: pools[name], cwd: __ENV.ROOT });
export const options = { iterations: 1 };
export default function () {
  const got = {};
  for (const name of Object.keys(pools)) {
    try { got[name] = 'returned ' + pools[name].runSync('noop'); } catch (e) { got[name] = e.name + ': ' + e.message; }
  }
  console.log('RESULTS ' + JSON.stringify(got));
}
`

// TestWorkerStartMessages: through the real k6, a worker that prints a
// banner on stdout before its hello (issue 16, fault 6) is told so with the
// banner, and start failures name their real cause (issue 17, fault 4).
func TestWorkerStartMessages(t *testing.T) {
	t.Parallel()
	python := k6test.Interpreter(t, "python3")
	root, err := k6test.ModuleRoot()
	require.NoError(t, err)
	fi, err := os.Stat(filepath.Join(root, "examples/python/worker.py"))
	require.NoError(t, err)
	require.Zero(t, fi.Mode()&0o111, "examples/python/worker.py is not executable (the test relies on it)")
	res := k6test.Run(t, startScript, 2*time.Minute, "-e", "PYTHON="+python, "-e", "ROOT="+root)
	require.Equal(t, 0, res.ExitCode, tail(res.Stderr))
	m := resultsLine.FindStringSubmatch(res.Stderr)
	require.NotNil(t, m, "no RESULTS line:\n%s", tail(res.Stderr))
	raw, err := unquoteLog(m[1])
	require.NoError(t, err)
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(raw), &got), raw)
	for name, want := range map[string]string{
		"banner":        `broke the protocol: wrote text to its standard output, which is for protocol frames only (print to stderr instead): "Worker 1.0 starting\n"`,
		"missing":       "cannot start: program " + filepath.Join(root, "no-such-worker.py") + " does not exist",
		"notExecutable": "cannot start: program " + filepath.Join(root, "examples/python/worker.py") + " is not executable: permission denied",
	} {
		assert.Contains(t, got[name], "WorkerCrashedError: ", name)
		assert.Contains(t, got[name], want, name)
		assert.NotContains(t, got[name], "fork/exec", name)
		assert.NotContains(t, got[name], "frame of", name)
	}
}
