package concurrency

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/names"
	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/pool"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// poolOptions are a pool's options as a script gave them, parsed once into
// Go types. Two `new ThreadPool(...)` with the same name must have equal ones.
type poolOptions struct {
	Kind              pool.Kind         `json:"kind"`
	Name              string            `json:"name"`
	Workers           int               `json:"workers"`
	MaxQueue          int               `json:"maxQueue"`
	TaskTimeout       time.Duration     `json:"-"`
	MaxTasksPerWorker int               `json:"maxTasksPerWorker,omitempty"`
	Env               map[string]string `json:"env,omitempty"`
	StartTimeout      time.Duration     `json:"-"`
	Command           []string          `json:"command,omitempty"`
	Cwd               string            `json:"cwd,omitempty"`
	Concurrency       int               `json:"concurrency,omitempty"`
	Init              *pool.Init        `json:"init,omitempty"`
	// Module is the JavaScript module's absolute path once loaded (jsmodule.go).
	Module string    `json:"module,omitempty"`
	js     *jsModule `json:"-"`
}

// String shows the options as a script would write them, for error messages.
func (o poolOptions) String() string {
	type shown struct {
		poolOptions
		TaskTimeout  string `json:"taskTimeout,omitempty"`
		StartTimeout string `json:"startTimeout,omitempty"`
	}
	s := shown{poolOptions: o}
	if o.TaskTimeout > 0 {
		s.TaskTimeout = o.TaskTimeout.String()
	}
	if o.StartTimeout > 0 {
		s.StartTimeout = o.StartTimeout.String()
	}
	b, _ := json.Marshal(s) //nolint:errchkjson // strings and numbers
	return string(b)
}

func (o poolOptions) equal(other poolOptions) bool { return o.String() == other.String() }

//nolint:gochecknoglobals // constant tables
var (
	commonOptions  = []string{"name", "workers", "maxQueue", "taskTimeout", "init", "module"}
	processOptions = []string{"maxTasksPerWorker", "env", "startTimeout", "command", "cwd", "concurrency"}
	envName        = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// maxPathLen bounds cwd, and maxArgLen each command item and each env entry
// (NAME=value), as Linux does (PATH_MAX, MAX_ARG_STRLEN, counting the NUL):
// a longer one could never start a worker.
const (
	maxPathLen = 4096 - 1
	maxArgLen  = 128<<10 - 1
)

// parsePoolOptions reads the options object of `new ThreadPool(...)` or
// `new ProcessPool(...)`. Every error is InvalidArgument and names the option.
//
//nolint:cyclop // a case per option, until issue 12's schema (item 1) replaces it
func parsePoolOptions(kind pool.Kind, raw map[string]any, numCPU int) (poolOptions, error) {
	ctor := map[pool.Kind]string{pool.Thread: "ThreadPool", pool.Process: "ProcessPool"}[kind]
	o := poolOptions{Kind: kind, Workers: numCPU, MaxQueue: pool.DefaultMaxQueue}
	if kind == pool.Process {
		o.StartTimeout = pool.DefaultStartTimeout
		o.Concurrency = 1
	}
	known := commonOptions
	if kind == pool.Process {
		known = append(append([]string{}, commonOptions...), processOptions...)
	}
	bad := func(format string, a ...any) error {
		return taskerr.New(taskerr.InvalidArgument, "new "+ctor+"(): "+format, a...)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		v := raw[key]
		if kind == pool.Thread && slices.Contains(processOptions, key) {
			return o, bad("option %q is for ProcessPool only", key)
		}
		var err error
		switch key {
		case "name":
			o.Name, err = parseName(v)
		case "workers":
			o.Workers, err = intIn(v, 1, pool.MaxWorkers)
		case "maxQueue":
			o.MaxQueue, err = intIn(v, 0, pool.MaxQueueLimit)
		case "taskTimeout":
			o.TaskTimeout, err = workload.ParseDuration(v)
		case "module":
			o.Module, err = parseModulePath(v)
		case "startTimeout":
			o.StartTimeout, err = workload.ParseDuration(v)
			if err == nil && o.StartTimeout <= 0 {
				err = fmt.Errorf("must be a positive duration, got %s", taskerr.Describe(v))
			}
		case "maxTasksPerWorker":
			o.MaxTasksPerWorker, err = intIn(v, 0, math.MaxInt32)
		case "concurrency":
			o.Concurrency, err = intIn(v, 1, pool.MaxConcurrency)
		case "env":
			o.Env, err = parseEnv(v)
		case "command":
			o.Command, err = parseCommand(v)
		case "init":
			o.Init, err = parseInit(v)
		case "cwd":
			o.Cwd, err = parseCwd(v)
		default:
			return o, bad("unknown option %q (options: %s)", key, strings.Join(known, ", "))
		}
		if err != nil {
			return o, bad("option %q %s", key, err)
		}
	}
	// A module's exports are checked by pool.New, once the module is loaded.
	if o.Init != nil && o.Module == "" && (kind == pool.Thread || len(o.Command) == 0) {
		// This binary's workloads: checked here, so that the error names the
		// option as every other option's does (pool.New checks it again).
		if err := checkInit(o.Init); err != nil {
			return o, bad("option %q: %s", "init", err)
		}
	}
	if o.Name == "" {
		o.Name = fmt.Sprintf("%s-%d", kind, o.Workers)
	}
	return o, nil
}

// parseName reads the name option.
func parseName(v any) (string, error) {
	s, ok := v.(string)
	if !ok || s == "" || len(s) > 200 {
		return s, fmt.Errorf("must be a non-empty string of at most 200 characters, got %s", taskerr.Describe(v))
	}
	return s, nil
}

// parseCwd reads the cwd option: a directory, resolved as resolveCwd says.
func parseCwd(v any) (string, error) {
	s, ok := v.(string)
	if !ok || s == "" || len(s) > maxPathLen || strings.ContainsRune(s, 0) {
		return s, fmt.Errorf("must be a directory path of at most %d bytes, got %s", maxPathLen, taskerr.Describe(v))
	}
	return resolveCwd(s)
}

// checkInit checks an init's workload and params against this binary's
// workloads.
func checkInit(in *pool.Init) error {
	spec, err := workload.Default.Lookup(in.Workload)
	if err == nil {
		_, err = spec.Bind(in.Params)
	}
	if err != nil {
		return errors.New(taskerr.From(err).Message)
	}
	return nil
}

// config turns the options into the pool's configuration. The default worker
// is this very binary (k6 with the extension) in worker mode.
func (o poolOptions) config() (pool.Config, error) {
	maxQueue := o.MaxQueue
	cfg := pool.Config{
		Name: o.Name, Kind: o.Kind, Workers: o.Workers, MaxQueue: &maxQueue, TaskTimeout: o.TaskTimeout,
		Dir: o.Cwd, Env: o.Env, StartTimeout: o.StartTimeout, MaxTasksPerWorker: o.MaxTasksPerWorker,
		Concurrency: o.Concurrency, Command: o.Command, Init: o.Init,
	}
	if o.Kind == pool.Process {
		if err := operatorPolicy.check(o.Command, o.Cwd, o.Env); err != nil {
			return cfg, err
		}
	}
	if o.Kind == pool.Process && len(o.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return cfg, fmt.Errorf("cannot find the k6 binary to start workers from: %w", err)
		}
		cfg.Command = workerArgv(exe)
		cfg.SameRegistry = true
	}
	o.js.configure(&cfg)
	return cfg, nil
}

func intIn(v any, lo, hi int) (int, error) {
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, fmt.Errorf("must be an integer from %d to %d, got %s", lo, hi, taskerr.Describe(v))
	}
	return int(f), nil
}

func parseEnv(v any) (map[string]string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be an object of environment variables, got %s", taskerr.Describe(v))
	}
	env := make(map[string]string, len(m))
	for k, val := range m {
		if !envName.MatchString(k) || len(k) >= maxArgLen {
			return nil, fmt.Errorf("has %s, which is not an environment variable name", taskerr.Describe(k))
		}
		if k == ipc.WorkerEnv {
			return nil, fmt.Errorf("cannot set %s: the pool sets it to mark its workers", ipc.WorkerEnv)
		}
		switch x := val.(type) {
		case string:
			if strings.ContainsRune(x, 0) {
				return nil, fmt.Errorf("value of %s contains a NUL byte", k)
			}
			env[k] = x
		case float64:
			env[k] = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			env[k] = strconv.FormatBool(x)
		default:
			return nil, fmt.Errorf("value of %s must be a string, number or boolean, got %s", k, taskerr.Describe(val))
		}
		if len(k)+1+len(env[k]) > maxArgLen {
			return nil, fmt.Errorf("entry %s=... is %d bytes; an entry (name=value) may have at most %d",
				taskerr.Describe(k), len(k)+1+len(env[k]), maxArgLen)
		}
	}
	return env, nil
}

func parseCommand(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("must be a non-empty array of strings (argv, run without a shell), got %s",
			taskerr.Describe(v))
	}
	argv := make([]string, len(list))
	for i, a := range list {
		s, ok := a.(string)
		if !ok || (i == 0 && s == "") || len(s) > maxArgLen || strings.ContainsRune(s, 0) {
			return nil, fmt.Errorf("item %d must be a string of at most %d bytes (argv, run without a shell), got %s", i,
				maxArgLen, taskerr.Describe(a))
		}
		argv[i] = s
	}
	return argv, nil
}

// callOptions are the per-call options of run, runSync and map.
type callOptions struct {
	Timeout time.Duration
	// Tags are added to every sample of the call's tasks, as k6's
	// params.tags are to a request's.
	Tags map[string]string
	// Signal cancels the call's tasks when it aborts; nil is none.
	Signal *signalRef
}

// reservedTags are the tag keys a call may not set: the extension's own,
// which name the series a report reads, and the ones k6 keeps for itself.
//
//nolint:gochecknoglobals // a constant table
var reservedTags = []string{names.TagPool, names.TagPoolKind, names.TagWorkload, names.TagWorkers, "group", "scenario"}

func parseCallOptions(method string, raw map[string]any) (callOptions, error) {
	var o callOptions
	for k, v := range raw {
		bad := func(format string, a ...any) error {
			return taskerr.New(taskerr.InvalidArgument, "%s(): option %q "+format, append([]any{method, k}, a...)...)
		}
		switch k {
		case "timeout":
			d, err := workload.ParseDuration(v)
			if err != nil {
				return o, bad("%s", err)
			}
			o.Timeout = d
		case "tags":
			tags, err := parseTags(v)
			if err != nil {
				return o, bad("%s", err)
			}
			o.Tags = tags
		default:
			return o, taskerr.New(taskerr.InvalidArgument, "%s(): unknown option %q in opts (options: timeout, tags, signal)",
				method, k)
		}
	}
	return o, nil
}

// parseTags reads opts.tags: an object of string values, none of them under
// a reserved key.
func parseTags(v any) (map[string]string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be an object of string tag values, got %s", taskerr.Describe(v))
	}
	tags := make(map[string]string, len(m))
	for k, val := range m {
		if k == "" || slices.Contains(reservedTags, k) {
			return nil, fmt.Errorf("cannot set tag %s: the extension or k6 sets it (reserved: %s)",
				taskerr.Describe(k), strings.Join(reservedTags, ", "))
		}
		s, ok := val.(string)
		if !ok {
			return nil, fmt.Errorf("tag %s must be a string, got %s", taskerr.Describe(k), taskerr.Describe(val))
		}
		tags[k] = s
	}
	return tags, nil
}

// closeOptions are the options of close().
type closeOptions struct {
	// Drain lets queued and running tasks finish before the workers stop.
	Drain bool
	// Timeout bounds a drain; 0 is none.
	Timeout time.Duration
}

func parseCloseOptions(raw map[string]any) (closeOptions, error) {
	var o closeOptions
	for k, v := range raw {
		var err error
		switch k {
		case "drain":
			b, ok := v.(bool)
			if !ok {
				err = fmt.Errorf("must be true or false, got %s", taskerr.Describe(v))
			}
			o.Drain = b
		case "timeout":
			o.Timeout, err = workload.ParseDuration(v)
		default:
			return o, taskerr.New(taskerr.InvalidArgument, "close(): unknown option %q in opts (options: drain, timeout)", k)
		}
		if err != nil {
			return o, taskerr.New(taskerr.InvalidArgument, "close(): option %q %s", k, err)
		}
	}
	if o.Timeout > 0 && !o.Drain {
		return o, taskerr.New(taskerr.InvalidArgument, "close(): option \"timeout\" bounds a drain; set drain: true with it")
	}
	return o, nil
}

// parseInit reads the init option: { workload, params? }. The pool checks the
// workload and its params when it is made (pool.New), as it checks a task's.
func parseInit(v any) (*pool.Init, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be an object { workload, params? }, got %s", taskerr.Describe(v))
	}
	in := &pool.Init{}
	for k, x := range m {
		switch k {
		case "workload":
			name, ok := x.(string)
			if !ok || name == "" {
				return nil, fmt.Errorf("workload must be a workload's name such as 'cpu.primes', got %s", taskerr.Describe(x))
			}
			in.Workload = name
		case "params":
			params, ok := x.(map[string]any)
			if !ok && x != nil {
				return nil, fmt.Errorf("params must be an object, got %s", taskerr.Describe(x))
			}
			in.Params = params
		default:
			return nil, fmt.Errorf("has unknown key %q (keys: workload, params)", k)
		}
	}
	if in.Workload == "" {
		return nil, fmt.Errorf("must name its workload: { workload: 'name', params: {...} }")
	}
	return in, nil
}
