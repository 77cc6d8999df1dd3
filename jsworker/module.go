// Package jsworker runs a k6 script's own JavaScript as pool tasks: a
// module file, whose exported functions are workloads, loaded once in every
// worker's own sobek runtime. The module and every local file it imports are
// read once, where the pool is made (k6's init context, so that `k6 archive`
// carries them), checked there, and carried as sources: to each thread-pool
// worker, and in the hello of each worker process. A worker runtime has no VU:
// see runtime.go for what it offers.
package jsworker

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/grafana/sobek"
)

// MaxSources bounds the size of a module and its imports together: they
// travel in one protocol frame (16 MiB) to every worker process, JSON-escaped.
const MaxSources = 4 << 20

// Module is a JavaScript module file and the local files it imports, read
// and checked: it parses, links, and imports nothing a worker cannot offer.
type Module struct {
	// Main is the main module's absolute path (slash-separated).
	Main string `json:"main"`
	// Sources are the module's and its imports' texts by absolute path.
	Sources map[string]string `json:"sources"`

	exports []string
}

// ReadFunc reads the file at an absolute path.
type ReadFunc func(path string) ([]byte, error)

// Load reads the module at mainPath (absolute) and, through read, every
// local file it imports, then checks them. An error names the file, and the
// line where there is one.
func Load(mainPath string, read ReadFunc) (*Module, error) {
	m := &Module{Main: path.Clean(mainPath), Sources: make(map[string]string)}
	size := 0
	todo := []string{m.Main}
	importedBy := map[string]string{}
	for len(todo) > 0 {
		file := todo[0]
		todo = todo[1:]
		if _, done := m.Sources[file]; done || strings.HasPrefix(file, builtinPrefix) {
			continue // read already, or a built-in module, which every worker has
		}
		b, err := read(file)
		if err != nil {
			if by := importedBy[file]; by != "" {
				return nil, fmt.Errorf("%s, imported by %s: %w", file, by, err)
			}
			return nil, fmt.Errorf("module %s: %w", file, err)
		}
		if size += len(b); size > MaxSources {
			return nil, fmt.Errorf("module %s: it and its imports are over %d bytes together", m.Main, MaxSources)
		}
		m.Sources[file] = string(b)
		rec, err := sobek.ParseModule(file, string(b), nil)
		if err != nil {
			return nil, syntaxError(err)
		}
		for _, spec := range rec.RequestedModules() {
			dep, err := resolve(file, spec)
			if err != nil {
				return nil, err
			}
			if _, seen := importedBy[dep]; !seen {
				importedBy[dep] = file
			}
			todo = append(todo, dep)
		}
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

// Decode reads a module as Wire encoded it and checks it again.
func Decode(b []byte) (*Module, error) {
	var m Module
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("a module that is not {main, sources}: %w", err)
	}
	if _, ok := m.Sources[m.Main]; !ok {
		return nil, fmt.Errorf("a module whose main %q is not among its sources", m.Main)
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Wire is the module as a JSON object: {"main": path, "sources": {path: text}}.
func (m *Module) Wire() json.RawMessage {
	b, _ := json.Marshal(m) //nolint:errchkjson // strings only: cannot fail
	return b
}

// Exports are the names of the main module's exports that are workloads,
// sorted.
func (m *Module) Exports() []string { return m.exports }

// Name is the main module's file name, for messages.
func (m *Module) Name() string { return path.Base(m.Main) }

// check parses and links the sources as a worker will, and finds the
// exports. Nothing runs.
func (m *Module) check() error {
	records, err := m.parse()
	if err != nil {
		return err
	}
	main := records.byPath[m.Main]
	if err := main.Link(); err != nil {
		return fmt.Errorf("module %s: %w", m.Main, err)
	}
	var names []string
	main.GetExportedNames(func(n []string) { names = n }) // local records: always synchronous
	m.exports = m.exports[:0]
	for _, n := range names {
		if strings.Contains(n, ".") {
			return fmt.Errorf("module %s exports %q: names with a dot are the built-in workloads'", m.Main, n)
		}
		if workloadName.MatchString(n) {
			m.exports = append(m.exports, n)
		}
	}
	sort.Strings(m.exports)
	if len(m.exports) == 0 {
		return fmt.Errorf("module %s has no exports a pool could run: a worker module is an ES module "+
			"with exports such as `export function primes(params) { ... }` (CommonJS module.exports is not read)", m.Main)
	}
	return nil
}

// workloadName is what an export's name must look like to be a workload
// (workload.Registry's rule, without dots); others (with a $) stay helpers.
var workloadName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_:-]{0,127}$`)

// records are a module's parsed sources, linked to each other by path.
type records struct {
	byPath map[string]*sobek.SourceTextModuleRecord
	paths  map[sobek.ModuleRecord]string
}

// parse parses every source afresh: records hold per-runtime state once
// evaluated, so each worker runtime gets its own.
func (m *Module) parse() (*records, error) {
	rs := &records{
		byPath: make(map[string]*sobek.SourceTextModuleRecord, len(m.Sources)),
		paths:  make(map[sobek.ModuleRecord]string, len(m.Sources)),
	}
	for file, src := range m.Sources {
		rec, err := sobek.ParseModule(file, src, rs.resolve)
		if err != nil {
			return nil, syntaxError(err)
		}
		rs.byPath[file], rs.paths[rec] = rec, file
	}
	return rs, nil // the built-in modules are parsed when imported (resolve): most modules import none
}

// resolve is sobek's HostResolveImportedModuleFunc over the parsed records.
func (rs *records) resolve(referrer any, spec string) (sobek.ModuleRecord, error) {
	from, _ := referrer.(sobek.ModuleRecord)
	dep, err := resolve(rs.paths[from], spec)
	if err != nil {
		return nil, err
	}
	rec, ok := rs.byPath[dep]
	if name, builtin := strings.CutPrefix(dep, builtinPrefix); !ok && builtin {
		if rec, err = sobek.ParseModule(dep, builtinSources[name], rs.resolve); err != nil {
			return nil, err
		}
		rs.byPath[dep], rs.paths[rec], ok = rec, dep, true
	}
	if !ok {
		return nil, fmt.Errorf("%s imports %q (%s), which was not read with the module", rs.paths[from], spec, dep)
	}
	return rec, nil
}

// resolve turns an import specifier in the file at from into a path. Only
// local files can be imported: k6's own modules need a VU, which a worker
// does not have.
func resolve(from, spec string) (string, error) {
	switch {
	case strings.HasPrefix(spec, "./"), strings.HasPrefix(spec, "../"):
		return path.Join(path.Dir(from), spec), nil
	case strings.HasPrefix(spec, "/"):
		return path.Clean(spec), nil
	case strings.HasPrefix(spec, "file://"):
		return path.Clean(strings.TrimPrefix(spec, "file://")), nil
	case builtinPath(spec) != "":
		return builtinPath(spec), nil
	case spec == "k6" || strings.HasPrefix(spec, "k6/"):
		return "", fmt.Errorf("%s imports %q, which cannot work in a pool worker: a worker runs outside any VU, "+
			"so k6's modules that need one are not there (a worker module may import local files, k6/encoding and "+
			"k6/crypto, and use the globals console, setTimeout, setInterval, TextEncoder, TextDecoder and crypto)", from, spec)
	}
	return "", fmt.Errorf("%s imports %q: a pool worker module can import only local files, "+
		"as ./x.js, ../x.js or /abs/x.js", from, spec)
}

// syntaxError keeps sobek's message ("SyntaxError: file: Line l:c ..."),
// and names a parse error that is not a CompilerSyntaxError the same way.
func syntaxError(err error) error {
	var se *sobek.CompilerSyntaxError
	if errors.As(err, &se) || strings.HasPrefix(err.Error(), "SyntaxError") {
		return err
	}
	return fmt.Errorf("SyntaxError: %w", err)
}
