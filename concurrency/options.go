package concurrency

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/names"
	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/pool"
	"github.com/k6-concurrency/xk6-concurrency/schema"
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

// maxPathLen bounds cwd and module, and maxArgLen each command item and each
// env entry (NAME=value), as Linux does (PATH_MAX, MAX_ARG_STRLEN, counting
// the NUL): a longer one could never start a worker.
const (
	maxPathLen = 4096 - 1
	maxArgLen  = 128<<10 - 1
)

// The options of the pool constructors, declared once: parsePoolOptions binds
// them, and the bad-input and docs tests derive their cases from them. The
// limits of the numbers are pool's (pool.WorkersParam and the others).
//
//nolint:gochecknoglobals // constant declarations (a struct cannot be const)
var (
	commonParams = []schema.Param{
		{
			Name: "name", Type: schema.String, NonEmpty: true, MaxLen: 200,
			Doc: "The pool's name: pools are shared by name across VUs. Default: kind-workers.",
		},
		pool.WorkersParam, pool.MaxQueueParam, pool.TaskTimeoutParam,
		{
			Name: "init", Type: schema.Object, Doc: "A workload that runs once on every worker before its first task.",
			Want: "must be an object { workload, params? }",
			Fields: []schema.Param{
				{
					Name: "workload", Type: schema.String, NonEmpty: true, Required: true,
					Want: "must be a workload's name such as 'cpu.primes'",
				},
				{Name: "params", Type: schema.Object, Nullable: true},
			},
		},
		{
			Name: "module", Type: schema.String, NonEmpty: true, NoNUL: true, MaxLen: maxPathLen,
			Doc:  "A JavaScript module whose exports are the pool's workloads.",
			Want: "must be the path of a JavaScript module file, such as './tasks.js'",
		},
	}
	processParams = []schema.Param{
		pool.MaxTasksPerWorkerParam,
		{
			Name: "env", Type: schema.StringMap, Scalars: true, NoNUL: true, Check: checkEnv,
			Doc:  "Environment variables added to the worker processes'.",
			Want: "must be an object of environment variables",
		},
		pool.StartTimeoutParam,
		{
			Name: "command", Type: schema.Strings, NonEmpty: true, NoNUL: true, MaxLen: maxArgLen, Check: checkCommand,
			Doc:  "The worker's argv, run without a shell. Default: this k6 in worker mode.",
			Want: "must be a non-empty array of strings (argv, run without a shell)",
		},
		{
			Name: "cwd", Type: schema.String, NonEmpty: true, NoNUL: true, MaxLen: maxPathLen,
			Doc:  "The worker processes' working directory, relative to k6's.",
			Want: fmt.Sprintf("must be a directory path of at most %d bytes", maxPathLen),
		},
		pool.ConcurrencyParam,
	}
	// poolSchemas are the options of each constructor.
	poolSchemas = map[pool.Kind]*schema.Schema{
		pool.Thread:  {Name: "new ThreadPool()", Noun: "option", Params: commonParams},
		pool.Process: {Name: "new ProcessPool()", Noun: "option", Params: slices.Concat(commonParams, processParams)},
	}
	envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// parsePoolOptions reads the options object of `new ThreadPool(...)` or
// `new ProcessPool(...)`: bind, then copy, with the pool's defaults. Every
// error is InvalidArgument and names the option.
func parsePoolOptions(kind pool.Kind, raw map[string]any) (poolOptions, error) {
	sch := poolSchemas[kind]
	for _, p := range processParams {
		if _, ok := raw[p.Name]; ok && kind == pool.Thread {
			return poolOptions{}, taskerr.New(taskerr.InvalidArgument, "%s: option %q is for ProcessPool only", sch.Name, p.Name)
		}
	}
	args, err := sch.Bind(raw)
	if err != nil {
		return poolOptions{}, err
	}
	cfg, err := configOf(kind, args)
	if err != nil {
		return poolOptions{}, taskerr.New(taskerr.InvalidArgument, "%s: option \"cwd\" %s", sch.Name, err)
	}
	o := poolOptions{
		Kind: kind, Name: args.String("name"), Workers: cfg.Workers, MaxQueue: *cfg.MaxQueue,
		TaskTimeout: cfg.TaskTimeout, Module: args.String("module"),
	}
	if kind == pool.Process {
		pc := cfg.Process
		o.MaxTasksPerWorker, o.Env, o.Command, o.Cwd = pc.MaxTasksPerWorker, pc.Env, pc.Command, pc.Dir
		o.StartTimeout, o.Concurrency = cfg.StartTimeout, pc.Concurrency
	}
	if in := args.Object("init"); in.Has("workload") {
		o.Init = &pool.Init{Workload: in.String("workload"), Params: in.Map("params")}
	}
	// A module's exports are checked by pool.New, once the module is loaded.
	if o.Init != nil && o.Module == "" && (kind == pool.Thread || len(o.Command) == 0) {
		// This binary's workloads: checked here, so that the error names the
		// option as every other option's does (pool.New checks it again).
		if err := checkInit(o.Init); err != nil {
			return o, taskerr.New(taskerr.InvalidArgument, "%s: option %q: %s", sch.Name, "init", err)
		}
	}
	if o.Name == "" {
		o.Name = fmt.Sprintf("%s-%d", kind, o.Workers)
	}
	return o, nil
}

// configOf copies the bound options into a pool's configuration, with the
// pool's defaults, and resolves cwd (the only error).
func configOf(kind pool.Kind, args schema.Args) (pool.Config, error) {
	cfg := pool.Config{Kind: kind, Workers: int(args.Int("workers")), TaskTimeout: args.Duration("taskTimeout")}
	if args.Has("maxQueue") {
		q := int(args.Int("maxQueue"))
		cfg.MaxQueue = &q
	}
	if kind == pool.Process {
		cfg.Process.MaxTasksPerWorker = int(args.Int("maxTasksPerWorker"))
		cfg.Process.Env, cfg.Process.Command = args.StringMap("env"), args.Strings("command")
		cfg.StartTimeout, cfg.Process.Concurrency = args.Duration("startTimeout"), int(args.Int("concurrency"))
		if args.Has("cwd") {
			dir, err := resolveCwd(args.String("cwd"))
			if err != nil {
				return cfg, err
			}
			cfg.Process.Dir = dir
		}
	}
	cfg.SetDefaults()
	return cfg, nil
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
		StartTimeout: o.StartTimeout, Init: o.Init,
		Process: pool.ProcessConfig{
			Dir: o.Cwd, Env: o.Env, MaxTasksPerWorker: o.MaxTasksPerWorker, Concurrency: o.Concurrency, Command: o.Command,
		},
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
		cfg.Process.Command = workerArgv(exe)
		cfg.Process.SameRegistry = true
	}
	o.js.configure(&cfg)
	return cfg, nil
}

// checkEnv checks env's names, and the length of each entry.
func checkEnv(v any) error {
	env, _ := v.(map[string]string)
	names := slices.Sorted(maps.Keys(env))
	for _, k := range names {
		if !envName.MatchString(k) || len(k) >= maxArgLen {
			return fmt.Errorf("has %s, which is not an environment variable name", taskerr.Describe(k))
		}
		if k == ipc.WorkerEnv {
			return fmt.Errorf("cannot set %s: the pool sets it to mark its workers", ipc.WorkerEnv)
		}
		if n := len(k) + 1 + len(env[k]); n > maxArgLen {
			return fmt.Errorf("entry %s=... is %d bytes; an entry (name=value) may have at most %d",
				taskerr.Describe(k), n, maxArgLen)
		}
	}
	return nil
}

// checkCommand checks that command names a program.
func checkCommand(v any) error {
	if argv, _ := v.([]string); len(argv) > 0 && argv[0] == "" {
		return errors.New("item 0, the program, must not be empty")
	}
	return nil
}

// callOptions are the per-call options of run, runSync and map.
type callOptions struct {
	Timeout time.Duration
	// Tags are added to every sample of the call's tasks, as k6's
	// params.tags are to a request's.
	Tags map[string]string
	// Signal cancels the call's tasks when it aborts; nil is none.
	Signal *signalRef
	// ChunkSize is map's, mapSettled's and asCompleted's chunkSize: the most
	// tasks of the call that travel to a process worker together; 0 is
	// automatic (pool.AutoChunkSize).
	ChunkSize int
}

// reservedTags are the tag keys a call may not set: the extension's own,
// which name the series a report reads, and the ones k6 keeps for itself.
//
//nolint:gochecknoglobals // a constant table
var reservedTags = []string{names.TagPool, names.TagPoolKind, names.TagWorkload, names.TagWorkers, "group", "scenario"}

// The per-call options, declared once: of run and runSync, and of the methods
// that take a paramsArray (map, mapSettled, asCompleted).
//
//nolint:gochecknoglobals // constant declarations (a struct cannot be const)
var (
	callParams = []schema.Param{
		{
			Name: "timeout", Type: schema.Duration,
			Doc: "Bounds each task of the call once a worker took it, in place of taskTimeout; 0 is none.",
		},
		{
			Name: "tags", Type: schema.StringMap, Check: checkTags,
			Doc:  "Tags added to every sample of the call's tasks, as k6's params.tags.",
			Want: "must be an object of string tag values",
		},
		// Read by the JS face (parseSignal) before binding: an AbortSignal
		// is not JSON. Here it is null at most.
		{Name: "signal", Type: schema.Any, Nullable: true, Doc: "An AbortSignal that cancels the call's tasks."},
	}
	callSchema = schema.Schema{Noun: "option", Params: callParams}
	// mapParams are the options of the methods that take a paramsArray only.
	mapParams = []schema.Param{{
		Name: "chunkSize", Type: schema.Int, Min: 1, Max: pool.MaxQueueLimit,
		Doc: "The most tasks of the call that travel to a process worker together; by default " +
			"ceil(n / (4 × workers)), as multiprocessing.Pool.map's chunksize.",
	}}
	mapSchema   = schema.Schema{Noun: "option", Params: slices.Concat(callParams, mapParams)}
	closeSchema = schema.Schema{Name: "close()", Noun: "option", Params: []schema.Param{
		{Name: "drain", Type: schema.Bool, Doc: "Let queued and running tasks finish before the workers stop."},
		{Name: "timeout", Type: schema.Duration, Doc: "Bounds a drain; 0 is none."},
	}}
)

// callSchemaOf is the per-call options' schema of method.
func callSchemaOf(method string) *schema.Schema {
	s := callSchema
	if method == "map" || method == "mapSettled" || method == "asCompleted" {
		s = mapSchema
	}
	s.Name = method + "()"
	return &s
}

func parseCallOptions(method string, raw map[string]any) (callOptions, error) {
	args, err := callSchemaOf(method).Bind(raw)
	if err != nil {
		return callOptions{}, err
	}
	o := callOptions{Timeout: args.Duration("timeout"), Tags: args.StringMap("tags")}
	if o.Timeout == 0 && args.Has("timeout") {
		o.Timeout = pool.NoTimeout // timeout: 0 is none, whatever taskTimeout
	}
	if args.Has("chunkSize") {
		o.ChunkSize = int(args.Int("chunkSize"))
	}
	return o, nil
}

// checkTags refuses reserved tag keys, and the empty key.
func checkTags(v any) error {
	tags, _ := v.(map[string]string)
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if k == "" {
			return errors.New(`cannot set tag "": a tag needs a name`)
		}
		if slices.Contains(reservedTags, k) {
			return fmt.Errorf("cannot set tag %s: the extension or k6 sets it (reserved: %s)",
				taskerr.Describe(k), strings.Join(reservedTags, ", "))
		}
	}
	return nil
}

// closeOptions are the options of close().
type closeOptions struct {
	// Drain lets queued and running tasks finish before the workers stop.
	Drain bool
	// Timeout bounds a drain; 0 is none.
	Timeout time.Duration
}

func parseCloseOptions(raw map[string]any) (closeOptions, error) {
	args, err := closeSchema.Bind(raw)
	if err != nil {
		return closeOptions{}, err
	}
	o := closeOptions{Drain: args.Bool("drain"), Timeout: args.Duration("timeout")}
	if o.Timeout > 0 && !o.Drain {
		return o, taskerr.New(taskerr.InvalidArgument, "close(): option \"timeout\" bounds a drain; set drain: true with it")
	}
	return o, nil
}
