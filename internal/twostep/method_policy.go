package twostep

import (
	"context"
	"slices"
	"time"
)

// Method is what proves a challenge's second step: a code sent by SMS or
// email, a code from an authenticator app, or a recovery code.
type Method string

// The methods. webauthn is named for the result token's contract; it
// arrives with passkeys.
const (
	MethodSMS          Method = "sms"
	MethodEmail        Method = "email"
	MethodTOTP         Method = "totp"
	MethodWebAuthn     Method = "webauthn"
	MethodRecoveryCode Method = "recovery_code"
	// MethodRememberedDevice is how a sign-in that a remembered device let
	// through reads; it is not a proof a verification may name.
	MethodRememberedDevice Method = "remembered_device"
)

// ParseMethod checks a method a verification names.
func ParseMethod(field, s string) (Method, error) {
	switch m := Method(s); m {
	case MethodSMS, MethodEmail, MethodTOTP, MethodRecoveryCode:
		return m, nil
	case MethodWebAuthn:
		return "", Invalid(field, "passkeys are used on the hosted page, not through the API")
	}
	return "", Invalid(field, "%s must be sms, email, totp or recovery_code", field)
}

// sent reports whether the method is a code sent to the user.
func (m Method) sent() bool { return m == MethodSMS || m == MethodEmail }

// expects is the method a challenge expects now: rows from before
// methods existed expect their sent code.
func (ch Challenge) expects() Method {
	if ch.Method == "" {
		return Method(ch.Channel)
	}
	return ch.Method
}

// strength is what, beyond a user's addresses, decides their methods in
// one app: what they have added, what the company lets them use, and
// whether the app accepts only strong authenticators.
type strength struct {
	factors   Factors
	kinds     AuthenticatorKinds
	required  bool      // the app accepts only authenticator apps, passkeys and recovery codes
	graceEnds time.Time // until then, a user without one may still use a sent code
	passkeys  bool      // this service checks passkeys (it has a relying party)
	hosted    bool      // the challenge has a page to run a passkey ceremony on (hosted or console)
}

// totp reports whether the user can use an authenticator app.
func (st strength) totp() bool { return st.kinds.TOTP && st.factors.TOTP > 0 }

// passkey reports whether the user can use a passkey: they have one, the
// company allows them, this service can check them, and the challenge has
// a page (hosted or the console's) to run the ceremony on: a challenge
// the platform verifies through the API alone never asks for one.
func (st strength) passkey() bool {
	return st.kinds.WebAuthn && st.factors.WebAuthn > 0 && st.passkeys && st.hosted
}

// strong reports whether the user has a strong authenticator they may
// use.
func (st strength) strong() bool { return st.totp() || st.passkey() }

// enrollmentRequired reports whether the app wants a strong
// authenticator the user has not added yet.
func (st strength) enrollmentRequired() bool { return st.required && !st.strong() }

// codesAllowed reports whether sent codes may prove the user at now: when
// the app does not require strong authentication, or the user has no
// strong authenticator and is still in their grace period.
func (st strength) codesAllowed(now time.Time) bool {
	return !st.required || (!st.strong() && now.Before(st.graceEnds))
}

// sendable lists the channels a new code of ch may use now.
func (p policy) sendable(ch Challenge, now time.Time) []Channel {
	if !p.strength.codesAllowed(now) {
		return nil
	}
	return p.channels(ch)
}

// methods lists what may prove ch now, in the order the hosted page
// offers them: the authenticator app, the sent codes, a recovery code.
func (p policy) methods(ch Challenge, now time.Time) []Method {
	var out []Method
	if p.strength.passkey() {
		out = append(out, MethodWebAuthn)
	}
	if p.strength.totp() {
		out = append(out, MethodTOTP)
	}
	if p.strength.codesAllowed(now) {
		for _, c := range p.channels(ch) {
			out = append(out, Method(c))
		}
		if ch.CodeHash != "" && !hasMethod(out, Method(ch.Channel)) {
			out = append(out, Method(ch.Channel)) // the live code still counts
		}
	}
	if p.strength.factors.RecoveryCodes > 0 {
		out = append(out, MethodRecoveryCode)
	}
	return out
}

// firstMethod is how a new challenge starts: on the authenticator app
// when the user has one, nothing sent; otherwise on a sent code where
// codes are allowed; otherwise on a recovery code. It returns "" with
// the error that explains when nothing can prove the user.
func (p policy) firstMethod(now time.Time) (Method, error) {
	switch {
	case p.strength.passkey():
		return MethodWebAuthn, nil
	case p.strength.totp():
		return MethodTOTP, nil
	case p.strength.codesAllowed(now):
		if c := p.first(); c != "" {
			return Method(c), nil
		}
		if p.strength.factors.RecoveryCodes > 0 {
			return MethodRecoveryCode, nil
		}
		return "", errNoChannel
	case p.strength.factors.RecoveryCodes > 0:
		return MethodRecoveryCode, nil
	}
	return "", errEnrollmentRequired
}

// errEnrollmentRequired answers a challenge for a user whose grace period
// has ended without a strong authenticator.
var errEnrollmentRequired = &Error{Code: CodeEnrollment,
	Message: "this app accepts only an authenticator app or a passkey, and this user has not added one; send them to enrolment"}

// policyFor reads what decides a user's methods in a challenge's app.
// The console's own sign-in takes the user's authenticators but not the
// apps' requirement of them.
func (s *SignIns) policyFor(ctx context.Context, tx Tx, co Company, u User, ch Challenge) (policy, error) {
	p := s.policy(co, u)
	var f Factors
	if u.HasFactors { // without the hint there is nothing to count
		var err error
		if f, err = tx.Factors(ctx, co.ID, u.ID); err != nil {
			return p, err
		}
	}
	st := co.Settings
	p.strength = strength{factors: f, kinds: st.Authenticators, required: st.StrongAuthentication.For(ch.App) && !ch.Console,
		graceEnds: st.graceEnds(ch.App, u), passkeys: s.relyingParty != nil, hosted: ch.ReturnURL != "" || ch.Console}
	return p, nil
}

// hasMethod reports whether m is among ms.
func hasMethod(ms []Method, m Method) bool { return slices.Contains(ms, m) }
