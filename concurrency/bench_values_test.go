package concurrency

import (
	"encoding/json"
	"testing"

	"github.com/grafana/sobek"
)

const benchValueJS = `Object.fromEntries(Array.from({ length: 1000 }, (_, i) => ['key' + i, { n: i, s: 'value ' + i }]))`

// BenchmarkParamsOut is the cost of sending a 1000-key object's params to a
// worker process: exportJSON and json.Marshal (sorted keys) before,
// encodeJSON (property order) now.
func BenchmarkParamsOut(b *testing.B) {
	rt := sobek.New()
	v, err := rt.RunString(benchValueJS)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("exportJSON+Marshal", func(b *testing.B) {
		for b.Loop() {
			m, _ := exportJSON(rt, v, "params")
			_, _ = json.Marshal(m)
		}
	})
	b.Run("encodeJSON", func(b *testing.B) {
		for b.Loop() {
			_, _, _ = encodeJSON(rt, v, "params")
		}
	})
}

// BenchmarkResultIn is the cost of handing a worker's 1000-key result to
// JavaScript and reading every key: json.Unmarshal and a wrapped Go map
// before, JSON.parse now.
func BenchmarkResultIn(b *testing.B) {
	rt := sobek.New()
	v, _ := rt.RunString(benchValueJS)
	_, text, _ := encodeJSON(rt, v, "params")
	parse, _ := sobek.AssertFunction(rt.Get("JSON").ToObject(rt).Get("parse"))
	readAll, _ := rt.RunString(`(o) => { let n = 0; for (const k in o) n += o[k].n; return n; }`)
	read, _ := sobek.AssertFunction(readAll)
	b.Run("Unmarshal+ToValue", func(b *testing.B) {
		for b.Loop() {
			var x any
			_ = json.Unmarshal(text, &x)
			_, _ = read(sobek.Undefined(), rt.ToValue(x))
		}
	})
	b.Run("JSON.parse", func(b *testing.B) {
		for b.Loop() {
			x, _ := parse(sobek.Undefined(), rt.ToValue(string(text)))
			_, _ = read(sobek.Undefined(), x)
		}
	})
	b.Run("jsonDecoder", func(b *testing.B) {
		for b.Loop() {
			d := jsonDecoder{rt: rt, text: text}
			x, _ := d.decode()
			_, _ = read(sobek.Undefined(), x)
		}
	})
}
