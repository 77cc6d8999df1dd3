// Package taskerr defines the failure classes shared by every layer of the
// extension. A class is the `name` of the JavaScript Error a script sees, so a
// failure keeps its class from the workload, across the worker pipe, through
// the pool, up to the promise.
package taskerr

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Code is the class of a task failure; it is the JavaScript Error's name.
type Code string

// The failure classes scripts can tell apart by `err.name`.
const (
	// InvalidArgument: an option, argument or workload param is wrong.
	InvalidArgument Code = "InvalidArgumentError"
	// UnknownWorkload: no workload of that name is offered.
	UnknownWorkload Code = "UnknownWorkloadError"
	// Workload: the workload ran and failed.
	Workload Code = "WorkloadError"
	// Timeout: the task ran longer than its timeout.
	Timeout Code = "TimeoutError"
	// WorkerCrashed: the worker process died, or broke the protocol, with the task on it.
	WorkerCrashed Code = "WorkerCrashedError"
	// QueueFull: the pool's queue held maxQueue tasks already.
	QueueFull Code = "QueueFullError"
	// PoolClosed: the pool was closed before the task could finish.
	PoolClosed Code = "PoolClosedError"
	// Aborted: the task was cancelled by its caller (an AbortSignal, or a
	// map that failed or whose callback threw); the web platform's name.
	Aborted Code = "AbortError"
	// WorkerStart: the pool's workers could not start.
	WorkerStart Code = "WorkerStartError"
	// NotAllowed: the operator's setting does not allow the worker program
	// (the web platform's name for a request the platform refuses).
	NotAllowed Code = "NotAllowedError"
	// InvalidState: a method called where it cannot run, such as run() in
	// the init context (the web platform's name for that).
	InvalidState Code = "InvalidStateError"
)

// Codes lists every class, for documentation and exhaustive tests.
//
//nolint:gochecknoglobals // a constant table
var Codes = []Code{
	InvalidArgument, UnknownWorkload, Workload, Timeout, WorkerCrashed, QueueFull, PoolClosed, Aborted,
	WorkerStart, NotAllowed, InvalidState,
}

// Valid reports whether c is one of Codes.
func (c Code) Valid() bool {
	return slices.Contains(Codes, c)
}

// Error is a classified failure with a message that says what went wrong and where.
type Error struct {
	Code    Code
	Message string
}

// Error returns the message without the class, as JavaScript's Error.message does.
func (e *Error) Error() string { return e.Message }

// The sentinels of the classes, for errors.Is, as pond's ErrQueueFull:
// errors.Is(err, taskerr.ErrTimeout) holds for any *Error of class Timeout
// in err's chain, whatever its message.
var (
	ErrInvalidArgument = &Error{Code: InvalidArgument}
	ErrUnknownWorkload = &Error{Code: UnknownWorkload}
	ErrWorkload        = &Error{Code: Workload}
	ErrTimeout         = &Error{Code: Timeout}
	ErrWorkerCrashed   = &Error{Code: WorkerCrashed}
	ErrQueueFull       = &Error{Code: QueueFull}
	ErrPoolClosed      = &Error{Code: PoolClosed}
	ErrAborted         = &Error{Code: Aborted}
	ErrWorkerStart     = &Error{Code: WorkerStart}
	ErrNotAllowed      = &Error{Code: NotAllowed}
	ErrInvalidState    = &Error{Code: InvalidState}
)

// Is reports whether target is the sentinel of e's class (a *Error with no
// message), so that errors.Is matches a failure by class.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinel returns the sentinel of class c (ErrTimeout for Timeout, ...).
func Sentinel(c Code) *Error {
	for _, s := range []*Error{
		ErrInvalidArgument, ErrUnknownWorkload, ErrWorkload, ErrTimeout, ErrWorkerCrashed, ErrQueueFull,
		ErrPoolClosed, ErrAborted, ErrWorkerStart, ErrNotAllowed, ErrInvalidState,
	} {
		if s.Code == c {
			return s
		}
	}
	return &Error{Code: c}
}

// New returns a classified error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf classifies any error: a *Error keeps its class, a deadline becomes
// Timeout, anything else is a Workload failure.
func CodeOf(err error) Code {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	default:
		return Workload
	}
}

// From returns err as a *Error, classifying it with CodeOf when it is not one yet.
func From(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	return &Error{Code: CodeOf(err), Message: err.Error()}
}
