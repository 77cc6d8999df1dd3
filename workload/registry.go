// Package workload is the catalogue of tasks that pools run: a registry that
// any Go code linked into the binary can add to, the built-in CPU-bound and
// I/O-bound workloads, and the binding of their params (declared with package
// schema, whose Param, Type and Args it re-exports). It knows nothing of
// k6 or of pools: the same registry serves the thread pool in the k6 process
// and the worker processes of a process pool.
package workload

import (
	"context"
	"fmt"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/k6-concurrency/xk6-concurrency/schema"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// Kind says what bounds a workload: the CPU or waiting on I/O.
type Kind string

// The kinds of workload.
const (
	CPU Kind = "cpu"
	IO  Kind = "io"
	// JS is an export of a pool's JavaScript module (package jsworker).
	JS Kind = "js"
)

// Func runs one task with validated arguments. It must return soon after ctx
// is done, with ctx.Err() or an error wrapping it. The value must be
// JSON-encodable (numbers, strings, booleans, nil, slices and string-keyed maps
// of those), because process pools carry it across a pipe.
type Func func(ctx context.Context, args Args) (any, error)

// Spec is a registered workload: its name, kind, params and function.
type Spec struct {
	Name        string
	Kind        Kind
	Description string
	// Params are the accepted params; Bind rejects any other key.
	Params []Param
	// Raw, when true, skips validation: Bind hands the caller's params to Func
	// untouched (Args.Raw) and Func validates them itself.
	Raw bool
	Fn  Func

	// schema is Params as bound, made at registration.
	schema *schema.Schema
}

// Option adds to a Spec at registration.
type Option func(*Spec)

// WithDescription sets the one-line description shown in the catalogue.
func WithDescription(text string) Option { return func(s *Spec) { s.Description = text } }

// Describe is WithDescription, under the name it had first.
//
// Deprecated: use WithDescription, which matches WithParams.
func Describe(text string) Option { return WithDescription(text) }

// WithParams declares the params a workload accepts.
func WithParams(params ...Param) Option {
	return func(s *Spec) { s.Params = append(s.Params, params...) }
}

// RawParams makes the workload take free-form params that it validates itself.
func RawParams() Option { return func(s *Spec) { s.Raw = true } }

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// Registry is a set of workloads by name; it is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	specs map[string]*Spec
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{specs: make(map[string]*Spec)} }

// Default is the registry the built-in workloads are in, and the one pools and
// worker processes use.
//
//nolint:gochecknoglobals // the process's registry, where workloads register from init
var Default = NewRegistry()

// Register adds a workload to Default. Like k6's modules.Register it is meant
// for init() functions and panics on a bad or duplicate registration.
func Register(name string, kind Kind, fn Func, opts ...Option) {
	if err := Default.Add(name, kind, fn, opts...); err != nil {
		panic(err)
	}
}

// Add registers a workload, or says why it cannot.
func (r *Registry) Add(name string, kind Kind, fn Func, opts ...Option) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("workload name %q: use 1 to 128 letters, digits, '.', '_', ':' or '-'", name)
	}
	if kind != CPU && kind != IO && kind != JS {
		return fmt.Errorf("workload %s: kind must be %q, %q or %q, got %q", name, CPU, IO, JS, kind)
	}
	if fn == nil {
		return fmt.Errorf("workload %s: nil function", name)
	}
	spec := &Spec{Name: name, Kind: kind, Fn: fn}
	for _, o := range opts {
		o(spec)
	}
	if err := spec.checkParams(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.specs[name]; dup {
		return fmt.Errorf("workload %s is already registered", name)
	}
	r.specs[name] = spec
	return nil
}

// Lookup returns the named workload, or an UnknownWorkload error that lists
// what there is.
func (r *Registry) Lookup(name string) (*Spec, error) {
	r.mu.RLock()
	spec, ok := r.specs[name]
	r.mu.RUnlock()
	if ok {
		return spec, nil
	}
	return nil, taskerr.New(taskerr.UnknownWorkload, "unknown workload %q (available: %s)",
		name, strings.Join(r.Names(), ", "))
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.specs))
	for n := range r.specs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// List returns every workload, sorted by name.
func (r *Registry) List() []*Spec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	specs := make([]*Spec, 0, len(r.specs))
	for _, s := range r.specs {
		specs = append(specs, s)
	}
	slices.SortFunc(specs, func(a, b *Spec) int { return strings.Compare(a.Name, b.Name) })
	return specs
}

// Run calls the workload. A panic becomes a Workload error and a plain error
// is classified (taskerr.CodeOf) and prefixed with the workload's name, so
// whoever called Run gets a *taskerr.Error.
func (s *Spec) Run(ctx context.Context, args Args) (value any, err error) {
	defer func() {
		if p := recover(); p != nil {
			value, err = nil, taskerr.New(taskerr.Workload, "%s panicked: %s\n%s", s.Name, panicText(p), debug.Stack())
		}
	}()
	value, err = s.Fn(ctx, args)
	if err != nil {
		return nil, s.classify(err)
	}
	return value, nil
}

// panicText renders a panic's value. fmt re-panics when the value's Error or
// String method panics while it renders that method's panic, so such a
// value is named by its type.
func panicText(p any) (text string) {
	defer func() {
		if recover() != nil {
			text = fmt.Sprintf("a %T whose text cannot be rendered (its Error or String method panics)", p)
		}
	}()
	return fmt.Sprint(p)
}

func (s *Spec) classify(err error) *taskerr.Error {
	e := taskerr.From(err)
	if strings.HasPrefix(e.Message, s.Name+":") {
		return e
	}
	return &taskerr.Error{Code: e.Code, Message: s.Name + ": " + e.Message}
}

// Info is a workload's entry in the catalogue, as scripts see it from workloads().
type Info struct {
	Name        string               `json:"name"`
	Kind        Kind                 `json:"kind"`
	Params      map[string]ParamInfo `json:"params"`
	Description string               `json:"description"`
}

// Info describes the workload for the catalogue.
func (s *Spec) Info() Info {
	params := make(map[string]ParamInfo, len(s.Params))
	for _, p := range s.Params {
		params[p.Name] = p.Info()
	}
	return Info{Name: s.Name, Kind: s.Kind, Params: params, Description: s.Description}
}
