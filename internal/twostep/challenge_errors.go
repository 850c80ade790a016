package twostep

import (
	"time"
)

// Errors of the sign-in rules.
var (
	errAlreadyUsed = &Error{Code: CodeAlreadyUsed, Message: "this sign-in is already approved; start a new one"}
	errCodeVoid    = &Error{Code: CodeVoid, Message: "this code can no longer be used; request a new code"}
	errCodeExpired = &Error{Code: CodeExpired, Message: "this code has expired; request a new code"}
	errSignInOver  = &Error{Code: CodeExpired, Message: "this sign-in has expired; start a new one"}
	errNoChannel   = &Error{Code: CodeNoChannel, Message: "this user has no phone or email address that a code can be sent to"}
)

// lockedError answers a locked user and app, saying when the lock ends.
func lockedError(now, until time.Time) *Error {
	e := &Error{Code: CodeLocked, Message: "sign-in is paused after too many wrong codes; try again later or ask an admin to unlock it"}
	if until != lockedForever {
		e.RetryAfter = until.Sub(now)
	} else {
		e.Message = "sign-in is paused after too many wrong codes; an admin must unlock it"
	}
	return e
}

// tooMany answers a send over a limit.
func tooMany(msg string, retry time.Duration) *Error {
	return &Error{Code: CodeRateLimited, Message: msg, RetryAfter: max(retry, time.Second)}
}
