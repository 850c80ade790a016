package twostep

import (
	"context"
	"errors"
	"time"
)

// A proofMethod is one way to prove a challenge's second step. Verify
// asks it three things, and does the rest itself, the same for every
// method: the challenge's own end, approval (once), and one count of
// consecutive failures over every method, with the contact, the lock and
// their audit events.
//
// The methods are a code sent by SMS or email (sentCode), a code from an
// authenticator app (appCode) and a recovery code (recoveryCode).
type proofMethod interface {
	// ready refuses a guess that cannot count, before it is checked: a
	// sent code that is void or expired.
	ready(cc challengeContext) error
	// check tells whether proof is right for the challenge; a right
	// authenticator-app or recovery code is used up in the store as it is
	// checked, so it needs no more of the transaction than that.
	check(ctx context.Context, tx AuthenticatorStore, cc challengeContext, proof string) (bool, error)
	// settle writes what the outcome does to the challenge into next: a
	// right sent code is used up; a wrong one counts against it.
	settle(next *Challenge, right bool)
}

// sentCode is the code sent by SMS or email: GuessesPerCode guesses,
// valid until it expires, used up by the right one.
type sentCode struct{ key []byte }

func (sentCode) ready(cc challengeContext) error {
	switch {
	case cc.ch.CodeHash == "":
		return errCodeVoid
	case !cc.now.Before(cc.ch.CodeExpiresAt):
		return errCodeExpired
	}
	return nil
}

func (m sentCode) check(_ context.Context, _ AuthenticatorStore, cc challengeContext, proof string) (bool, error) {
	return codeMatches(m.key, cc.ch.ID, proof, cc.ch.CodeHash), nil
}

func (sentCode) settle(next *Challenge, right bool) {
	if right {
		next.CodeHash = ""
		return
	}
	next.CodeAttempts++
	if next.CodeAttempts >= GuessesPerCode {
		next.CodeHash = "" // void: the user asks for a new code
	}
}

// proofMethod returns the checker of a method.
func (s *core) proofMethod(m Method) proofMethod {
	switch m {
	case MethodTOTP:
		return appCode{s.sealer}
	case MethodRecoveryCode:
		return recoveryCode{s.codeKey}
	case MethodWebAuthn:
		return passkey{s.relyingParty}
	}
	return sentCode{s.codeKey}
}

// appCode is a code from an authenticator app: any of the user's
// confirmed apps' codes for now or one step either side, each step taken
// once. Wrong guesses count only towards the consecutive failures.
type appCode struct{ sealer sealer }

func (appCode) ready(challengeContext) error { return nil }

func (m appCode) check(ctx context.Context, tx AuthenticatorStore, cc challengeContext, proof string) (bool, error) {
	as, err := tx.Authenticators(ctx, cc.ch.CompanyID, cc.ch.UserID)
	if err != nil {
		return false, err
	}
	for _, a := range as {
		if a.Type != AuthenticatorTOTP || !a.Confirmed() {
			continue
		}
		ok, err := m.use(ctx, tx, a, proof, cc.now)
		if ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// use checks a code against one authenticator app and, when it is right,
// records its step as used, unless another request used that step (or a
// later one) first: then the code is a replay, and wrong.
func (m appCode) use(ctx context.Context, tx AuthenticatorStore, a Authenticator, code string, now time.Time) (bool, error) {
	secret, err := m.sealer.open(a.SealedSecret, a.sealBinding())
	if err != nil {
		return false, err
	}
	step, ok := totpMatch([]byte(secret), code, now, a.LastStep)
	if !ok {
		return false, nil
	}
	switch err := tx.UseAuthenticator(ctx, a.ID, step, now); {
	case errors.Is(err, ErrConflict):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

func (appCode) settle(*Challenge, bool) {}

// recoveryCode is one of the user's recovery codes, used up by the right
// guess whichever challenge it comes to first. A used or unknown code is
// a wrong guess.
type recoveryCode struct{ key []byte }

func (recoveryCode) ready(challengeContext) error { return nil }

func (m recoveryCode) check(ctx context.Context, tx AuthenticatorStore, cc challengeContext, proof string) (bool, error) {
	err := tx.UseRecoveryCode(ctx, cc.ch.CompanyID, cc.ch.UserID, recoveryHash(m.key, cc.ch.UserID, proof), cc.now)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (recoveryCode) settle(*Challenge, bool) {}
