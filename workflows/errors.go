package workflows

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Code classifies a domain error; the HTTP edge maps codes to statuses.
type Code string

// The error codes.
const (
	EInvalid      Code = "invalid"      // the request or a file is malformed
	ENotFound     Code = "not_found"    // no such workflow, run or event
	EConflict     Code = "conflict"     // the thing is in a state that forbids the request
	EUnauthorized Code = "unauthorized" // missing or wrong credentials
	ENotAllowed   Code = "not_allowed"  // the trigger does not take this method
	EOverloaded   Code = "overloaded"   // the queue is full; try again later
	EUnavailable  Code = "unavailable"  // the store is down or the server is stopping
	EInternal     Code = "internal"     // a bug or an unexpected failure
)

// Error is a domain error: a code for machines and a message for people.
type Error struct {
	Code    Code
	Message string
	// Cause is what went wrong underneath, for the server's log; it is not
	// part of the message, which may be shown to whoever sent the request.
	Cause error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns err's code: that of the first *Error in its chain, EInternal
// for any other error, "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.As(err, new(ErrorList)) || errors.As(err, new(*PosError)) {
		return EInvalid
	}
	return EInternal
}

// Pos is a position in a workflow file.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// PosError is a problem at a place in a workflow file.
type PosError struct {
	File string
	Line int
	Col  int
	Msg  string
}

func (e *PosError) Error() string { return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg) }

// errorAt returns a PosError at p.
func errorAt(p Pos, format string, args ...any) *PosError {
	return &PosError{File: p.File, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)}
}

// ErrorList is every problem found in a set of workflow files, sorted by position.
type ErrorList []*PosError

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// sorted returns l in file, line, column order, or nil when empty.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return l
}
