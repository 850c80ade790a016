package web

import (
	"net/url"
	"slices"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// codeStep is the data of the code component that the hosted page and
// the console's sign-in share. Every state it shows has a next step: a
// code to type, a new code to ask for, or a way back (Cancel sign-in).
type codeStep struct {
	View twostep.ChallengeView
	// Mode is the proof the form asks for: totp or recovery_code, or ""
	// for the code that was sent.
	Mode         twostep.Method
	Action       string // where the code goes
	ResendAction string
	PageURL      string // the page itself, to read again when the code expires
	CancelURL    string // back to where the sign-in started
	Code         string // what was typed, shown back after a mistake of form
	CodeError    string
	ResendError  string
	ExpiresIn    time.Duration
	Wait         time.Duration // until a new code may be sent
	Locked       bool
	Forever      bool // locked until an admin unlocks
	Over         bool // the sign-in's own time is up: only starting again helps
	Expired      bool // the code's time is up
	Void         bool // the code took its last wrong guess
	CanResend    bool
	EmailInstead bool // the code went by SMS; email may be asked for
	SMSInstead   bool // the code went by email; SMS may be asked for again
	// The other ways to sign in the state offers.
	UsePasskey  bool // a passkey, when the page asks for something else
	UseTOTP     bool // the authenticator app, when the form asks for something else
	UseRecovery bool // a recovery code
	UseSent     bool // back to the live code that was sent
	SendSMS     bool // a first code by text message, when the form asks for an app or recovery code
	SendEmail   bool
	// RememberDays, when not 0, offers to remember the browser that long
	// (the hosted page, where the company remembers devices for the app).
	RememberDays int
}

// shownMode picks what the form asks for: what the person chose (a link's
// ?method=, or the form they submitted) while it is available, else what
// the challenge expects.
func shownMode(v twostep.ChallengeView, asked string) twostep.Method {
	for _, m := range []twostep.Method{twostep.MethodWebAuthn, twostep.MethodTOTP, twostep.MethodRecoveryCode} {
		if asked == string(m) && slices.Contains(v.MethodsAvailable, m) {
			return m
		}
	}
	if asked == "" && (v.Method == twostep.MethodWebAuthn || v.Method == twostep.MethodTOTP || v.Method == twostep.MethodRecoveryCode) {
		return v.Method
	}
	return ""
}

// newCodeStep reads a challenge at now for the code component.
func newCodeStep(v twostep.ChallengeView, now time.Time, mode twostep.Method, page, action, resend, cancel string) codeStep {
	st := codeStep{View: v, Mode: mode, Action: action, ResendAction: resend, PageURL: page, CancelURL: cancel,
		ExpiresIn: v.CodeExpiresAt.Sub(now), Locked: v.Status == twostep.StatusLocked,
		Forever: v.LockedUntil.Year() >= 9999, CanResend: !v.ResendAvailableAt.IsZero()}
	if v.Status == twostep.StatusExpired {
		st.Over = !now.Before(v.CreatedAt.Add(twostep.ChallengeLifetime))
	}
	// The sent code's time is up, though an authenticator app or a
	// recovery code may still prove the sign-in.
	codeOut := v.Status == twostep.StatusExpired || (v.Status == twostep.StatusPending && v.Channel != "" && !now.Before(v.CodeExpiresAt))
	st.Expired = !st.Over && mode == "" && codeOut
	st.Void = mode == "" && v.Status == twostep.StatusPending && v.AttemptsRemaining == 0
	if st.ExpiresIn < 0 {
		st.ExpiresIn = 0
	}
	if w := v.ResendAvailableAt.Sub(now); w > 0 {
		st.Wait = w.Round(time.Second)
	}
	for _, c := range v.ChannelsAvailable {
		switch {
		case mode != "" && c == twostep.ChannelSMS:
			st.SendSMS = st.CanResend
		case mode != "" && c == twostep.ChannelEmail:
			st.SendEmail = st.CanResend
		case c == twostep.ChannelEmail && v.Channel == twostep.ChannelSMS:
			st.EmailInstead = true
		case c == twostep.ChannelSMS && v.Channel == twostep.ChannelEmail:
			st.SMSInstead = true
		}
	}
	st.UsePasskey = mode != twostep.MethodWebAuthn && slices.Contains(v.MethodsAvailable, twostep.MethodWebAuthn)
	st.UseTOTP = mode != twostep.MethodTOTP && slices.Contains(v.MethodsAvailable, twostep.MethodTOTP)
	st.UseRecovery = mode != twostep.MethodRecoveryCode && slices.Contains(v.MethodsAvailable, twostep.MethodRecoveryCode)
	st.UseSent = mode != "" && v.CodeHash != "" && slices.Contains(v.MethodsAvailable, twostep.Method(v.Channel))
	return st
}

// MethodURL is the page asking for another method.
func (st codeStep) MethodURL(m string) string {
	return withQuery(st.PageURL, url.Values{"method": {m}})
}

// Recovery reports whether the form asks for a recovery code.
func (st codeStep) Recovery() bool { return st.Mode == twostep.MethodRecoveryCode }

// OtherWays reports whether the state offers another way to sign in.
func (st codeStep) OtherWays() bool {
	return st.UsePasskey || st.UseTOTP || st.UseRecovery || st.UseSent || st.SendSMS || st.SendEmail
}

// FormShown reports whether the state takes a code.
func (st codeStep) FormShown() bool { return !st.Locked && !st.Over && !st.Expired && !st.Void }

// Sending reports whether the form asks for the code that was sent.
func (st codeStep) Sending() bool { return st.Mode == "" }

// Heading is the state's heading, which the page's title repeats.
func (st codeStep) Heading() string {
	switch {
	case st.Locked:
		return "Sign-in is paused"
	case st.Over:
		return "This sign-in has expired"
	case st.Expired:
		return "Your code has expired"
	case st.Void:
		return "Request a new code"
	case st.Mode == twostep.MethodWebAuthn:
		return "Use your passkey"
	case st.Mode == twostep.MethodTOTP:
		return "Use your authenticator app"
	case st.Mode == twostep.MethodRecoveryCode:
		return "Use a recovery code"
	case st.View.Channel == twostep.ChannelSMS:
		return "Check your phone"
	}
	return "Check your email"
}

// Sent words where the code went: "your phone number ending in 42" or
// the masked email address.
func (st codeStep) Sent() string {
	if st.View.Channel == twostep.ChannelSMS {
		return "your phone number ending in " + lastTwo(st.View.Destination)
	}
	return st.View.DestinationHint
}

// place puts a page's errors where the state shows them, and returns the
// errors for the page's summary: a code error beside the field while
// there is one; once the code is gone (void, expired) beside the resend
// buttons, whose heading the summary then links to; none when the state
// says it all (locked, or the sign-in is over).
func (st *codeStep) place(errs []fieldError) []fieldError {
	var out []fieldError
	for _, e := range errs {
		switch {
		case e.Field == "code" && st.FormShown():
			st.CodeError = e.Message
		case e.Field == "code" && (st.Locked || st.Over):
			continue
		case e.Field == "code" || e.Field == "resend":
			st.ResendError = e.Message
			e.Field = "resend"
		}
		out = append(out, e)
	}
	return out
}

// lastTwo is the end of a phone number, for "ending in 42".
func lastTwo(s string) string { return s[max(0, len(s)-2):] }

// withQuery returns a URL (or a local path) with query parameters set;
// its own parameters and fragment stay.
func withQuery(raw string, set url.Values) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	for k, v := range set {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// codeError words a refused code for the person who typed it.
func codeError(err error, v twostep.ChallengeView) string {
	e := twostep.AsError(err)
	switch e.Code {
	case twostep.CodeInvalidValue:
		return e.Message // from NormalizeCode, already in the page's words
	case twostep.CodeExpired:
		if !v.CreatedAt.IsZero() && !time.Now().Before(v.CreatedAt.Add(twostep.ChallengeLifetime)) {
			return "This sign-in has expired. Go back and sign in again."
		}
		return "That code has expired. Request a new code."
	case twostep.CodeVoid:
		return "That code can no longer be used. Request a new code."
	case twostep.CodeLocked:
		return "Sign-in is paused after too many wrong codes."
	case twostep.CodeAlreadyUsed:
		return "This sign-in is already complete."
	}
	return "Something went wrong on our side. Try again in a moment."
}

// wrongCode words a rejected code, with the attempts left.
func wrongCode(v twostep.ChallengeView, mode twostep.Method) string {
	switch mode {
	case twostep.MethodTOTP:
		return "That code is not correct. Enter the code your authenticator app shows now."
	case twostep.MethodRecoveryCode:
		return "That recovery code is not correct, or it has been used already. Each recovery code works once."
	}
	switch v.AttemptsRemaining {
	case 0:
		return "That code is not correct. Request a new code."
	case 1:
		return "That code is not correct. You have 1 attempt left."
	}
	return "That code is not correct. You have " + plural(v.AttemptsRemaining, "attempt", "attempts") + " left."
}

// resendError words a refused resend.
func resendError(err error) string {
	e := twostep.AsError(err)
	switch e.Code {
	case twostep.CodeRateLimited:
		if e.RetryAfter > 0 && e.RetryAfter < time.Hour {
			return "You can request a new code in " + inWords(e.RetryAfter) + "."
		}
		return "No more codes can be sent for now. Try again later."
	case twostep.CodeInvalidValue:
		return "A code cannot be sent that way for this sign-in."
	}
	return codeError(err, twostep.ChallengeView{})
}
