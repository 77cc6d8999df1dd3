package concurrency

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// AllowedCommandsEnv is the operator's setting, in k6's process environment,
// of which programs a ProcessPool's `command` may start: unset, any; "none"
// (or empty), only the built-in worker (this k6 binary, when `command` is
// left out); otherwise a list of programs, separated as PATH is (":" on
// unix, ";" on Windows), each a path or a name looked up in k6's PATH.
//
// It is read once, when k6 starts. A script cannot change it: k6 gives
// scripts no way to set its process environment (`-e` sets __ENV only), and
// a pool's `env` option may not set it for its workers.
const AllowedCommandsEnv = "XK6_CONCURRENCY_ALLOWED_COMMANDS"

// AllowedEnvEnv is the operator's companion setting: while
// AllowedCommandsEnv is set, a ProcessPool's `env` option may set only the
// variables it names (separated as PATH is; none when it is unset). Names
// are matched exactly.
//
// Variables change what an allowed program runs: BASH_ENV and ENV make a
// shell wrapper run code, NODE_OPTIONS a node, PATH the interpreter of a
// `#!/usr/bin/env` line and whatever a wrapper starts by name, LD_PRELOAD any
// dynamically linked program. There are too many to refuse one by one, so
// the operator lists those scripts may set. Read once, when k6 starts.
const AllowedEnvEnv = "XK6_CONCURRENCY_ALLOWED_ENV"

// commandPolicy is the operator's setting, parsed.
type commandPolicy struct {
	set     bool              // the setting is there: commands and env are checked
	allowed map[string]string // real path of each allowed program -> the entry that named it
	missing []string          // entries that name no program
	env     []string          // the variables a pool's env may set (AllowedEnvEnv), sorted
}

// operatorPolicy is the setting of this k6 process, read as it starts.
//
//nolint:gochecknoglobals // the operator's setting, read once as k6 starts
var operatorPolicy = parsePolicy(os.LookupEnv(AllowedCommandsEnv)).allowingEnv(os.Getenv(AllowedEnvEnv))

// parsePolicy reads the setting's value; set is whether it is there at all.
func parsePolicy(value string, set bool) commandPolicy {
	p := commandPolicy{set: set, allowed: map[string]string{}}
	if !set || strings.TrimSpace(value) == "none" {
		return p
	}
	for _, entry := range filepath.SplitList(value) {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		resolved, err := realProgram(entry, "")
		if err != nil {
			p.missing = append(p.missing, entry)
			continue
		}
		p.allowed[resolved] = entry
	}
	return p
}

// allowingEnv returns p with the variables of list (AllowedEnvEnv's value)
// allowed in a pool's env.
func (p commandPolicy) allowingEnv(list string) commandPolicy {
	p.env = nil
	for _, name := range filepath.SplitList(list) {
		if name = strings.TrimSpace(name); name != "" && !slices.Contains(p.env, name) {
			p.env = append(p.env, name)
		}
	}
	slices.Sort(p.env)
	return p
}

// check refuses, with a NotAllowed error naming the setting, a command the
// setting does not allow, resolved as the worker's start will resolve it:
// a name through k6's PATH (never the pool's `env`), a relative path from
// the worker's working directory cwd, then every symbolic link, so that
// neither `cwd`, a relative path, nor a link can reach another program.
// An empty command is the built-in worker, always allowed. While the
// setting is there, env may set only the variables AllowedEnvEnv names.
func (p commandPolicy) check(command []string, cwd string, env map[string]string) error {
	if _, ok := env[AllowedCommandsEnv]; ok {
		return taskerr.New(taskerr.InvalidArgument,
			"new ProcessPool(): option \"env\" cannot set %s: it is the operator's setting of which programs may be started",
			AllowedCommandsEnv)
	}
	if _, ok := env[ipc.WorkerIDEnv]; ok {
		return taskerr.New(taskerr.InvalidArgument,
			"new ProcessPool(): option \"env\" cannot set %s: the pool sets it to find each worker's descendants",
			ipc.WorkerIDEnv)
	}
	if !p.set {
		return nil
	}
	if len(command) > 0 {
		if err := p.checkCommand(command, cwd); err != nil {
			return err
		}
	}
	return p.checkEnv(env)
}

// checkEnv refuses the first variable of env (by name) that AllowedEnvEnv
// does not name.
func (p commandPolicy) checkEnv(env map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if !slices.Contains(p.env, name) {
			allowed := "none"
			if len(p.env) > 0 {
				allowed = strings.Join(p.env, ", ")
			}
			return taskerr.New(taskerr.NotAllowed,
				"new ProcessPool(): option \"env\" cannot set %s: while %s is set, "+
					"a pool's env may set only the variables %s names (%s)",
				name, AllowedCommandsEnv, AllowedEnvEnv, allowed)
		}
	}
	return nil
}

// checkCommand refuses a command the setting does not allow: see check.
func (p commandPolicy) checkCommand(command []string, cwd string) error {
	if len(p.allowed) == 0 {
		return taskerr.New(taskerr.NotAllowed,
			"new ProcessPool(): option \"command\" (%q) is not allowed: "+
				"%s allows only the built-in worker (leave \"command\" out)%s",
			command[0], AllowedCommandsEnv, p.missingNote())
	}
	resolved, err := realProgram(command[0], cwd)
	if err != nil {
		return taskerr.New(taskerr.NotAllowed,
			"new ProcessPool(): option \"command\" (%q) is not allowed: %v, so it is not one of the programs %s allows (%s)",
			command[0], err, AllowedCommandsEnv, p.list())
	}
	if _, ok := p.allowed[resolved]; !ok {
		return taskerr.New(taskerr.NotAllowed,
			"new ProcessPool(): option \"command\" (%q) runs %s, which %s does not allow (it allows %s)",
			command[0], resolved, AllowedCommandsEnv, p.list())
	}
	return nil
}

// list names the allowed programs for messages.
func (p commandPolicy) list() string {
	var out []string
	for resolved, entry := range p.allowed {
		if entry == resolved {
			out = append(out, resolved)
		} else {
			out = append(out, fmt.Sprintf("%s (%s)", resolved, entry))
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ") + p.missingNote()
}

func (p commandPolicy) missingNote() string {
	if len(p.missing) == 0 {
		return ""
	}
	return fmt.Sprintf("; it also names %s, which name no program", strings.Join(p.missing, ", "))
}

// programPath is where exec would look for name started in cwd: in PATH for
// a bare name, else relative to cwd ("" is k6's working directory).
func programPath(name, cwd string) (string, error) {
	if !strings.ContainsRune(name, filepath.Separator) && !strings.ContainsRune(name, '/') {
		lp, err := exec.LookPath(name) // k6's PATH, as exec.Command uses
		if errors.Is(err, exec.ErrDot) {
			return "", fmt.Errorf("program %q is found only in a directory of PATH relative to the working directory", name)
		} else if err != nil {
			return "", fmt.Errorf("program %q is not found in PATH", name)
		}
		return lp, nil
	}
	if filepath.IsAbs(name) {
		return name, nil
	}
	base := cwd
	if base == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("k6's working directory is unknown: %w", err)
		}
		base = wd
	}
	return filepath.Join(base, name), nil
}

// realProgram is the file exec would run for name started in cwd ("" is
// k6's working directory), with every symbolic link resolved.
func realProgram(name, cwd string) (string, error) {
	path, err := programPath(name, cwd)
	if err != nil {
		return "", err
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("program %s does not exist", path)
	}
	resolved, err = filepath.Abs(resolved)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(resolved); err != nil || fi.IsDir() {
		return "", fmt.Errorf("program %s is not a file", resolved)
	}
	return resolved, nil
}

// resolveCwd makes the `cwd` option absolute, from k6's working directory,
// and checks that it is a directory a worker can start in.
func resolveCwd(cwd string) (string, error) {
	abs, err := filepath.Abs(cwd)
	if err != nil {
		return "", fmt.Errorf("cannot be resolved: %w", err)
	}
	if err := ipc.CheckDir(abs); err != nil {
		if abs != filepath.Clean(cwd) {
			wd, _ := os.Getwd()
			return "", fmt.Errorf("is not usable: %w (resolved from k6's working directory %s)", err, wd)
		}
		return "", fmt.Errorf("is not usable: %w", err)
	}
	return abs, nil
}
