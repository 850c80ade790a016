package twostep

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrorCode is the machine-readable code of an Error. The web layer maps each
// code to one HTTP status in one table; clients see the code as error.code.
type ErrorCode string

// The error codes Twostep answers with.
const (
	CodeInvalidJSON  ErrorCode = "invalid_json"        // the body is not well-formed JSON
	CodeInvalidQuery ErrorCode = "invalid_query"       // the query string is not well-formed
	CodeInvalidValue ErrorCode = "invalid_value"       // a field has a value that is not allowed
	CodeUnknownField ErrorCode = "unknown_field"       // the body names a field we do not know
	CodeTooLarge     ErrorCode = "body_too_large"      // the body is over the limit
	CodeUnauthorized ErrorCode = "unauthorized"        // no or bad credentials
	CodeForbidden    ErrorCode = "forbidden"           // credentials that may not do this
	CodeNotFound     ErrorCode = "not_found"           // no such object, or not the caller's
	CodeConflict     ErrorCode = "conflict"            // the change collides with existing data
	CodeRateLimited  ErrorCode = "rate_limited"        // too many requests; see RetryAfter
	CodeAlreadyUsed  ErrorCode = "already_used"        // the challenge is approved already
	CodeVoid         ErrorCode = "code_void"           // the code was replaced or guessed wrong too often
	CodeExpired      ErrorCode = "code_expired"        // the code's time ran out
	CodeLocked       ErrorCode = "locked"              // too many wrong codes; see RetryAfter
	CodeNoChannel    ErrorCode = "no_channel"          // the user has no address a code can go to
	CodeIncorrect    ErrorCode = "code_incorrect"      // an enrolment's confirming code is wrong
	CodeEnrollment   ErrorCode = "enrollment_required" // the app asks for an authenticator the user has not added
	CodeInternal     ErrorCode = "internal"            // our fault; details only in the log
	CodeUnavailable  ErrorCode = "unavailable"         // a dependency is down; try again
)

// Error is the one error type of Twostep. Message is safe to show to the
// client; Err is the cause, which only reaches the log.
type Error struct {
	Code       ErrorCode
	Message    string
	Field      string        // the input field at fault, if one is
	RetryAfter time.Duration // for CodeRateLimited
	Err        error
}

func (e *Error) Error() string {
	s := string(e.Code) + ": " + e.Message
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Sentinel errors the store returns; the service turns them into an *Error
// with a message fit for the client.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// Invalid reports a field whose value is not allowed.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidValue, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports an object that does not exist or that the caller may not
// see; the two must look the same.
func NotFound(what string) *Error {
	return &Error{Code: CodeNotFound, Message: what + " not found", Err: ErrNotFound}
}

// Internal wraps an unexpected error; the client sees a generic message.
func Internal(err error) *Error {
	return &Error{Code: CodeInternal, Message: "internal error", Err: err}
}

// AsError returns err as an *Error, turning store sentinels and unknown
// errors into the right codes.
func AsError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, ErrNotFound):
		return &Error{Code: CodeNotFound, Message: "not found", Err: err}
	case errors.Is(err, ErrConflict):
		return &Error{Code: CodeConflict, Message: "conflicts with existing data", Err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeUnavailable, Message: "the request ended before it was done; try again", Err: err}
	default:
		return Internal(err)
	}
}
