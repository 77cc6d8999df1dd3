package jsworker

import (
	"encoding/base64"

	"github.com/grafana/sobek"
	"go.k6.io/k6/v2/js/common"
)

// The k6 modules a worker runtime offers: those that need no VU. Each is a
// small JavaScript module over Go functions the runtime defines, so the
// sources a pool carries stay the script's own; k6's implementations are
// internal to k6, so these follow them (k6/encoding: same encodings, same
// return types).

// builtinPrefix marks a built-in module's path among a module's records.
const builtinPrefix = "k6-builtin:"

// encodingGlobal holds the Go side of k6/encoding in a worker runtime.
const encodingGlobal = "__xk6concurrency_k6_encoding"

// builtinSources are the built-in modules' sources, by import name.
//
//nolint:gochecknoglobals // a constant table
var builtinSources = map[string]string{
	"k6/encoding": "const e = globalThis." + encodingGlobal + ";\n" +
		"export function b64encode(input, encoding) { return e.b64encode(input, encoding); }\n" +
		"export function b64decode(input, encoding, format) { return e.b64decode(input, encoding, format); }\n" +
		"export default { b64encode, b64decode };\n",
	"k6/crypto": cryptoSource(), // crypto.go
}

// builtinPath is the records' path of a built-in module, or "".
func builtinPath(spec string) string {
	if _, ok := builtinSources[spec]; ok {
		return builtinPrefix + spec
	}
	return ""
}

// defineBuiltins defines the Go side of the built-in modules, hidden from
// enumeration.
func defineBuiltins(rt *sobek.Runtime) error {
	enc := rt.NewObject()
	if err := enc.Set("b64encode", func(input sobek.Value, encoding string) string {
		data, err := common.ToBytes(input.Export())
		if err != nil {
			panic(rt.NewTypeError(err.Error()))
		}
		return b64(encoding).EncodeToString(data)
	}); err != nil {
		return err
	}
	if err := enc.Set("b64decode", func(input, encoding, format string) sobek.Value {
		data, err := b64(encoding).DecodeString(input)
		if err != nil {
			panic(rt.NewGoError(err))
		}
		if format == "s" {
			return rt.ToValue(string(data))
		}
		return rt.ToValue(rt.NewArrayBuffer(data))
	}); err != nil {
		return err
	}
	if err := hide(rt, encodingGlobal, enc); err != nil {
		return err
	}
	return defineCrypto(rt)
}

// hide defines a global the built-in modules read, hidden from enumeration.
func hide(rt *sobek.Runtime, name string, v *sobek.Object) error {
	return rt.GlobalObject().DefineDataProperty(name, v, sobek.FLAG_FALSE, sobek.FLAG_FALSE, sobek.FLAG_FALSE)
}

// b64 is k6/encoding's encoding by name: std (the default), rawstd, url, rawurl.
func b64(name string) *base64.Encoding {
	switch name {
	case "rawstd":
		return base64.StdEncoding.WithPadding(base64.NoPadding)
	case "url":
		return base64.URLEncoding
	case "rawurl":
		return base64.URLEncoding.WithPadding(base64.NoPadding)
	}
	return base64.StdEncoding
}
