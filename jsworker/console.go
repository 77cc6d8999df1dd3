package jsworker

import (
	"encoding/json"
	"strings"

	"github.com/grafana/sobek"
	"github.com/sirupsen/logrus"
)

// A worker runtime's console writes to k6's log as a VU's does, at the
// method's level, with the fields pool, worker (a thread pool's worker
// number, or a worker process's pid) and source=console. A worker process
// has no k6 log: it writes each line to its stderr as ConsolePrefix and a
// JSON object (ConsoleFormatter), which the pool reads back into its log
// with the same level and fields (LogStderrLine), so that the lines of both
// kinds of pool look the same.

// ConsolePrefix starts a console line on a worker process's stderr.
const ConsolePrefix = "xk6-concurrency console "

// consoleLine is a console line on a worker process's stderr, after ConsolePrefix.
type consoleLine struct {
	Level  string `json:"level"`
	Msg    string `json:"msg"`
	Worker int    `json:"worker"`
}

// newConsole is a console whose lines go to log, at their level.
func newConsole(rt *sobek.Runtime, log logrus.FieldLogger) *sobek.Object {
	c := rt.NewObject()
	line := func(call sobek.FunctionCall) string {
		parts := make([]string, len(call.Arguments))
		for i, a := range call.Arguments {
			parts[i] = a.String()
			if o, ok := a.(*sobek.Object); ok && o.ClassName() != "Error" {
				if b, err := json.Marshal(o.Export()); err == nil {
					parts[i] = string(b)
				}
			}
		}
		return strings.Join(parts, " ")
	}
	for name, out := range map[string]func(...any){
		"log": log.Info, "info": log.Info, "debug": log.Debug, "warn": log.Warn, "error": log.Error,
	} {
		_ = c.Set(name, func(call sobek.FunctionCall) sobek.Value {
			out(line(call))
			return sobek.Undefined()
		})
	}
	return c
}

// ConsoleFormatter is the logrus formatter of a worker process's console:
// one line, ConsolePrefix and {"level", "msg", "worker"}. A message's
// newlines stay in the JSON string, so a line is always one entry.
type ConsoleFormatter struct{}

// Format implements logrus.Formatter.
func (ConsoleFormatter) Format(e *logrus.Entry) ([]byte, error) {
	worker, _ := e.Data["worker"].(int)
	b, err := json.Marshal(consoleLine{Level: e.Level.String(), Msg: e.Message, Worker: worker})
	if err != nil {
		return nil, err
	}
	return append(append([]byte(ConsolePrefix), b...), '\n'), nil
}

// LogStderrLine logs a line of the stderr of the worker process pid: a
// console line (ConsoleFormatter's) at its level with the fields worker
// (the pid) and source=console, any other line as it is, at info level,
// with the field pid.
func LogStderrLine(log logrus.FieldLogger, pid int, line string) {
	var c consoleLine
	rest, ok := strings.CutPrefix(line, ConsolePrefix)
	if ok && json.Unmarshal([]byte(rest), &c) == nil {
		if level, err := logrus.ParseLevel(c.Level); err == nil {
			log.WithFields(logrus.Fields{"worker": c.Worker, "source": "console"}).Log(level, c.Msg)
			return
		}
	}
	log.WithField("pid", pid).Info(line)
}
