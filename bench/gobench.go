package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
)

// The Go benchmarks of a session: the floors of both pools, and the
// references they are compared with.
const goBenchRegex = "^(BenchmarkThreadNoop|BenchmarkProcessNoop|BenchmarkRawPipeEcho|BenchmarkFrameRoundTrip|" +
	"BenchmarkPrimes20000|BenchmarkRawPrimes|BenchmarkThreadPrimes|" + jsGoBench + ")$"

// goBenchNeeded are the benchmarks the goals read.
func goBenchNeeded() []string {
	return []string{
		"BenchmarkThreadNoop/workers=1/submitters=1", "BenchmarkProcessNoop/inflight=1",
		"BenchmarkProcessNoop/inflight=16", "BenchmarkRawPipeEcho", "BenchmarkFrameRoundTrip",
		"BenchmarkPrimes20000", "BenchmarkRawPrimes", "BenchmarkThreadPrimes",
	}
}

func goBenchArgs(reps int) []string {
	return []string{
		"test", "-run", "^$", "-bench", goBenchRegex, "-benchmem", "-count=" + strconv.Itoa(reps),
		"./pool", "./ipc", "./workload", "./jsworker",
	}
}

// runGoBench runs the Go benchmarks in one go test invocation.
func (s *session) runGoBench(ctx context.Context, reps int) (GoBench, error) {
	args := goBenchArgs(reps)
	out, err := s.procs.run(ctx, time.Hour, "go", args...)
	if err != nil {
		return GoBench{}, fmt.Errorf("go test: %w\n%s", err, out)
	}
	results, err := parseGoBench(strings.NewReader(out))
	if err != nil {
		return GoBench{}, err
	}
	g := GoBench{Command: "go " + shellJoin(args), Output: out, Benchmarks: results}
	for _, name := range goBenchNeeded() {
		if g.find(name) == nil {
			return GoBench{}, fmt.Errorf("go test did not report %s:\n%s", name, out)
		}
	}
	return g, nil
}

// parseGoBench reads `go test -bench` output with benchfmt: one GoResult per
// benchmark, in the order of their first result, named as go test names it
// but without the -N GOMAXPROCS suffix.
func parseGoBench(r io.Reader) ([]GoResult, error) {
	var out []GoResult
	index := map[string]int{}
	br := benchfmt.NewReader(r, "go test")
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			return nil, rec
		case *benchfmt.Result:
			name := nameWithoutProcs(rec.Name)
			i, ok := index[name]
			if !ok {
				i = len(out)
				index[name] = i
				out = append(out, GoResult{Name: name, Values: map[string][]float64{}})
			}
			for _, v := range rec.Values {
				unit, value := v.Unit, v.Value
				if v.OrigUnit != "" { // benchfmt tidies ns/op into sec/op; the tables show ns/op
					unit, value = v.OrigUnit, v.OrigValue
				}
				out[i].Values[unit] = append(out[i].Values[unit], value)
			}
		}
	}
	return out, br.Err()
}

func nameWithoutProcs(n benchfmt.Name) string {
	base, parts := n.Parts()
	var b bytes.Buffer
	b.WriteString("Benchmark") // benchfmt leaves the prefix out
	b.Write(base)
	for _, p := range parts {
		if !bytes.HasPrefix(p, []byte("-")) {
			b.Write(p)
		}
	}
	return b.String()
}

// find returns a benchmark's result, nil when it did not run.
func (g GoBench) find(name string) *GoResult {
	for i := range g.Benchmarks {
		if g.Benchmarks[i].Name == name {
			return &g.Benchmarks[i]
		}
	}
	return nil
}

// median is the median of a benchmark's values in a unit, NaN without any.
func (g GoBench) median(name, unit string) float64 {
	if r := g.find(name); r != nil {
		return median(r.Values[unit])
	}
	return median(nil)
}

// shellJoin writes arguments as a shell would read them back.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$|()^*?[]{}<>;&!#~`") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
