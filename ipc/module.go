package ipc

import (
	"fmt"
	"slices"

	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// FeatureModule is the feature a worker lists in its hello ("features")
// when it loads the JavaScript module a pool's hello carries ("module").
const FeatureModule = "module"

// LoadModule is, when set, how a worker loads the module of a pool's hello:
// it returns the registry to serve instead of base, with the module's
// exports. The k6 extension sets it to package jsworker's loader; a worker
// without it does not list FeatureModule and ignores the field.
//
//nolint:gochecknoglobals // a hook the extension sets once, at init, as k6's own modules register
var LoadModule func(module []byte, base *workload.Registry) (*workload.Registry, error)

// FeaturePrefetch is the feature a worker lists in its hello when it runs
// at most the hello's `concurrency` requests at once and starts the others
// in the order it read them: a pool then keeps PrefetchDepth more requests
// waiting in its input (PROTOCOL.md, "Waiting requests").
const FeaturePrefetch = "prefetch"

// features are what this binary's worker lists in its hello.
func features() []string {
	if LoadModule == nil {
		return []string{FeaturePrefetch, FeatureBatch}
	}
	return []string{FeaturePrefetch, FeatureBatch, FeatureModule}
}

// loadModule serves the registry of the module in a pool's hello, if any.
// It runs on the reading goroutine before any run is read, so the tasks
// that follow see the new registry.
func (s *server) loadModule(module []byte) error {
	if isNull(module) || LoadModule == nil {
		return nil
	}
	reg, err := LoadModule(module, s.reg)
	if err != nil {
		return fmt.Errorf("the pool's hello carries a module this worker cannot load: %w", err)
	}
	s.reg = reg
	return nil
}

// appendModule adds the module field to a pool's hello frame in b (before its
// closing brace).
func appendModule(b []byte, module []byte) []byte {
	if isNull(module) {
		return b
	}
	b = append(b[:len(b)-1], `,"module":`...)
	b = append(b, module...)
	return append(b, '}')
}

// missingFeature says why a worker whose hello lists features cannot serve
// a pool with cfg, or "".
func missingFeature(cfg Config, features []string) string {
	if !isNull(cfg.Module) && !slices.Contains(features, FeatureModule) {
		return fmt.Sprintf(`does not load JavaScript modules: its hello does not list the %q feature `+
			`(the module option needs the k6 binary's own worker, `+
			`or a worker that implements "module" of PROTOCOL.md)`, FeatureModule)
	}
	return ""
}
