package concurrency

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/grafana/sobek"

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
	// ChunkSize is map's, mapSettled's and asCompleted's chunkSize: the most
	// tasks of the call that travel to a process worker together; 0 is
	// automatic (pool.AutoChunkSize).
	ChunkSize int
}

// mapLike says whether a method takes chunkSize.
func mapLike(method string) bool {
	return method == "map" || method == "mapSettled" || method == "asCompleted"
}

// reservedTags are the tag keys a call may not set: the extension's own,
// which name the series a report reads, and the ones k6 keeps for itself.
//
//nolint:gochecknoglobals // a constant table
var reservedTags = []string{tagPool, tagPoolKind, tagWorkload, tagWorkers, "group", "scenario"}

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
		case "chunkSize":
			if !mapLike(method) {
				return o, taskerr.New(taskerr.InvalidArgument,
					"%s(): unknown option %q in opts (options: timeout, tags, signal; chunkSize is map's)", method, k)
			}
			n, err := intIn(v, 1, pool.MaxQueueLimit)
			if err != nil {
				return o, bad("%s", err)
			}
			o.ChunkSize = n
		default:
			options := "timeout, tags, signal"
			if mapLike(method) {
				options += ", chunkSize"
			}
			return o, taskerr.New(taskerr.InvalidArgument, "%s(): unknown option %q in opts (options: %s)",
				method, k, options)
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

// maxValueNodes bounds how much of a JavaScript value is converted, so a huge
// object is a clear error rather than a long stall.
const maxValueNodes = 1 << 20

// maxValueDepth bounds how deeply a value a script passes may nest. What a
// worker sends back is not bound by it (only by encoding/json's 10,000):
// results are the workloads' own.
const maxValueDepth = 64

// exportJSON converts a JavaScript value into the JSON-shaped Go value pools
// carry: nil, bool, float64, string, []any and map[string]any. Anything else
// (functions, symbols, NaN, Infinity, cycles, Dates, Maps, class instances,
// strings with a lone surrogate) is an InvalidArgument error naming where in
// the value it sits. Undefined object properties are dropped, as
// JSON.stringify does.
func exportJSON(rt *sobek.Runtime, v sobek.Value, where string) (any, error) {
	c := converter{rt: rt}
	return c.convert(v, where)
}

// encodeJSON is exportJSON that also returns the value as JSON text, with
// object keys in the script's property order (JSON.stringify's order), which
// a Go map would lose. Process pools send this text; -0 is written as -0.0 so
// that workers whose JSON tells integers from floats (Python) keep its sign.
func encodeJSON(rt *sobek.Runtime, v sobek.Value, where string) (any, []byte, error) {
	c := converter{rt: rt, encode: true}
	value, err := c.convert(v, where)
	if err != nil {
		return nil, nil, err
	}
	return value, c.out, nil
}

type converter struct {
	rt          *sobek.Runtime
	path        []*sobek.Object // objects being converted, to catch cycles
	nodes       int
	objectProto *sobek.Object
	objectKeys  sobek.Callable
	encode      bool   // also write JSON text to out
	out         []byte // the JSON text, when encode
}

func (c *converter) fail(where, format string, a ...any) error {
	return taskerr.New(taskerr.InvalidArgument, "%s %s", where, fmt.Sprintf(format, a...))
}

func (c *converter) convert(v sobek.Value, where string) (any, error) {
	c.nodes++
	if c.nodes > maxValueNodes {
		return nil, c.fail(where, "makes the value too large (over %d items)", maxValueNodes)
	}
	if v == nil || sobek.IsUndefined(v) || sobek.IsNull(v) {
		c.write("null")
		return nil, nil
	}
	// Only primitives here: a Symbol exports as its description (a string),
	// and wrapper objects (new Boolean(false), Object(Symbol())) export as
	// their primitive type; both are rejected below.
	_, isObj := v.(*sobek.Object)
	_, isSym := v.(*sobek.Symbol)
	switch t := v.ExportType(); {
	case isObj || isSym:
	case t == typeBool:
		c.write(strconv.FormatBool(v.ToBoolean()))
		return v.ToBoolean(), nil
	case t == typeString:
		return c.str(v, where)
	case t == typeInt:
		return c.number(float64(v.ToInteger())), nil
	case t == typeFloat:
		f := v.ToFloat()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, c.fail(where, "is %s; only finite numbers can be passed", taskerr.Describe(f))
		}
		return c.number(f), nil
	}
	if _, isFn := sobek.AssertFunction(v); isFn {
		return nil, c.fail(where,
			"is a function; only JSON values (objects, arrays, strings, numbers, booleans, null) can be passed")
	}
	obj, ok := v.(*sobek.Object)
	if !ok {
		what := "a " + v.ExportType().String()
		switch v.(type) {
		case *sobek.Symbol:
			what = "a Symbol"
		default:
			if v.ExportType() == typeBigInt {
				what = "a BigInt"
			}
		}
		return nil, c.fail(where,
			"is %s; only JSON values (objects, arrays, strings, numbers, booleans, null) can be passed", what)
	}
	if slices.Contains(c.path, obj) {
		return nil, c.fail(where, "refers back to itself (a cycle); only JSON values can be passed")
	}
	if len(c.path) >= maxValueDepth {
		return nil, c.fail(where, "is nested more than %d levels deep", maxValueDepth)
	}
	c.path = append(c.path, obj)
	defer func() { c.path = c.path[:len(c.path)-1] }()

	switch obj.ClassName() {
	case "Array":
		return c.array(obj, where)
	case "Object":
		if !c.plain(obj) {
			return nil, c.fail(where, "is an instance of %s; only plain objects can be passed", c.constructorName(obj))
		}
		return c.object(obj, where)
	default:
		return nil, c.fail(where,
			"is a %s; only JSON values (objects, arrays, strings, numbers, booleans, null) can be passed", obj.ClassName())
	}
}

func (c *converter) array(obj *sobek.Object, where string) (any, error) {
	n := obj.Get("length").ToInteger()
	if n > int64(maxValueNodes-c.nodes) { // a sparse array may claim 2^32-1 items
		return nil, c.fail(where, "makes the value too large (over %d items)", maxValueNodes)
	}
	list := make([]any, 0, min(n, 1024))
	c.write("[")
	for i := range n {
		if i > 0 {
			c.write(",")
		}
		item, err := c.convert(obj.Get(strconv.FormatInt(i, 10)), fmt.Sprintf("%s[%d]", where, i))
		if err != nil {
			return nil, err
		}
		list = append(list, item)
	}
	c.write("]")
	return list, nil
}

func (c *converter) object(obj *sobek.Object, where string) (any, error) {
	keys := obj.Keys()
	if err := c.checkKeys(obj, keys, where); err != nil {
		return nil, err
	}
	m := make(map[string]any, len(keys))
	c.write("{")
	first := true
	for _, k := range keys {
		item := obj.Get(k)
		if item == nil || sobek.IsUndefined(item) {
			continue
		}
		if !first {
			c.write(",")
		}
		first = false
		c.quote(k)
		c.write(":")
		val, err := c.convert(item, where+"."+k)
		if err != nil {
			return nil, err
		}
		m[k] = val
	}
	c.write("}")
	return m, nil
}

// checkKeys refuses an object whose keys hold a lone surrogate: obj.Keys()
// has already turned it into U+FFFD, so only keys with U+FFFD are looked at
// again, as the JavaScript strings they are.
func (c *converter) checkKeys(obj *sobek.Object, keys []string, where string) error {
	if !slices.ContainsFunc(keys, func(k string) bool { return strings.ContainsRune(k, utf8.RuneError) }) {
		return nil
	}
	if c.objectKeys == nil {
		c.objectKeys, _ = sobek.AssertFunction(c.rt.Get("Object").ToObject(c.rt).Get("keys"))
	}
	list, err := c.objectKeys(sobek.Undefined(), obj)
	if err != nil {
		return c.fail(where, "has keys that cannot be read: %v", err)
	}
	arr := list.ToObject(c.rt)
	for i := range arr.Get("length").ToInteger() {
		key := arr.Get(strconv.FormatInt(i, 10))
		if at, unit := loneSurrogate(key, key.String()); at >= 0 {
			return c.fail(where,
				"has a key with a lone surrogate U+%04X at index %d (%s); only well-formed Unicode can be passed "+
					"(String.prototype.toWellFormed() replaces lone surrogates with U+FFFD)",
				unit, at, strconv.QuoteToASCII(key.String()))
		}
	}
	return nil
}

// str converts a string, refusing one with a lone surrogate: JSON text is
// UTF-8, which cannot carry it, and sobek would silently export it as U+FFFD.
func (c *converter) str(v sobek.Value, where string) (any, error) {
	s := v.String()
	if at, unit := loneSurrogate(v, s); at >= 0 {
		return nil, c.fail(where,
			"has a lone surrogate U+%04X at index %d; only well-formed Unicode can be passed (String.prototype.toWellFormed() "+
				"replaces lone surrogates with U+FFFD)", unit, at)
	}
	c.quote(s)
	return s, nil
}

// number writes the finite f as JSON, as encoding/json does (the shortest
// text that parses back to f), except -0 (see encodeJSON).
func (c *converter) number(f float64) float64 {
	if !c.encode {
		return f
	}
	if f == 0 && math.Signbit(f) {
		c.write("-0.0")
		return f
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	c.out = strconv.AppendFloat(c.out, f, format, -1, 64)
	if n := len(c.out); format == 'e' && n >= 4 && c.out[n-4] == 'e' && c.out[n-3] == '-' && c.out[n-2] == '0' {
		c.out[n-2], c.out = c.out[n-1], c.out[:n-1] // e-07 to e-7, as encoding/json writes it
	}
	return f
}

func (c *converter) quote(s string) {
	if c.encode {
		b, _ := json.Marshal(s) //nolint:errchkjson // a string; valid UTF-8: sobek's strings export so
		c.out = append(c.out, b...)
	}
}

func (c *converter) write(s string) {
	if c.encode {
		c.out = append(c.out, s...)
	}
}

// loneSurrogate returns the UTF-16 index and the code unit of the first
// unpaired surrogate in the JavaScript string v, whose Go form is goForm, or
// -1. Only a string whose Go form holds U+FFFD can have one (that is what
// sobek exports it as), so the usual string costs one scan of its Go form.
func loneSurrogate(v sobek.Value, goForm string) (int, uint16) {
	s, ok := v.(sobek.String)
	if !ok || !strings.ContainsRune(goForm, utf8.RuneError) {
		return -1, 0
	}
	n := s.Length()
	for i := 0; i < n; i++ {
		switch u := s.CharAt(i); {
		case utf16.IsSurrogate(rune(u)) && u < 0xDC00 && i+1 < n && s.CharAt(i+1) >= 0xDC00 && s.CharAt(i+1) < 0xE000:
			i++ // a pair
		case utf16.IsSurrogate(rune(u)):
			return i, u
		}
	}
	return -1, 0
}

// plain reports whether obj is an object literal (or has a null prototype),
// rather than an instance of a class.
func (c *converter) plain(obj *sobek.Object) bool {
	proto := obj.Prototype()
	if proto == nil {
		return true
	}
	if c.objectProto == nil {
		c.objectProto = c.rt.Get("Object").ToObject(c.rt).Get("prototype").ToObject(c.rt)
	}
	return proto == c.objectProto
}

func (c *converter) constructorName(obj *sobek.Object) string {
	if ctor, ok := obj.Get("constructor").(*sobek.Object); ok {
		if name := ctor.Get("name"); name != nil && name.String() != "" {
			return name.String()
		}
	}
	return "a class"
}

// Reflect types sobek reports from Value.ExportType for primitives.
//
//nolint:gochecknoglobals // constant reflect.Types
var (
	typeBool   = reflect.TypeFor[bool]()
	typeString = reflect.TypeFor[string]()
	typeInt    = reflect.TypeFor[int64]()
	typeFloat  = reflect.TypeFor[float64]()
	typeBigInt = reflect.TypeFor[*big.Int]()
)

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
