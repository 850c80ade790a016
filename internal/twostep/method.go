package twostep

import "context"

// A proofMethod is one way to prove a challenge's second step. Verify
// asks it three things, and does the rest itself, the same for every
// method: the challenge's own end, approval (once), and one count of
// consecutive failures over every method, with the contact, the lock and
// their audit events.
//
// Today the one method is a code sent by SMS or email (sentCode); an
// authenticator app and recovery codes take their place beside it.
type proofMethod interface {
	// ready refuses a guess that cannot count, before it is checked: a
	// sent code that is void or expired.
	ready(cc challengeContext) error
	// check tells whether proof is right for the challenge.
	check(ctx context.Context, tx Tx, cc challengeContext, proof string) (bool, error)
	// settle writes what the outcome does to the method's own state into
	// next: a right sent code is used up; a wrong one counts against it.
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

func (m sentCode) check(_ context.Context, _ Tx, cc challengeContext, proof string) (bool, error) {
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
